"""The extension settings of Camunda 7, Zeebe, Flowable (and Activiti) and SpiffWorkflow that
the import does not carry over: each is a warning naming the element, so nothing an author
wrote is dropped without a word. Settings that only tune how the other engine runs (its
history retention, its transaction boundaries, its job executor) change nothing here, since
every Flowdesk step is durable, and are passed over in silence.

What the other modules read is listed here beside what is known to have no effect; any
other attribute or extension element in those namespaces is warned about.
"""

import xml.etree.ElementTree as ET
from collections.abc import Callable

from engine.bpmn_xml import ACTIVITI_LIKE, SPIFF, ZEEBE, bpmn_tag, qname, strip_ns

# Camunda 7 / Flowable attributes the import reads, by element.
_READ_ATTRIBUTES: dict[str, frozenset[str]] = {
    "process": frozenset({"candidateStarterUsers", "candidateStarterGroups"}),
    "startEvent": frozenset({"formKey", "formRef", "formRefBinding", "formRefVersion"}),
    "userTask": frozenset(
        {
            "assignee",
            "candidateUsers",
            "candidateGroups",
            "priority",
            "dueDate",
            "formKey",
            "formRef",
            "formRefBinding",
            "formRefVersion",
        }
    ),
    "serviceTask": frozenset(
        {
            "class",
            "delegateExpression",
            "expression",
            "resultVariable",
            "resultVariableName",
            "type",
            "topic",
        }
    ),
    "multiInstanceLoopCharacteristics": frozenset({"collection", "elementVariable"}),
    "callActivity": frozenset({"calledElementBinding", "calledElementVersion"}),
}
_READ_ATTRIBUTES["sendTask"] = _READ_ATTRIBUTES["serviceTask"]
# Attributes that tune the other engine only.
_NO_EFFECT_ATTRIBUTES = frozenset(
    {
        "historyTimeToLive",
        "versionTag",
        "isStartableInTasklist",
        "asyncBefore",
        "asyncAfter",
        "async",
        "exclusive",
        "jobPriority",
        "taskPriority",
        "modelerTemplate",
        "modelerTemplateVersion",
        "modelerTemplateIcon",
        "formFieldValidation",
        "isForCompensation",
    }
)
# Extension elements the import reads (or refuses by name), by element: `activiti:` stands
# for Camunda 7's, Flowable's and Activiti's alike.
_FORMS = frozenset({"activiti:formData", "activiti:formProperty", "zeebe:formDefinition"})
_READ_ELEMENTS: dict[str, frozenset[str]] = {
    "process": frozenset({"zeebe:userTaskForm"}),
    "startEvent": _FORMS | {"zeebe:ioMapping"},
    "userTask": _FORMS
    | {
        "zeebe:assignmentDefinition",
        "zeebe:priorityDefinition",
        "zeebe:taskSchedule",
        # A user task's flavour: Flowdesk has one kind of user task.
        "zeebe:userTask",
    },
    "serviceTask": frozenset(
        {
            "activiti:inputOutput",
            "activiti:field",
            "activiti:connector",
            "zeebe:taskDefinition",
            "zeebe:ioMapping",
            "zeebe:taskHeaders",
            "spiffworkflow:serviceTaskOperator",
        }
    ),
    "callActivity": frozenset(
        {"activiti:in", "activiti:out", "zeebe:calledElement", "zeebe:ioMapping"}
    ),
    "multiInstanceLoopCharacteristics": frozenset({"zeebe:loopCharacteristics"}),
}
_READ_ELEMENTS["sendTask"] = _READ_ELEMENTS["serviceTask"]
_NO_EFFECT_ELEMENTS = frozenset({"failedJobRetryTimeCycle", "versionTag", "historyTimeToLive"})
_LISTENERS = {
    "taskListener": "a task listener",
    "executionListener": "an execution listener",
}
_ZEEBE_LISTENERS = {
    "taskListeners": "task listeners",
    "executionListeners": "execution listeners",
}
_NAMESPACES = (*ACTIVITI_LIKE, ZEEBE, SPIFF)
# What to do instead, for the settings people most often rely on.
_HINTS = {
    "taskCompleterVariableName": "the task's history records who completed it",
    "initiator": "the instance records who started it (startedBy)",
    "skipExpression": "route around the task with an exclusive gateway",
}


def check_extensions(
    element: ET.Element,
    local: str,
    warn: Callable[[str], None],
    refuse: Callable[[str], None],
) -> None:
    """Warn about each extension attribute and element of `element` (a BPMN element of kind
    `local`) that the import does not carry over; refuse SpiffWorkflow's scripts, which
    change variables and cannot run here."""
    read = _READ_ATTRIBUTES.get(local, frozenset())
    for name, value in element.attrib.items():
        namespace, _, attribute = name[1:].rpartition("}")
        if not name.startswith("{") or namespace not in _NAMESPACES:
            continue
        if namespace in ACTIVITI_LIKE and (attribute in read or attribute in _NO_EFFECT_ATTRIBUTES):
            continue
        hint = _HINTS.get(attribute, "Flowdesk has no equivalent")
        warn(f"{qname(name)}={value!r} is ignored: {hint}")
    extensions = element.find(bpmn_tag("extensionElements"))
    read = _READ_ELEMENTS.get(local, frozenset())
    for child in extensions if extensions is not None else ():
        namespace, _, _ = child.tag[1:].rpartition("}")
        tag = strip_ns(child.tag)
        if namespace not in _NAMESPACES:
            continue
        spelled = f"activiti:{tag}" if namespace in ACTIVITI_LIKE else qname(child.tag)
        if namespace in ACTIVITI_LIKE and tag in _LISTENERS:
            event = child.get("event")
            warn(
                f"{_LISTENERS[tag]} ({qname(child.tag)}"
                + (f" on {event!r}" if event else "")
                + ") is not run: Flowdesk runs no Java code; model its work as a service task"
            )
        elif namespace == ZEEBE and tag in _ZEEBE_LISTENERS:
            warn(
                f"{_ZEEBE_LISTENERS[tag]} ({qname(child.tag)}) are not run: Flowdesk has no "
                "listeners; model their work as a service task"
            )
        elif namespace == SPIFF and tag in ("preScript", "postScript"):
            refuse(
                f"a {qname(child.tag)} cannot run in Flowdesk: do its work in a service "
                "task's action (a Python action registered under flowdesk.actions)"
            )
        elif spelled not in read and tag not in _NO_EFFECT_ELEMENTS:
            warn(f"{qname(child.tag)} is ignored: Flowdesk has no equivalent")
