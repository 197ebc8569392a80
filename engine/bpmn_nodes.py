"""The node each kind of BPMN flow node becomes: events, tasks, call activities and gateways,
with the Camunda 7, Zeebe and Flowable settings each understands (engine.bpmn lists them)."""

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from engine.bpmn_bindings import REST_CONNECTOR, BindingReader
from engine.bpmn_extensions import check_extensions
from engine.bpmn_forms import form_schema
from engine.bpmn_reader import put, split_list
from engine.bpmn_xml import (
    ACTIVITI_LIKE,
    CAMUNDA,
    ZEEBE,
    activiti_attr,
    bpmn_local,
    bpmn_tag,
    by_id,
    documentation,
    extension_element,
    extension_elements,
    formal_expressions,
    qname,
    zeebe_attr,
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
    "endEvent": frozenset({"terminateEventDefinition", "errorEventDefinition"}),
    "scriptTask": frozenset({"script"}),
}

# An entry of a potentialOwner expression: `user(kermit)`, `group(management)`.
_OWNER = re.compile(r"^(?P<kind>user|group)\((?P<name>.*)\)$")

_Built = tuple[str, dict[str, Any]]


class NodeReader(BindingReader):
    """Builds each flow node of the document's process, by kind."""

    def __init__(self, root: ET.Element) -> None:
        super().__init__(root)
        self.messages = by_id(root.findall(bpmn_tag("message")))
        self.errors = by_id(root.findall(bpmn_tag("error")))
        self.forms: dict[str, str] = {}  # the process's embedded Zeebe forms, by id
        self.variables: dict[str, Any] | None = None  # the start form, as a JSON Schema
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
            "task": self._pass_through,
            "manualTask": self._pass_through,
            "intermediateThrowEvent": self._pass_through,
            "scriptTask": self._script_task,
        }

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
        check_extensions(element, local, self._warning, self._problem)
        loop = element.find(bpmn_tag("multiInstanceLoopCharacteristics"))
        if loop is not None:
            check_extensions(loop, "multiInstanceLoopCharacteristics", self._warning, self._problem)
        node_type, fields = built
        node: dict[str, Any] = {"id": node_id, "type": node_type}
        put(node, "name", element.get("name"))
        put(node, "documentation", documentation(element))
        return node | fields

    def _check_children(self, element: ET.Element, handled: frozenset[str]) -> None:
        for child in element:
            local = bpmn_local(child)
            if local is not None and local not in _NODE_EXTRAS and local not in handled:
                self._problem(
                    f"unsupported element bpmn:{local} in {qname(element.tag)} "
                    f"{element.get('id')!r}"
                )

    def _start_event(self, element: ET.Element) -> _Built:
        if extension_element(element, (ZEEBE,), "ioMapping") is not None:
            self._problem(
                "zeebe:ioMapping on a start event has no equivalent: map the variables in "
                "the input of the first task"
            )
        # A start form says which variables an instance starts with.
        self.variables = form_schema(element, self.forms, self._problem)
        return "startEvent", {}

    def _end_event(self, element: ET.Element) -> _Built:
        terminate = element.find(bpmn_tag("terminateEventDefinition"))
        error = element.find(bpmn_tag("errorEventDefinition"))
        if terminate is not None and error is not None:
            self._problem("an end event terminates or throws an error, not both")
        if terminate is not None:
            return "endEvent", {"terminate": True}
        if error is not None:
            return "endEvent", self._error_end(error)
        return "endEvent", {}

    def _error_end(self, definition: ET.Element) -> dict[str, Any]:
        """The code an error end event throws, which the catching errorBoundary matches."""
        ref = definition.get("errorRef")
        if ref is None:
            self._problem("an error end event needs an errorRef to an error with an errorCode")
            return {}
        if ref in self.errors and not self.errors[ref].get("errorCode"):
            self._problem(f"error {ref!r} has no errorCode: an error end throws a code")
            return {}
        code = self._error_code(ref)
        return {} if code is None else {"errorCode": code}

    def _pass_through(self, element: ET.Element) -> _Built:
        """A plain or manual task, or an intermediate throw event without a definition:
        nothing for Flowdesk to run. A throw event's definition (message, signal...) is a
        child the children check reports."""
        return "task", {}

    def _gateway(self, element: ET.Element) -> _Built:
        return bpmn_local(element) or "", {}

    def _user_task(self, element: ET.Element) -> _Built:
        task: dict[str, Any] = {}
        assignee = activiti_attr(element, "assignee") or zeebe_attr(
            element, "assignmentDefinition", "assignee"
        )
        performer = formal_expressions(element, "humanPerformer")
        if assignee or performer:
            task["assignee"] = self._value(assignee or performer[0])
        owner_users, owner_groups = self._potential_owners(element)
        for field, owners in (("candidateUsers", owner_users), ("candidateGroups", owner_groups)):
            text = activiti_attr(element, field) or zeebe_attr(
                element, "assignmentDefinition", field
            )
            put(task, field, self._list(text or "") + owners)
        priority = activiti_attr(element, "priority") or zeebe_attr(
            element, "priorityDefinition", "priority"
        )
        if priority:
            task["priority"] = _integer_or_text(self._value(priority))
        due = activiti_attr(element, "dueDate") or zeebe_attr(element, "taskSchedule", "dueDate")
        if due:
            task["due"] = self._value(due)
        put(task, "form", form_schema(element, self.forms, self._problem))
        loop = element.find(bpmn_tag("multiInstanceLoopCharacteristics"))
        if loop is not None:
            task["multiInstance"] = self._multi_instance(loop)
        return "userTask", task

    def _potential_owners(self, element: ET.Element) -> tuple[list[str], list[str]]:
        """Candidates in the plain standard's way: `user(a), group(b)`; a bare name is a
        group, as Camunda 7 and Flowable read it."""
        users: list[str] = []
        groups: list[str] = []
        for text in formal_expressions(element, "potentialOwner"):
            for item in split_list(text):
                match = _OWNER.match(item)
                kind, name = (match["kind"], match["name"]) if match else ("group", item)
                (users if kind == "user" else groups).append(self._value(name))
        return users, groups

    def _multi_instance(self, loop: ET.Element) -> dict[str, Any]:
        zeebe = extension_element(loop, (ZEEBE,), "loopCharacteristics")
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
            collection = activiti_attr(loop, "collection")
            element_variable = activiti_attr(loop, "elementVariable")
            output = None
        multi: dict[str, Any] = {}
        if collection:
            # With a collection, its size is the count: a loopCardinality adds nothing.
            multi["collection"] = self._collection(collection)
        else:
            cardinality = loop.find(bpmn_tag("loopCardinality")) is not None
            what = "a loopCardinality alone" if cardinality else "nothing"
            self._problem(
                f"multi-instance over {what} is not supported: give the collection to loop "
                "over (camunda:collection, flowable:collection or zeebe inputCollection)"
            )
        put(multi, "elementVariable", element_variable)
        multi["sequential"] = loop.get("isSequential") == "true"
        put(multi, "completionCondition", self._cel_child(loop, "completionCondition"))
        put(multi, "outputCollection", output)
        return multi

    def _service_task(self, element: ET.Element) -> _Built:
        task: dict[str, Any] = {}
        put(task, "action", self._action(element))
        inputs = self._service_inputs(element)
        connector = zeebe_attr(element, "taskDefinition", "type") == REST_CONNECTOR
        result = self._result_variable(element, inputs if connector else {})
        outputs = self._zeebe_outputs(element)
        if connector:
            inputs = self._rest_input(inputs)
        elif activiti_attr(element, "type") == "http":
            inputs, answer = self._flowable_http(element, inputs)
            outputs |= answer
        put(task, "input", inputs)
        for parameter in extension_elements(element, (CAMUNDA,), "inputOutput", "outputParameter"):
            outputs[parameter.get("name", "")] = self._cel(parameter.text or "")
        if result is not None:
            outputs[result] = "result"
        put(task, "output", outputs)
        definition = extension_element(element, (ZEEBE,), "taskDefinition")
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
            for header in extension_elements(element, (ZEEBE,), "taskHeaders", "header")
        }
        inputs |= self._field_injections(element) | self._operator_parameters(element)
        inputs |= self._zeebe_inputs(element)
        for parameter in extension_elements(element, (CAMUNDA,), "inputOutput", "inputParameter"):
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
        """Zeebe input mappings; a dotted target (`order.id`) sets a field of an object,
        as in Zeebe."""
        inputs: dict[str, Any] = {}
        for mapping in extension_elements(element, (ZEEBE,), "ioMapping", "input"):
            target = mapping.get("target", "")
            *parents, name = target.split(".")
            into = inputs
            for parent in parents:
                into = into.setdefault(parent, {})
                if not isinstance(into, dict):
                    self._problem(f"input target {target!r} sets a field of {parent!r}, a value")
                    break
            else:
                into[name] = self._value(mapping.get("source", ""))
        return inputs

    def _zeebe_outputs(self, element: ET.Element) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for mapping in extension_elements(element, (ZEEBE,), "ioMapping", "output"):
            target = mapping.get("target", "")
            if "." in target:
                self._problem(
                    f"output target {target!r} sets a field: Flowdesk sets whole variables; "
                    f"write the target {target.split('.')[0]!r} with the whole object"
                )
            outputs[target] = self._cel(mapping.get("source", ""))
        return outputs

    def _script_task(self, element: ET.Element) -> None:
        language = element.get("scriptFormat")
        self._problem(
            f"a {language + ' ' if language else ''}script task cannot run in Flowdesk: "
            "make it a service task whose "
            "action does the script's work (a Python action registered under the "
            "flowdesk.actions entry points)"
        )

    def _receive_task(self, element: ET.Element) -> _Built | None:
        if element.get("messageRef") is None:
            # Camunda 7 and Flowable let an API call move a plain receive task on; here a
            # message does, so the task waits for one named after it.
            node_id = element.get("id", "")
            self._warning(
                f"waits for no message: it waits for the message {node_id!r} "
                "(sendMessage), which moves it on as the other engine's trigger call would"
            )
            return "receiveTask", {"message": node_id}
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
        zeebe = extension_element(element, (ZEEBE,), "calledElement")
        called = zeebe.get("processId") if zeebe is not None else element.get("calledElement")
        if not called:
            self._problem("calls nothing: give it a calledElement")
        elif called.startswith("=") or "${" in called or "#{" in called:
            self._problem(
                f"calledElement {called!r} is an expression: Flowdesk calls a process by "
                "its key; write the key, or choose between call activities with a gateway"
            )
        call: dict[str, Any] = {"calledElement": called}
        put(call, "version", self._called_version(element, zeebe))
        if zeebe is not None:
            if zeebe.get("propagateAllChildVariables") == "true":
                self._problem(
                    "propagateAllChildVariables has no equivalent: Flowdesk copies back "
                    "only the output mappings"
                )
            inputs, outputs = self._zeebe_inputs(element), self._zeebe_outputs(element)
        else:
            inputs, outputs = self._call_inputs(element), self._call_outputs(element)
        put(call, "inputs", inputs)
        put(call, "outputs", outputs)
        return "callActivity", call

    def _called_version(self, element: ET.Element, zeebe: ET.Element | None) -> int | None:
        binding = activiti_attr(element, "calledElementBinding")
        if zeebe is not None:
            binding = zeebe.get("bindingType")
        if binding in (None, "latest"):
            return None
        version = activiti_attr(element, "calledElementVersion") or ""
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
        mappings = extension_elements(element, ACTIVITI_LIKE, "in")
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
                self._problem(f"{qname(mapping.tag)} needs a target and a source")
        return inputs

    def _call_outputs(self, element: ET.Element) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for mapping in extension_elements(element, ACTIVITI_LIKE, "out"):
            target = mapping.get("target")
            if target and (source := mapping.get("source")):
                outputs[target] = source
            elif target and (expression := mapping.get("sourceExpression")):
                outputs[target] = self._cel(expression)
            else:
                self._problem(
                    f"{qname(mapping.tag)} needs a target and a source: Flowdesk copies "
                    "back only the variables it names"
                )
        return outputs

    def _catch_event(self, element: ET.Element) -> _Built | None:
        definition = self._event_definition(element)
        kind = bpmn_local(definition) if definition is not None else None
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
        kind = bpmn_local(definition) if definition is not None else None
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
            put(boundary, "errorCode", self._error_code(definition.get("errorRef")))
            return "errorBoundary", boundary
        return None  # an unsupported definition is reported by the children check

    def _event_definition(self, element: ET.Element) -> ET.Element | None:
        definitions = [
            child for child in element if (bpmn_local(child) or "").endswith("EventDefinition")
        ]
        if len(definitions) != 1:
            self._problem(f"needs exactly one event definition, not {len(definitions)}")
            return None
        return definitions[0]

    def _timer(self, definition: ET.Element) -> dict[str, Any]:
        duration = definition.find(bpmn_tag("timeDuration"))
        if duration is not None and (text := (duration.text or "").strip()):
            return {"duration": self._value(text)}
        date = definition.find(bpmn_tag("timeDate"))
        if date is not None and (text := (date.text or "").strip()):
            until = self._value(text)
            # `until` is always an expression: a fixed date becomes a CEL string literal
            # (JSON's escapes are CEL's).
            return {"until": until if until.startswith("=") else "=" + json.dumps(until)}
        if definition.find(bpmn_tag("timeCycle")) is not None:
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
            # Camunda 7 and Flowable take an errorRef that names no error as the code itself.
            self._warning(
                f"refers to error {ref!r}, which the document does not define: it catches "
                f"the error code {ref!r}, as Camunda 7 and Flowable read it"
            )
            return ref
        return error.get("errorCode")


def _integer_or_text(value: str) -> int | str:
    return int(value) if re.fullmatch(r"-?\d+", value) else value
