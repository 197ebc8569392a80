"""BPMN 2.0 XML import: a diagram drawn in a BPMN modeler becomes a definition document.

`bpmn_to_definition` reads what bpmn.io, Camunda Modeler (Camunda 7 and Zeebe / Camunda 8),
Flowable and Signavio export and returns the JSON definition format (docs/definition-format.md)
as a plain dict. It translates; the caller still validates the result as it would any JSON
definition. Anything it cannot translate faithfully is a problem, never silently dropped, and
every problem is reported at once.

| BPMN | definition |
| --- | --- |
| the one executable `process` (isExecutable not "false") | `key` = id, `name` = name (else the pool's name, else the id), `description` = documentation, Camunda 7 / Flowable `candidateStarterUsers` and `candidateStarterGroups` -> `startableBy` |
| `startEvent` (plain) | `startEvent`; its form becomes the definition's `variables` schema |
| `endEvent` (plain) | `endEvent` |
| `userTask` | `userTask`: assignee, candidateUsers, candidateGroups, priority, dueDate -> `due`, form fields -> `form` (JSON Schema), `multiInstanceLoopCharacteristics` -> `multiInstance` |
| `serviceTask`, `sendTask` | `serviceTask`: what it is bound to (job type, external-task topic, Java class or bean, SpiffWorkflow operator; `bpmn_bindings`) -> `action`, input mappings, field injections and task headers -> `input`, output mappings and result variables -> `output`, Zeebe retries -> `retry.maxAttempts`. All three engines run a send task exactly like a service task. |
| `receiveTask`, message `intermediateCatchEvent` | `receiveTask`: `message` = the referenced message's name |
| `callActivity` | `callActivity`: `calledElement`, a fixed `version`, in/out mappings -> `inputs` / `outputs` |
| exclusive, parallel, inclusive gateway | the gateway of the same name; `default` marks that flow `"default": true`; an inclusive gateway's flow without a condition is always taken (`"condition": "true"`) |
| timer `intermediateCatchEvent` | `timer`: timeDuration -> `duration`, timeDate -> `until` (a fixed date as `="<date>"`) |
| timer `boundaryEvent` | `timer` with `attachedTo` and `interrupting` (= cancelActivity) |
| error `boundaryEvent` | `errorBoundary` with `attachedTo` and the referenced error's `errorCode` |
| `sequenceFlow` | flow: id, sourceRef -> `from`, targetRef -> `to`, conditionExpression -> `condition` |
| `documentation` | `documentation` |

Node and flow ids are the BPMN ids. Values: `${x}`, `#{x}` (JUEL) and `=x` (Zeebe's FEEL)
become the expression `=x`, anything else stays a literal; fields that are always
expressions (conditions, completionCondition, outputs) lose the wrapper only, and read as
SpiffWorkflow's Python without one. Every expression is translated to CEL on the way
(`engine.expression_dialects`: the common subset; the rest is a problem at its element).
Ignored because they do not change how the process runs: diagram interchange (bpmndi),
collaborations, lanes, data objects and stores, text annotations, associations, groups,
flow names (a flow has no name in the format), message correlation keys (Flowdesk delivers
messages by instance id or business key), and extension settings that only tune the other
engine; any other extension setting not listed above is a warning (`bpmn_extensions`).
Where Camunda 7 (or Zeebe with propagateAllParentVariables="false") passes no variables to
a called process unless told, Flowdesk passes all of them when a call activity has no input
mappings. Rejected, each by element name and id: script tasks (an action does their work),
every other BPMN element in a process (sub-processes, business rule and manual tasks, other
gateways and events, event definitions other than the ones above, standard loops,
multi-instance on anything but a user task), and settings that would run differently here
(scripts, built-in tasks and connectors of other engines, form references whose fields are
not in the document, Zeebe outputElement, copying back all of a child's variables,
deployment or version-tag bindings, repeating timers). Settings that are read but have no
effect are warnings (`BpmnImport.warnings`): the import goes on, and the author is told.

This module finds the process and its flows; `bpmn_nodes` builds each node, `bpmn_bindings`
reads what a service task is bound to, `bpmn_extensions` warns about the settings left
behind, `bpmn_forms` turns forms into JSON Schema, `bpmn_reader` holds what they share
(problems, values), and `bpmn_xml` reads elements and their extensions.
"""

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, NoReturn
from xml.parsers import expat

from engine.bpmn_extensions import check_extensions
from engine.bpmn_nodes import NodeReader
from engine.bpmn_reader import put, split_list
from engine.bpmn_xml import (
    BPMN,
    ZEEBE,
    activiti_attr,
    bpmn_local,
    bpmn_tag,
    documentation,
    element_path,
    extension_elements,
    ns_path,
    qname,
)
from engine.problems import ERROR
from engine.validation import DefinitionInvalid, Problem

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
        # The process's data inputs and outputs: Flowdesk's are its variables.
        "ioSpecification",
    }
)
# A path into the definition document that points at one node or flow.
_ITEM_PATH = re.compile(r"^(?P<list>nodes|flows)\[(?P<index>\d+)\]\.?(?P<rest>.*)$")


class BpmnImportError(DefinitionInvalid):
    """The XML cannot be imported; `problems` lists every reason at once.

    A problem's `path` locates the XML element (`bpmn:userTask[@id='review']`: ids are
    unique within a document) and its `node_id` is that element's id, sequence flows
    included, so that a modeler can select it.
    """


@dataclass(frozen=True)
class BpmnImport:
    """A BPMN document's translation: the definition document, the warnings of the import
    (settings read but without effect in Flowdesk), and where each node and flow came from."""

    definition: dict[str, Any]
    warnings: list[Problem] = dataclasses.field(default_factory=list)
    # Node and flow ids (the BPMN ids) -> the element's path, the process's under "".
    elements: dict[str, str] = dataclasses.field(default_factory=dict)

    def locate(self, problems: list[Problem]) -> list[Problem]:
        """Problems found in the definition document, pointed at the BPMN elements they
        came from: the author wrote the XML, not the JSON paths into its translation."""
        return [self._located(problem) for problem in problems]

    def _located(self, problem: Problem) -> Problem:
        match = _ITEM_PATH.match(problem.path)
        items = self.definition.get(match["list"], []) if match else []
        item = items[int(match["index"])] if match and int(match["index"]) < len(items) else None
        item_id = item.get("id") if isinstance(item, dict) else None
        node_id: str | None
        if match and isinstance(item_id, str) and item_id in self.elements:
            path, node_id, where = self.elements[item_id], item_id, match["rest"]
        else:
            path, node_id, where = self.elements.get("", ""), problem.node_id, problem.path
        message = f"{where}: {problem.message}" if where else problem.message
        return Problem(path, message, node_id, problem.severity)


def import_bpmn(xml: str | bytes) -> BpmnImport:
    """The translation of a BPMN 2.0 XML document; raises BpmnImportError listing every
    problem (warnings too) when it has errors."""
    root = _parse(xml)
    importer = _Importer(root)
    definition = importer.definition()
    if any(problem.severity == ERROR for problem in importer.problems):
        raise BpmnImportError(importer.problems)
    return BpmnImport(definition, importer.problems, importer.elements)


def bpmn_to_definition(xml: str | bytes) -> dict[str, Any]:
    """The definition document (JSON format, `"from"` spelled as in JSON) of a BPMN 2.0 XML
    document; raises BpmnImportError listing every problem."""
    return import_bpmn(xml).definition


def _parse(xml: str | bytes) -> ET.Element:
    try:
        _refuse_doctype(xml)
        root = ET.fromstring(xml)
    except _DoctypeFound:
        message = "a DOCTYPE is not allowed: BPMN needs none, and entities can be an XML bomb"
        raise BpmnImportError([Problem("", message)]) from None
    except (expat.ExpatError, ET.ParseError) as error:
        raise BpmnImportError([Problem("", f"not well-formed XML: {error}")]) from None
    if root.tag != bpmn_tag("definitions"):
        message = f"not a BPMN 2.0 document: the root element is {qname(root.tag)}, "
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


class _Importer(NodeReader):
    """One document's translation: its one executable process, the nodes and the flows."""

    def definition(self) -> dict[str, Any]:
        # Where each node and flow comes from, the process itself under "".
        self.elements: dict[str, str] = {}
        process = self._executable_process()
        if process is None:
            return {}
        self.elements[""] = element_path(process)
        self.elements |= {
            element.get("id", ""): element_path(element)
            for element in process
            if element.get("id") and bpmn_local(element) is not None
        }
        self.forms = {
            form.get("id", ""): form.text or ""
            for form in extension_elements(process, (ZEEBE,), "userTaskForm")
        }
        key = process.get("id", "")
        self.element = process
        check_extensions(process, "process", self._warning, self._problem)
        definition: dict[str, Any] = {"key": key, "name": self._process_name(process)}
        put(definition, "description", documentation(process))
        put(definition, "startableBy", self._starters(process))
        nodes: list[dict[str, Any]] = []
        flow_elements: list[ET.Element] = []
        node_ids: set[str] = set()  # rejected ones too: a flow to them is not a second problem
        defaults: dict[str, ET.Element] = {}  # default flow id -> the node it leaves
        for child in process:
            local = bpmn_local(child)
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
        put(definition, "variables", self.variables)
        definition["nodes"] = nodes
        definition["flows"] = self._flows(flow_elements, node_ids, defaults)
        return definition

    def _executable_process(self) -> ET.Element | None:
        processes = self.root.findall(bpmn_tag("process"))
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
        for participant in self.root.iterfind(ns_path(BPMN, "collaboration", "participant")):
            if participant.get("processRef") == key and (name := participant.get("name")):
                return name
        return key

    def _starters(self, process: ET.Element) -> dict[str, list[str]]:
        """Camunda 7's (and Flowable's) candidateStarterUsers and candidateStarterGroups:
        names only, since who may start is decided before any variable exists."""
        self.element = process
        starters: dict[str, list[str]] = {}
        for attribute, field in (
            ("candidateStarterUsers", "users"),
            ("candidateStarterGroups", "groups"),
        ):
            names = split_list(activiti_attr(process, attribute) or "")
            if any(self._expression_body(name) is not None for name in names):
                self._problem(f"{attribute} must name users or groups, not expressions")
            put(starters, field, names)
        return starters

    # Flows

    def _flows(
        self, elements: list[ET.Element], node_ids: set[str], defaults: dict[str, ET.Element]
    ) -> list[dict[str, Any]]:
        flows = [self._flow(element, node_ids) for element in elements]
        by_id = {flow.get("id"): flow for flow in flows}
        inclusive = {element.get("id") for element in self.root.iter(bpmn_tag("inclusiveGateway"))}
        forks = Counter(flow["from"] for flow in flows if flow["from"] in inclusive)
        for each in flows:
            # Camunda 7, Flowable and Zeebe always take a flow without a condition out of
            # an inclusive gateway; the format says so with a condition that always holds.
            if (
                forks[each["from"]] > 1
                and "condition" not in each
                and each.get("id") not in defaults
            ):
                each["condition"] = "true"
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
        put(flow, "id", element.get("id"))
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
        put(flow, "condition", self._cel_child(element, "conditionExpression"))
        check_extensions(element, "sequenceFlow", self._warning, self._problem)
        return flow
