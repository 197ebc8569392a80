"""A best-effort model of a document pydantic rejected, so that validation can go on to
the checks pydantic does not make and report their problems too.

Each node and flow keeps what it can: a node with bad fields keeps its good ones (their
expressions are still checked); a node too broken for that keeps only what the graph
needs (id, type, the task a boundary event watches); a node of an unknown type keeps
its place in the graph, with no rules of any type applied to it. Their own errors are
reported already.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from engine.definition import Definition, Flow
from engine.enums import NodeType
from engine.node_types import NODE_MODELS, ErrorBoundary, ExclusiveGateway, Node, Timer
from engine.problems import Report

_TYPES = {str(tag): tag for tag in NODE_MODELS}


def salvage(raw: Any) -> Report | None:
    """The report to run the checks on, or None when the document has no list of nodes
    and of flows to check."""
    if not isinstance(raw, Mapping):
        return None
    raw_nodes, raw_flows = raw.get("nodes"), raw.get("flows")
    if not isinstance(raw_nodes, list) or not isinstance(raw_flows, list):
        return None
    nodes: list[Node] = []
    bare: set[int] = set()
    untyped: set[str] = set()
    graph_complete = True
    for i, raw_node in enumerate(raw_nodes):
        node, modelled = _salvage_node(raw_node)
        if node is None:
            node_id = raw_node.get("id") if isinstance(raw_node, Mapping) else None
            if not isinstance(node_id, str):
                # Flows cannot name it: the graph checks would only report noise.
                node_id, graph_complete = f"nodes[{i}]", False
            untyped.add(node_id)
            # Holds the node's place (paths name positions in the submitted document);
            # the checks leave untyped nodes out of every rule of a type.
            node = ExclusiveGateway.model_construct(id=node_id, type=NodeType.EXCLUSIVE_GATEWAY)
        nodes.append(node)
        if not modelled:
            bare.add(i)
    flows: list[Flow] = []
    for raw_flow in raw_flows:
        flow = _salvage_flow(raw_flow)
        if flow is None:
            flow, graph_complete = Flow.model_construct(from_="", to=""), False
        flows.append(flow)
    variables = raw.get("variables")
    # key and name are not looked at by the checks.
    definition = Definition.model_construct(
        key="",
        name="",
        variables=variables if isinstance(variables, dict) else None,
        nodes=nodes,
        flows=flows,
    )
    return Report(
        definition,
        salvaged=frozenset(bare),
        untyped=frozenset(untyped),
        graph_complete=graph_complete,
    )


def _salvage_node(raw: Any) -> tuple[Node | None, bool]:
    """The node and whether it is a whole model (not only the graph's fields), or None
    when its id or its type is unknown."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        return None, False
    raw_type = raw.get("type")
    tag = _TYPES.get(raw_type) if isinstance(raw_type, str) else None
    if tag is None:
        return None, False
    model = NODE_MODELS[tag]
    fields = dict(raw)
    try:
        return model.model_validate(fields), True
    except ValidationError as error:
        bad = {detail["loc"][0] for detail in error.errors() if detail["loc"]}
    try:
        # Without its bad fields: the good ones still get their checks.
        return model.model_validate({k: v for k, v in fields.items() if k not in bad}), True
    except ValidationError:
        pass
    # Built field by field, as the model's required fields may be the missing ones.
    values: dict[str, Any] = {"id": raw["id"], "type": tag}
    if model is Timer or model is ErrorBoundary:
        # attachedTo joins a boundary event to the graph.
        attached = raw.get("attachedTo")
        values["attachedTo"] = attached if isinstance(attached, str) else None
    node: Node = model.model_construct(**values)
    return node, False


def _salvage_flow(raw: Any) -> Flow | None:
    try:
        return Flow.model_validate(raw)
    except ValidationError:
        pass
    if not isinstance(raw, Mapping):
        return None
    source, target = raw.get("from"), raw.get("to")
    if not isinstance(source, str) or not isinstance(target, str):
        return None
    return Flow.model_construct(from_=source, to=target)
