"""BPMN 2.0 XML import: a diagram drawn in a BPMN modeler becomes a definition document.

`bpmn_to_definition` reads what bpmn.io, Camunda Modeler (Camunda 7 and Zeebe / Camunda 8),
Flowable and Signavio export and returns the JSON definition format (docs/definition-format.md)
as a plain dict. It translates; the caller still validates the result as it would any JSON
definition. Anything it cannot translate faithfully is a problem, never silently dropped, and
every problem is reported at once.

| BPMN | definition |
| --- | --- |
| the one executable `process` (isExecutable not "false") | `key` = id, `name` = name (else the pool's name, else the id), `description` = documentation |
| `startEvent` (plain) | `startEvent`; its form becomes the definition's `variables` schema |
| `endEvent` (plain) | `endEvent` |
| `userTask` | `userTask`: assignee, candidateUsers, candidateGroups, priority, dueDate -> `due`, form fields -> `form` (JSON Schema), `multiInstanceLoopCharacteristics` -> `multiInstance` |
| `serviceTask`, `sendTask` | `serviceTask`: the job type / external-task topic -> `action`, input mappings and task headers -> `input`, output mappings -> `output`, Zeebe retries -> `retry.maxAttempts`. All three engines run a send task exactly like a service task. |
| `receiveTask`, message `intermediateCatchEvent` | `receiveTask`: `message` = the referenced message's name |
| `callActivity` | `callActivity`: `calledElement`, a fixed `version`, in/out mappings -> `inputs` / `outputs` |
| exclusive, parallel, inclusive gateway | the gateway of the same name; `default` marks that flow `"default": true` |
| timer `intermediateCatchEvent` | `timer`: timeDuration -> `duration`, timeDate -> `until` (a fixed date as `="<date>"`) |
| timer `boundaryEvent` | `timer` with `attachedTo` and `interrupting` (= cancelActivity) |
| error `boundaryEvent` | `errorBoundary` with `attachedTo` and the referenced error's `errorCode` |
| `sequenceFlow` | flow: id, sourceRef -> `from`, targetRef -> `to`, conditionExpression -> `condition` |
| `documentation` | `documentation` |

Node and flow ids are the BPMN ids. Values: `${x}`, `#{x}` (JUEL) and `=x` (Zeebe) become the
expression `=x`, anything else stays a literal; fields that are always CEL (conditions,
completionCondition, outputs) lose the wrapper only. Expressions are not translated from
JUEL or FEEL: Flowdesk evaluates CEL, so a model meant for it writes CEL inside the wrapper.
Ignored because they do not change how the process runs: diagram interchange (bpmndi),
collaborations, lanes, data objects and stores, text annotations, associations, groups,
flow names (a flow has no name in the format), message correlation keys (Flowdesk delivers
messages by instance id or business key), and extension settings not listed above.
Where Camunda 7 (or Zeebe with propagateAllParentVariables="false") passes no variables to
a called process unless told, Flowdesk passes all of them when a call activity has no input
mappings. Rejected, each by element name and id: every other BPMN element in a process
(sub-processes, script, business rule and manual tasks, other gateways and events, event
definitions other than the ones above, standard loops, multi-instance on anything but a user
task), and settings that would run differently here (Java delegates, scripts, form
references whose fields are not in the document, Zeebe outputElement, copying back all of a
child's variables, deployment or version-tag bindings, repeating timers).
"""

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any, NoReturn
from xml.parsers import expat

from engine.validation import DefinitionInvalid, Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
FLOWABLE = "http://flowable.org/bpmn"
_PREFIXES = {BPMN: "bpmn", CAMUNDA: "camunda", ZEEBE: "zeebe", FLOWABLE: "flowable"}
# Camunda 7 and Flowable both descend from Activiti and spell their extensions alike.
_ACTIVITI_LIKE = (CAMUNDA, FLOWABLE)

# Children of a process that carry no execution semantics.
_IGNORED = frozenset(
    {
        "documentation",
        "extensionElements",
        "laneSet",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "textAnnotation",
        "association",
        "group",
    }
)
# Children any flow node may have without changing how it runs: the flows are read from
# the sequenceFlow elements, data associations only concern the ignored data objects.
_NODE_EXTRAS = frozenset(
    {
        "incoming",
        "outgoing",
        "documentation",
        "extensionElements",
        "ioSpecification",
        "dataInputAssociation",
        "dataOutputAssociation",
        "property",
    }
)
# The children each kind of node understands beyond those; any other is rejected.
_HANDLED = {
    "userTask": frozenset({"multiInstanceLoopCharacteristics", "humanPerformer", "potentialOwner"}),
    "intermediateCatchEvent": frozenset({"timerEventDefinition", "messageEventDefinition"}),
    "boundaryEvent": frozenset({"timerEventDefinition", "errorEventDefinition"}),
}

# A whole-value JUEL expression, as Camunda 7 and Flowable write them.
_JUEL = re.compile(r"^[$#]\{(?P<body>.*)\}$", re.DOTALL)
# A comma that is not inside a ${...} expression, which may hold commas of its own.
_LIST_SEPARATOR = re.compile(r",(?![^{]*\})")
# An entry of a potentialOwner expression: `user(kermit)`, `group(management)`.
_OWNER = re.compile(r"^(?P<kind>user|group)\((?P<name>.*)\)$")

# Camunda 7 / Flowable form field types, and the constraints JSON Schema can say.
_FIELD_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "enum": {"type": "string"},
}
_CONSTRAINTS = {
    "minlength": "minLength",
    "maxlength": "maxLength",
    "min": "minimum",
    "max": "maximum",
}
# Camunda Forms (the JSON forms Zeebe embeds) component types that collect a value.
_COMPONENT_TYPES: dict[str, dict[str, Any]] = {
    "textfield": {"type": "string"},
    "textarea": {"type": "string"},
    "datetime": {"type": "string"},
    "radio": {"type": "string"},
    "select": {"type": "string"},
    "number": {"type": "number"},
    "checkbox": {"type": "boolean"},
    "checklist": {"type": "array", "items": {"type": "string"}},
    "taglist": {"type": "array", "items": {"type": "string"}},
}
_EMBEDDED_FORM = "camunda-forms:bpmn:"

_Built = tuple[str, dict[str, Any]]


class BpmnImportError(DefinitionInvalid):
    """The XML cannot be imported; `problems` lists every reason at once.

    A problem's `path` locates the XML element (`bpmn:userTask[@id='review']`: ids are
    unique within a document) and its `node_id` is that element's id, sequence flows
    included, so that a modeler can select it.
    """


def bpmn_to_definition(xml: str | bytes) -> dict[str, Any]:
    """The definition document (JSON format, `"from"` spelled as in JSON) of a BPMN 2.0 XML
    document; raises BpmnImportError listing every problem."""
    root = _parse(xml)
    importer = _Importer(root)
    definition = importer.definition()
    if importer.problems:
        raise BpmnImportError(importer.problems)
    return definition


def _parse(xml: str | bytes) -> ET.Element:
    try:
        _refuse_doctype(xml)
        root = ET.fromstring(xml)
    except _DoctypeFound:
        message = "a DOCTYPE is not allowed: BPMN needs none, and entities can be an XML bomb"
        raise BpmnImportError([Problem("", message)]) from None
    except (expat.ExpatError, ET.ParseError) as error:
        raise BpmnImportError([Problem("", f"not well-formed XML: {error}")]) from None
    if root.tag != _bpmn("definitions"):
        message = f"not a BPMN 2.0 document: the root element is {_qname(root.tag)}, "
        message += f"not definitions in namespace {BPMN}"
        raise BpmnImportError([Problem("", message)])
    return root


class _DoctypeFound(Exception):
    """The document has a DOCTYPE."""


class _RootReached(Exception):
    """The DOCTYPE scan met the root element: no DOCTYPE can follow."""


def _refuse_doctype(xml: str | bytes) -> None:
    """Raise _DoctypeFound if the document has a DOCTYPE, before ElementTree parses it.

    Entity declarations live only inside a DOCTYPE, and expanding entities is how XML
    bombs work (billion laughs, quadratic blowup, external entities): a BPMN document never
    needs one, so it is refused outright rather than trusting the parser's own limits.
    expat reads the prolog here exactly as it will for real, so no encoding or comment can
    hide a DOCTYPE the way it could from a text search. The scan stops at the root element,
    before which any DOCTYPE must come.
    """
    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = _doctype_found
    scanner.StartElementHandler = _root_reached
    with suppress(_RootReached):
        scanner.Parse(xml, True)


def _doctype_found(*_: object) -> NoReturn:
    raise _DoctypeFound


def _root_reached(*_: object) -> NoReturn:
    raise _RootReached


class _Importer:
    """One document's translation, collecting problems as it goes."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.messages = _by_id(root.findall(_bpmn("message")))
        self.errors = _by_id(root.findall(_bpmn("error")))
        self.forms: dict[str, str] = {}  # the process's embedded Zeebe forms, by id
        self.variables: dict[str, Any] | None = None  # the start form, as a JSON Schema
        # The element being translated: problems point at it.
        self.element = root
        self.builders: dict[str, Callable[[ET.Element], _Built | None]] = {
            "startEvent": self._start_event,
            "endEvent": self._end_event,
            "userTask": self._user_task,
            "serviceTask": self._service_task,
            "sendTask": self._service_task,
            "receiveTask": self._receive_task,
            "callActivity": self._call_activity,
            "exclusiveGateway": self._gateway,
            "parallelGateway": self._gateway,
            "inclusiveGateway": self._gateway,
            "intermediateCatchEvent": self._catch_event,
            "boundaryEvent": self._boundary_event,
        }

    def definition(self) -> dict[str, Any]:
        process = self._executable_process()
        if process is None:
            return {}
        self.forms = {
            form.get("id", ""): form.text or ""
            for form in _extensions(process, (ZEEBE,), "userTaskForm")
        }
        key = process.get("id", "")
        definition: dict[str, Any] = {"key": key, "name": self._process_name(process)}
        _put(definition, "description", _documentation(process))
        nodes: list[dict[str, Any]] = []
        flow_elements: list[ET.Element] = []
        node_ids: set[str] = set()  # rejected ones too: a flow to them is not a second problem
        defaults: dict[str, ET.Element] = {}  # default flow id -> the node it leaves
        for child in process:
            local = _bpmn_local(child)
            # Other namespaces are extensions, which a process may carry anywhere.
            if local is None or local in _IGNORED:
                continue
            if local == "sequenceFlow":
                flow_elements.append(child)
                continue
            node_ids.add(child.get("id", ""))
            if default := child.get("default"):
                defaults[default] = child
            if (node := self._node(child, local)) is not None:
                nodes.append(node)
        _put(definition, "variables", self.variables)
        definition["nodes"] = nodes
        definition["flows"] = self._flows(flow_elements, node_ids, defaults)
        return definition

    def _problem(self, message: str) -> None:
        node_id = None if self.element is self.root else self.element.get("id")
        self.problems.append(Problem(_path(self.element), message, node_id))

    def _executable_process(self) -> ET.Element | None:
        processes = self.root.findall(_bpmn("process"))
        executable = [p for p in processes if p.get("isExecutable") != "false"]
        if len(executable) == 1:
            return executable[0]
        if not executable:
            self._problem(
                'no executable process: the document needs one bpmn:process with isExecutable="true"'
            )
        else:
            ids = ", ".join(repr(process.get("id")) for process in executable)
            self._problem(
                f"{len(executable)} executable processes ({ids}): a definition is one "
                'process; set isExecutable="false" on the others'
            )
        return None

    def _process_name(self, process: ET.Element) -> str:
        """The process's name, else its pool's (modelers often name only the pool), else its id."""
        if name := process.get("name"):
            return name
        key = process.get("id", "")
        for participant in self.root.iterfind(_steps(BPMN, "collaboration", "participant")):
            if participant.get("processRef") == key and (name := participant.get("name")):
                return name
        return key

    # Nodes

    def _node(self, element: ET.Element, local: str) -> dict[str, Any] | None:
        self.element = element
        builder = self.builders.get(local)
        if builder is None:
            self._problem(f"unsupported element bpmn:{local} {element.get('id')!r}")
            return None
        node_id = element.get("id")
        if not node_id:
            self._problem(f"bpmn:{local} has no id")
            return None
        self._check_children(element, _HANDLED.get(local, frozenset()))
        built = builder(element)
        if built is None:
            return None
        node_type, fields = built
        node: dict[str, Any] = {"id": node_id, "type": node_type}
        _put(node, "name", element.get("name"))
        _put(node, "documentation", _documentation(element))
        return node | fields

    def _check_children(self, element: ET.Element, handled: frozenset[str]) -> None:
        for child in element:
            local = _bpmn_local(child)
            if local is not None and local not in _NODE_EXTRAS and local not in handled:
                self._problem(
                    f"unsupported element bpmn:{local} in {_qname(element.tag)} "
                    f"{element.get('id')!r}"
                )

    def _start_event(self, element: ET.Element) -> _Built:
        # A start form says which variables an instance starts with.
        self.variables = self._form(element)
        return "startEvent", {}

    def _end_event(self, element: ET.Element) -> _Built:
        return "endEvent", {}

    def _gateway(self, element: ET.Element) -> _Built:
        return _bpmn_local(element) or "", {}

    def _user_task(self, element: ET.Element) -> _Built:
        task: dict[str, Any] = {}
        assignee = _attr(element, "assignee") or _zeebe_attr(
            element, "assignmentDefinition", "assignee"
        )
        performer = _formal_expressions(element, "humanPerformer")
        if assignee or performer:
            task["assignee"] = self._value(assignee or performer[0])
        owner_users, owner_groups = self._potential_owners(element)
        for field, owners in (("candidateUsers", owner_users), ("candidateGroups", owner_groups)):
            text = _attr(element, field) or _zeebe_attr(element, "assignmentDefinition", field)
            _put(task, field, self._list(text or "") + owners)
        priority = _attr(element, "priority") or _zeebe_attr(
            element, "priorityDefinition", "priority"
        )
        if priority:
            task["priority"] = _integer_or_text(self._value(priority))
        due = _attr(element, "dueDate") or _zeebe_attr(element, "taskSchedule", "dueDate")
        if due:
            task["due"] = self._value(due)
        _put(task, "form", self._form(element))
        loop = element.find(_bpmn("multiInstanceLoopCharacteristics"))
        if loop is not None:
            task["multiInstance"] = self._multi_instance(loop)
        return "userTask", task

    def _potential_owners(self, element: ET.Element) -> tuple[list[str], list[str]]:
        """Candidates in the plain standard's way: `user(a), group(b)`; a bare name is a
        group, as Camunda 7 and Flowable read it."""
        users: list[str] = []
        groups: list[str] = []
        for text in _formal_expressions(element, "potentialOwner"):
            for item in _split(text):
                match = _OWNER.match(item)
                kind, name = (match["kind"], match["name"]) if match else ("group", item)
                (users if kind == "user" else groups).append(self._value(name))
        return users, groups

    def _multi_instance(self, loop: ET.Element) -> dict[str, Any]:
        zeebe = _extension(loop, (ZEEBE,), "loopCharacteristics")
        if zeebe is not None:
            collection = zeebe.get("inputCollection")
            element_variable = zeebe.get("inputElement")
            output = zeebe.get("outputCollection")
            if zeebe.get("outputElement"):
                self._problem(
                    "zeebe:loopCharacteristics outputElement has no equivalent: Flowdesk "
                    "collects each task's completion variables into outputCollection"
                )
        else:
            collection = _attr(loop, "collection")
            element_variable = _attr(loop, "elementVariable")
            output = None
        multi: dict[str, Any] = {}
        if collection:
            # With a collection, its size is the count: a loopCardinality adds nothing.
            multi["collection"] = self._collection(collection)
        else:
            cardinality = loop.find(_bpmn("loopCardinality")) is not None
            what = "a loopCardinality alone" if cardinality else "nothing"
            self._problem(
                f"multi-instance over {what} is not supported: give the collection to loop "
                "over (camunda:collection, flowable:collection or zeebe inputCollection)"
            )
        _put(multi, "elementVariable", element_variable)
        multi["sequential"] = loop.get("isSequential") == "true"
        _put(multi, "completionCondition", self._cel_child(loop, "completionCondition"))
        _put(multi, "outputCollection", output)
        return multi

    def _service_task(self, element: ET.Element) -> _Built:
        task: dict[str, Any] = {}
        definition = _extension(element, (ZEEBE,), "taskDefinition")
        topic = _attr(element, "topic")
        if definition is not None and definition.get("type"):
            task["action"] = definition.get("type")
        elif _attr(element, "type") in ("external", "external-worker") and topic:
            task["action"] = topic
        else:
            self._problem(
                "names no action: give it a zeebe:taskDefinition type, or "
                'camunda:type="external" (flowable:type="external-worker") and a topic; '
                "Java delegates, expressions and connectors cannot run in Flowdesk"
            )
        _put(task, "input", self._service_inputs(element))
        outputs = self._zeebe_outputs(element)
        for parameter in _extensions(element, (CAMUNDA,), "inputOutput", "outputParameter"):
            outputs[parameter.get("name", "")] = self._cel(parameter.text or "")
        _put(task, "output", outputs)
        retries = definition.get("retries") if definition is not None else None
        if retries:
            if retries.isdigit():
                task["retry"] = {"maxAttempts": int(retries)}
            else:
                self._problem(f"zeebe:taskDefinition retries {retries!r} is not a number")
        return "serviceTask", task

    def _service_inputs(self, element: ET.Element) -> dict[str, Any]:
        """Task headers (static settings for the worker), then input mappings, as the
        action's `input`."""
        inputs: dict[str, Any] = {
            header.get("key", ""): header.get("value", "")
            for header in _extensions(element, (ZEEBE,), "taskHeaders", "header")
        }
        inputs |= self._zeebe_inputs(element)
        for parameter in _extensions(element, (CAMUNDA,), "inputOutput", "inputParameter"):
            inputs[parameter.get("name", "")] = self._parameter(parameter)
        return inputs

    def _parameter(self, parameter: ET.Element) -> Any:
        """A Camunda 7 input parameter's value: text, or a camunda:list or camunda:map."""
        for child in parameter:
            if child.tag == f"{{{CAMUNDA}}}list":
                return [self._parameter(value) for value in child]
            if child.tag == f"{{{CAMUNDA}}}map":
                return {entry.get("key", ""): self._parameter(entry) for entry in child}
            if child.tag == f"{{{CAMUNDA}}}script":
                self._problem(f"input parameter {parameter.get('name')!r}: scripts cannot run")
                return None
        text = (parameter.text or "").strip()
        return self._value(text) if text else None

    def _zeebe_inputs(self, element: ET.Element) -> dict[str, Any]:
        return {
            mapping.get("target", ""): self._value(mapping.get("source", ""))
            for mapping in _extensions(element, (ZEEBE,), "ioMapping", "input")
        }

    def _zeebe_outputs(self, element: ET.Element) -> dict[str, Any]:
        return {
            mapping.get("target", ""): self._cel(mapping.get("source", ""))
            for mapping in _extensions(element, (ZEEBE,), "ioMapping", "output")
        }

    def _receive_task(self, element: ET.Element) -> _Built | None:
        message = self._message_name(element.get("messageRef"))
        return None if message is None else ("receiveTask", {"message": message})

    def _message_name(self, ref: str | None) -> str | None:
        message = self.messages.get(ref) if ref else None
        if message is None:
            self._problem(
                f"refers to message {ref!r}, which the document does not define"
                if ref
                else "waits for no message: give it a messageRef"
            )
            return None
        name = message.get("name")
        if not name:
            self._problem(f"message {ref!r} has no name")
        return name

    def _call_activity(self, element: ET.Element) -> _Built:
        zeebe = _extension(element, (ZEEBE,), "calledElement")
        called = zeebe.get("processId") if zeebe is not None else element.get("calledElement")
        if not called:
            self._problem("calls nothing: give it a calledElement")
        call: dict[str, Any] = {"calledElement": called}
        _put(call, "version", self._called_version(element, zeebe))
        if zeebe is not None:
            if zeebe.get("propagateAllChildVariables") == "true":
                self._problem(
                    "propagateAllChildVariables has no equivalent: Flowdesk copies back "
                    "only the output mappings"
                )
            inputs, outputs = self._zeebe_inputs(element), self._zeebe_outputs(element)
        else:
            inputs, outputs = self._call_inputs(element), self._call_outputs(element)
        _put(call, "inputs", inputs)
        _put(call, "outputs", outputs)
        return "callActivity", call

    def _called_version(self, element: ET.Element, zeebe: ET.Element | None) -> int | None:
        binding = _attr(element, "calledElementBinding")
        if zeebe is not None:
            binding = zeebe.get("bindingType")
        if binding in (None, "latest"):
            return None
        version = _attr(element, "calledElementVersion") or ""
        if binding != "version":
            self._problem(
                f"called element binding {binding!r} is not supported: Flowdesk calls "
                "the latest version or a fixed version number"
            )
        elif not version.isdigit():
            self._problem(f"calledElementVersion {version!r} is not a version number")
        else:
            return int(version)
        return None

    def _call_inputs(self, element: ET.Element) -> dict[str, Any]:
        """camunda:in / flowable:in; no inputs means every variable, `variables="all"` too."""
        inputs: dict[str, Any] = {}
        mappings = _extensions(element, _ACTIVITI_LIKE, "in")
        passes_all = any(mapping.get("variables") == "all" for mapping in mappings)
        for mapping in mappings:
            if mapping.get("variables") == "all":
                continue
            target = mapping.get("target")
            if passes_all:
                self._problem('an input mapping cannot be combined with variables="all"')
            elif target and (source := mapping.get("source")):
                inputs[target] = "=" + source
            elif target and (expression := mapping.get("sourceExpression")):
                inputs[target] = self._value(expression)
            else:
                self._problem(f"{_qname(mapping.tag)} needs a target and a source")
        return inputs

    def _call_outputs(self, element: ET.Element) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for mapping in _extensions(element, _ACTIVITI_LIKE, "out"):
            target = mapping.get("target")
            if target and (source := mapping.get("source")):
                outputs[target] = source
            elif target and (expression := mapping.get("sourceExpression")):
                outputs[target] = self._cel(expression)
            else:
                self._problem(
                    f"{_qname(mapping.tag)} needs a target and a source: Flowdesk copies "
                    "back only the variables it names"
                )
        return outputs

    def _catch_event(self, element: ET.Element) -> _Built | None:
        definition = self._event_definition(element)
        kind = _bpmn_local(definition) if definition is not None else None
        if definition is None:
            return None
        if kind == "timerEventDefinition":
            return "timer", self._timer(definition)
        if kind == "messageEventDefinition":
            # Waiting for a message is what a receive task does.
            message = self._message_name(definition.get("messageRef"))
            return None if message is None else ("receiveTask", {"message": message})
        return None  # an unsupported definition is reported by the children check

    def _boundary_event(self, element: ET.Element) -> _Built | None:
        definition = self._event_definition(element)
        kind = _bpmn_local(definition) if definition is not None else None
        attached = element.get("attachedToRef")
        if not attached:
            self._problem("is attached to nothing: give it an attachedToRef")
        interrupting = element.get("cancelActivity") != "false"
        if definition is None:
            return None
        if kind == "timerEventDefinition":
            timer = self._timer(definition)
            return "timer", timer | {"attachedTo": attached, "interrupting": interrupting}
        if kind == "errorEventDefinition":
            if not interrupting:
                self._problem("an error boundary event always interrupts (cancelActivity)")
            boundary: dict[str, Any] = {"attachedTo": attached}
            _put(boundary, "errorCode", self._error_code(definition.get("errorRef")))
            return "errorBoundary", boundary
        return None  # an unsupported definition is reported by the children check

    def _event_definition(self, element: ET.Element) -> ET.Element | None:
        definitions = [
            child for child in element if (_bpmn_local(child) or "").endswith("EventDefinition")
        ]
        if len(definitions) != 1:
            self._problem(f"needs exactly one event definition, not {len(definitions)}")
            return None
        return definitions[0]

    def _timer(self, definition: ET.Element) -> dict[str, Any]:
        duration = definition.find(_bpmn("timeDuration"))
        if duration is not None and (text := (duration.text or "").strip()):
            return {"duration": self._value(text)}
        date = definition.find(_bpmn("timeDate"))
        if date is not None and (text := (date.text or "").strip()):
            until = self._value(text)
            # `until` is always an expression: a fixed date becomes a CEL string literal
            # (JSON's escapes are CEL's).
            return {"until": until if until.startswith("=") else "=" + json.dumps(until)}
        if definition.find(_bpmn("timeCycle")) is not None:
            self._problem("a repeating timer (timeCycle) is not supported")
        else:
            self._problem("the timer needs a timeDuration or a timeDate")
        return {}

    def _error_code(self, ref: str | None) -> str | None:
        """The caught error's code; None (catch every error) without an errorRef or a code."""
        if ref is None:
            return None
        error = self.errors.get(ref)
        if error is None:
            self._problem(f"refers to error {ref!r}, which the document does not define")
            return None
        return error.get("errorCode")

    # Forms

    def _form(self, element: ET.Element) -> dict[str, Any] | None:
        """The form of a task or start event as a JSON Schema, in whichever flavour it is."""
        fields = _extensions(element, (CAMUNDA,), "formData", "formField")
        fields += _extensions(element, _ACTIVITI_LIKE, "formProperty")
        if fields:
            return self._fields_schema(fields)
        zeebe = _extension(element, (ZEEBE,), "formDefinition")
        reference = _attr(element, "formKey") or _attr(element, "formRef")
        if zeebe is not None:
            key = zeebe.get("formKey", "")
            if key.startswith(_EMBEDDED_FORM) and (
                form := self.forms.get(key.removeprefix(_EMBEDDED_FORM))
            ):
                return self._camunda_form(form)
            reference = key or zeebe.get("formId") or zeebe.get("externalReference")
        if reference:
            # Without the fields, completions would go unchecked.
            self._problem(
                f"form {reference!r} is not in the document: describe its fields "
                "(camunda:formData, flowable:formProperty or an embedded Camunda form)"
            )
        return None

    def _fields_schema(self, fields: list[ET.Element]) -> dict[str, Any]:
        """camunda:formField and camunda: / flowable:formProperty."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in fields:
            name = field.get("id", "")
            # A custom type (a Java form type) accepts any value.
            schema = dict(_FIELD_TYPES.get(field.get("type", "string"), {}))
            _put(schema, "title", field.get("label") or field.get("name"))
            values = [value.get("id", "") for value in field if _strip_ns(value.tag) == "value"]
            _put(schema, "enum", values)
            default = field.get("defaultValue") or field.get("default")
            if default is not None:
                schema["default"] = self._typed(default, schema.get("type"), name)
            if field.get("required") == "true" or self._constrain(field, schema):
                required.append(name)
            properties[name] = schema
        return _object_schema(properties, required)

    def _constrain(self, field: ET.Element, schema: dict[str, Any]) -> bool:
        """Adds a camunda:formField's constraints to its schema; True when it is required."""
        required = False
        for constraint in field.iterfind(_steps(CAMUNDA, "validation", "constraint")):
            name, config = constraint.get("name", ""), constraint.get("config", "")
            if name == "required":
                required = True
            elif name == "readonly":
                schema["readOnly"] = True
            elif name in _CONSTRAINTS:
                schema[_CONSTRAINTS[name]] = self._typed(config, "number", field.get("id", ""))
            else:
                self._problem(
                    f"form field {field.get('id')!r}: constraint {name!r} cannot be checked"
                )
        return required

    def _typed(self, text: str, json_type: object, field: str) -> Any:
        try:
            if json_type == "integer":
                return int(text)
            if json_type == "number":
                number = float(text)
                return int(number) if number.is_integer() else number
        except ValueError:
            self._problem(f"form field {field!r}: {text!r} is not a {json_type}")
            return None
        if json_type == "boolean" and text.lower() not in ("true", "false"):
            self._problem(f"form field {field!r}: {text!r} is not a boolean")
            return None
        return text.lower() == "true" if json_type == "boolean" else text

    def _camunda_form(self, text: str) -> dict[str, Any] | None:
        """A Camunda Forms JSON document, as Zeebe embeds it, as a JSON Schema."""
        try:
            form = json.loads(text)
        except json.JSONDecodeError as error:
            self._problem(f"the embedded form is not JSON: {error}")
            return None
        properties: dict[str, Any] = {}
        required: list[str] = []
        for component in _components(form):
            key, kind = component.get("key"), component.get("type")
            if not isinstance(key, str) or kind == "button":
                continue  # layout, text and buttons collect no value
            schema = dict(_COMPONENT_TYPES.get(str(kind), {}))  # any value for other kinds
            _put(schema, "title", component.get("label"))
            values = component.get("values")
            if kind in ("radio", "select") and isinstance(values, list):
                _put(schema, "enum", [v.get("value") for v in values if isinstance(v, dict)])
            _put(schema, "default", component.get("defaultValue"))
            validate = component.get("validate")
            if isinstance(validate, dict) and validate.get("required") is True:
                required.append(key)
            properties[key] = schema
        return _object_schema(properties, required)

    # Flows

    def _flows(
        self, elements: list[ET.Element], node_ids: set[str], defaults: dict[str, ET.Element]
    ) -> list[dict[str, Any]]:
        flows = [self._flow(element, node_ids) for element in elements]
        by_id = {flow.get("id"): flow for flow in flows}
        for flow_id, source in defaults.items():
            flow = by_id.get(flow_id)
            if flow is not None and flow["from"] == source.get("id"):
                flow["default"] = True
            else:
                self.element = source
                self._problem(f"the default flow {flow_id!r} is not a sequence flow leaving it")
        return flows

    def _flow(self, element: ET.Element, node_ids: set[str]) -> dict[str, Any]:
        self.element = element
        flow: dict[str, Any] = {}
        _put(flow, "id", element.get("id"))
        for attribute, field, verb in (
            ("sourceRef", "from", "leaves"),
            ("targetRef", "to", "enters"),
        ):
            ref = element.get(attribute)
            if not ref:
                self._problem(f"the sequence flow has no {attribute}")
            elif ref not in node_ids:
                self._problem(f"the sequence flow {verb} {ref!r}, which is not in the process")
            flow[field] = ref
        _put(flow, "condition", self._cel_child(element, "conditionExpression"))
        return flow

    # Values

    def _value(self, text: str) -> str:
        """A setting as the format writes it: `${x}`, `#{x}` and `=x` become `=x`; anything
        else stays the literal it is."""
        text = text.strip()
        body = self._expression_body(text)
        return text if body is None else "=" + body

    def _cel(self, text: str) -> str:
        """A field that is always CEL (conditions, outputs): the expression, unwrapped."""
        text = text.strip()
        body = self._expression_body(text)
        return text if body is None else body

    def _cel_child(self, element: ET.Element, child: str) -> str | None:
        found = element.find(_bpmn(child))
        text = (found.text or "").strip() if found is not None else ""
        return self._cel(text) if text else None

    def _collection(self, text: str) -> str:
        value = self._value(text)
        # Camunda 7 and Flowable read a plain collection as the name of a variable.
        return value if value.startswith("=") else "=" + value

    def _list(self, text: str) -> list[str]:
        return [self._value(item) for item in _split(text)]

    def _expression_body(self, text: str) -> str | None:
        """The expression inside `=...`, `${...}` or `#{...}`; None for a literal."""
        if text.startswith("="):
            return text[1:].strip()
        match = _JUEL.match(text)
        if match and "${" not in match["body"] and "#{" not in match["body"]:
            return match["body"].strip()
        if "${" in text or "#{" in text:
            self._problem(
                f"{text!r} mixes text and expressions: write one expression, "
                "such as ${'Dear ' + name}"
            )
        return None


# Helpers over elements


def _bpmn(local: str) -> str:
    return _steps(BPMN, local)


def _steps(namespace: str, *steps: str) -> str:
    """An ElementTree path whose every step is in `namespace`."""
    return "/".join(f"{{{namespace}}}{step}" for step in steps)


def _strip_ns(tag: str) -> str:
    return tag.rpartition("}")[2]


def _bpmn_local(element: ET.Element) -> str | None:
    """The local name of an element in the BPMN namespace, else None."""
    return _strip_ns(element.tag) if element.tag.startswith(f"{{{BPMN}}}") else None


def _qname(tag: str) -> str:
    """`bpmn:userTask` for a tag in a namespace we know (whatever prefix the document
    chose), the tag as ElementTree spells it otherwise."""
    namespace, _, local = tag[1:].rpartition("}")
    prefix = _PREFIXES.get(namespace)
    return f"{prefix}:{local}" if prefix else tag


def _path(element: ET.Element) -> str:
    element_id = element.get("id")
    return f"{_qname(element.tag)}[@id='{element_id}']" if element_id else _qname(element.tag)


def _by_id(elements: list[ET.Element]) -> dict[str, ET.Element]:
    return {element.get("id", ""): element for element in elements}


def _attr(element: ET.Element, name: str) -> str | None:
    """A Camunda 7 or Flowable extension attribute."""
    for namespace in _ACTIVITI_LIKE:
        if (value := element.get(f"{{{namespace}}}{name}")) is not None:
            return value
    return None


def _extensions(element: ET.Element, namespaces: tuple[str, ...], *steps: str) -> list[ET.Element]:
    """The extension elements at the path `steps`, spelled in any of `namespaces`."""
    found: list[ET.Element] = []
    for namespace in namespaces:
        found += element.findall(f"{_bpmn('extensionElements')}/{_steps(namespace, *steps)}")
    return found


def _extension(element: ET.Element, namespaces: tuple[str, ...], *steps: str) -> ET.Element | None:
    found = _extensions(element, namespaces, *steps)
    return found[0] if found else None


def _zeebe_attr(element: ET.Element, extension: str, name: str) -> str | None:
    found = _extension(element, (ZEEBE,), extension)
    return found.get(name) if found is not None else None


def _formal_expressions(element: ET.Element, role: str) -> list[str]:
    """The texts of a resource role (humanPerformer, potentialOwner) of a task."""
    path = _steps(BPMN, role, "resourceAssignmentExpression", "formalExpression")
    return [text for found in element.iterfind(path) if (text := (found.text or "").strip())]


def _documentation(element: ET.Element) -> str | None:
    texts = [(doc.text or "").strip() for doc in element.findall(_bpmn("documentation"))]
    return "\n\n".join(text for text in texts if text) or None


def _split(text: str) -> list[str]:
    """A comma-separated list of names or expressions; a Zeebe `=` expression is one item."""
    if text.strip().startswith("="):
        return [text.strip()]
    return [item.strip() for item in _LIST_SEPARATOR.split(text) if item.strip()]


def _integer_or_text(value: str) -> int | str:
    return int(value) if re.fullmatch(r"-?\d+", value) else value


def _components(form: Any) -> Iterator[dict[str, Any]]:
    """Every component of a Camunda Forms document, those inside groups included."""
    children = form.get("components") if isinstance(form, dict) else None
    for component in children if isinstance(children, list) else []:
        if isinstance(component, dict):
            yield component
            yield from _components(component)


def _object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    _put(schema, "required", required)
    return schema


def _put(target: dict[str, Any], key: str, value: object) -> None:
    """Set `key` unless the value is absent or empty: the format omits what is not said."""
    if value is not None and value != "" and value != [] and value != {}:
        target[key] = value
