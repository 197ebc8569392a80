"""Reading BPMN 2.0 XML with ElementTree: the namespaces, names and paths of elements, and the
extension elements and attributes that Camunda 7, Zeebe (Camunda 8) and Flowable add (Flowable
and Camunda 7 still read Activiti's namespace, so it is read as theirs)."""

import xml.etree.ElementTree as ET

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
FLOWABLE = "http://flowable.org/bpmn"
ACTIVITI = "http://activiti.org/bpmn"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_PREFIXES = {
    BPMN: "bpmn",
    CAMUNDA: "camunda",
    ZEEBE: "zeebe",
    FLOWABLE: "flowable",
    ACTIVITI: "activiti",
    SPIFF: "spiffworkflow",
}
# Camunda 7 and Flowable both descend from Activiti and spell their extensions alike.
ACTIVITI_LIKE = (CAMUNDA, FLOWABLE, ACTIVITI)


def bpmn_tag(local: str) -> str:
    return ns_path(BPMN, local)


def ns_path(namespace: str, *steps: str) -> str:
    """An ElementTree path whose every step is in `namespace`."""
    return "/".join(f"{{{namespace}}}{step}" for step in steps)


def strip_ns(tag: str) -> str:
    return tag.rpartition("}")[2]


def bpmn_local(element: ET.Element) -> str | None:
    """The local name of an element in the BPMN namespace, else None."""
    return strip_ns(element.tag) if element.tag.startswith(f"{{{BPMN}}}") else None


def qname(tag: str) -> str:
    """`bpmn:userTask` for a tag in a namespace we know (whatever prefix the document
    chose), the tag as ElementTree spells it otherwise."""
    namespace, _, local = tag[1:].rpartition("}")
    prefix = _PREFIXES.get(namespace)
    return f"{prefix}:{local}" if prefix else tag


def element_path(element: ET.Element) -> str:
    element_id = element.get("id")
    return f"{qname(element.tag)}[@id='{element_id}']" if element_id else qname(element.tag)


def by_id(elements: list[ET.Element]) -> dict[str, ET.Element]:
    return {element.get("id", ""): element for element in elements}


def activiti_attr(element: ET.Element, name: str) -> str | None:
    """A Camunda 7 or Flowable extension attribute."""
    for namespace in ACTIVITI_LIKE:
        if (value := element.get(f"{{{namespace}}}{name}")) is not None:
            return value
    return None


def extension_elements(
    element: ET.Element, namespaces: tuple[str, ...], *steps: str
) -> list[ET.Element]:
    """The extension elements at the path `steps`, spelled in any of `namespaces`."""
    found: list[ET.Element] = []
    for namespace in namespaces:
        found += element.findall(f"{bpmn_tag('extensionElements')}/{ns_path(namespace, *steps)}")
    return found


def extension_element(
    element: ET.Element, namespaces: tuple[str, ...], *steps: str
) -> ET.Element | None:
    found = extension_elements(element, namespaces, *steps)
    return found[0] if found else None


def zeebe_attr(element: ET.Element, extension: str, name: str) -> str | None:
    found = extension_element(element, (ZEEBE,), extension)
    return found.get(name) if found is not None else None


def formal_expressions(element: ET.Element, role: str) -> list[str]:
    """The texts of a resource role (humanPerformer, potentialOwner) of a task."""
    path = ns_path(BPMN, role, "resourceAssignmentExpression", "formalExpression")
    return [text for found in element.iterfind(path) if (text := (found.text or "").strip())]


def documentation(element: ET.Element) -> str | None:
    texts = [(doc.text or "").strip() for doc in element.findall(bpmn_tag("documentation"))]
    return "\n\n".join(text for text in texts if text) or None
