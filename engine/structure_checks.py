"""The graph rules of a definition: ids, flows, gateways, boundary events, and that
every node is reachable and can reach an end."""

from collections import deque
from collections.abc import Callable, Iterable

from engine.definition import Flow
from engine.enums import NodeType
from engine.node_types import ERROR_HOSTS, GATEWAYS, TIMER_HOSTS, Node
from engine.problems import Report

# The gateways whose outgoing flows carry conditions.
_CHOOSING = frozenset({NodeType.EXCLUSIVE_GATEWAY, NodeType.INCLUSIVE_GATEWAY})
_SYNCHRONIZING = frozenset({NodeType.PARALLEL_GATEWAY, NodeType.INCLUSIVE_GATEWAY})


def check_structure(report: Report) -> None:
    _unique_ids(report)
    _start_and_end(report)
    _flow_ends(report)
    _outgoing_flows(report)
    _flow_conditions(report)
    _boundary_hosts(report)
    _reachability(report)
    _joins(report)


def _unique_ids(report: Report) -> None:
    for i, node in enumerate(report.definition.nodes):
        first = report.position[node.id]
        if first != i:
            report.add(f"nodes[{i}].id", f"duplicate node id {node.id!r} (nodes[{first}])", node.id)
    flow_ids: dict[str, int] = {}
    for k, flow in enumerate(report.definition.flows):
        if flow.id is None:
            continue
        if flow.id in flow_ids:
            report.add(
                f"flows[{k}].id",
                f"duplicate flow id {flow.id!r} (flows[{flow_ids[flow.id]}])",
                report.source_id(flow),
            )
        flow_ids.setdefault(flow.id, k)


def _start_and_end(report: Report) -> None:
    starts = report.positions_of(NodeType.START_EVENT)
    if not starts:
        report.add("nodes", "no startEvent: a definition needs exactly one")
    for i in starts[1:]:
        node = report.definition.nodes[i]
        first = report.definition.nodes[starts[0]].id
        report.add(f"nodes[{i}].type", f"a second startEvent (the first is {first!r})", node.id)


def _flow_ends(report: Report) -> None:
    for k, flow in enumerate(report.definition.flows):
        source, target = report.typed(flow.from_), report.typed(flow.to)
        if report.known(flow.from_) is None:
            report.add(f"flows[{k}].from", f"unknown node {flow.from_!r}")
        elif source is not None and source.type is NodeType.END_EVENT:
            report.add(f"flows[{k}].from", "an endEvent cannot have outgoing flows", source.id)
        if report.known(flow.to) is None:
            report.add(f"flows[{k}].to", f"unknown node {flow.to!r}", report.source_id(flow))
        if target is None:
            continue  # unknown, or of an unknown type: no rule of a type applies
        if target.type is NodeType.START_EVENT:
            report.add(f"flows[{k}].to", "a startEvent cannot have incoming flows", target.id)
        elif target.is_boundary:
            report.add(
                f"flows[{k}].to",
                "a boundary event cannot have incoming flows: it starts with its task",
                target.id,
            )


def _outgoing_flows(report: Report) -> None:
    """Only a gateway needs an outgoing flow: any other node without one ends its path
    there and one with several forks (BPMN's implicit end and implicit fork)."""
    for i, node in report.typed_nodes():
        if node.type in GATEWAYS and not report.definition.outgoing(node.id):
            report.add(f"nodes[{i}]", "gateway has no outgoing flow", node.id)


def _flow_conditions(report: Report) -> None:
    leaving: dict[str, list[tuple[int, Flow]]] = {}
    for k, flow in enumerate(report.definition.flows):
        source = report.typed(flow.from_)
        if source is None:
            continue
        if source.type in _CHOOSING:
            leaving.setdefault(source.id, []).append((k, flow))
            continue
        if flow.condition is not None:
            report.add(
                f"flows[{k}].condition",
                "only a flow leaving an exclusiveGateway or inclusiveGateway takes a condition",
                source.id,
            )
        if flow.default:
            report.add(
                f"flows[{k}].default",
                "only a flow leaving an exclusiveGateway or inclusiveGateway can be the default",
                source.id,
            )
    for gateway, flows in leaving.items():
        _gateway_flows(report, gateway, flows)


def _gateway_flows(report: Report, gateway: str, flows: list[tuple[int, Flow]]) -> None:
    defaults = [k for k, flow in flows if flow.default]
    for k in defaults[1:]:
        report.add(
            f"flows[{k}].default",
            f"gateway {gateway!r} already has a default flow (flows[{defaults[0]}])",
            gateway,
        )
    for k, flow in flows:
        if flow.default and flow.condition is not None:
            report.add(f"flows[{k}].condition", "a default flow takes no condition", gateway)
        elif not flow.default and flow.condition is None and len(flows) > 1:
            report.add(
                f"flows[{k}]",
                f"flow to {flow.to!r} needs a condition or default: true, "
                f"since gateway {gateway!r} has {len(flows)} outgoing flows",
                gateway,
            )


def _boundary_hosts(report: Report) -> None:
    for i, node in report.typed_nodes():
        if node.host_id is None:
            continue  # an errorBoundary without attachedTo is a field problem
        host = report.typed(node.host_id)
        if report.known(node.host_id) is None:
            report.add(
                f"nodes[{i}].attachedTo",
                f"attachedTo names unknown node {node.host_id!r}",
                node.id,
            )
        elif host is None:
            continue  # of an unknown type: it may or may not take boundary events
        elif node.type is NodeType.TIMER and host.type not in TIMER_HOSTS:
            report.add(
                f"nodes[{i}].attachedTo",
                "a boundary timer attaches to a userTask, serviceTask, receiveTask or "
                f"callActivity, not to {host.type} {host.id!r}",
                node.id,
            )
        elif node.type is NodeType.ERROR_BOUNDARY and host.type not in ERROR_HOSTS:
            report.add(
                f"nodes[{i}].attachedTo",
                "an errorBoundary attaches to a serviceTask or callActivity, "
                f"not to {host.type} {host.id!r}",
                node.id,
            )


def _predecessors(report: Report, node_id: str) -> list[str]:
    """Where a token on `node_id` can come from: along flows, or from the boundary's task."""
    before = [flow.from_ for flow in report.definition.incoming(node_id)]
    node = report.known(node_id)
    if node is not None and node.host_id is not None:
        before.append(node.host_id)
    return before


def _reachability(report: Report) -> None:
    starts = report.positions_of(NodeType.START_EVENT)
    if not starts:
        return  # already reported; everything would be "unreachable"
    # From every start event: a second one is reported already, not as unreachable.
    # From boundary events on unknown tasks too, which are reported already as well.
    roots = [report.definition.nodes[i].id for i in starts]
    roots += [node.id for _, node in report.nodes() if _detached(report, node)]
    reached = _closure(report, roots, forward=True)
    # A node of an unknown type may have been meant as a boundary event.
    for i, node in report.typed_nodes():
        if node.id not in reached:
            report.add(f"nodes[{i}]", "unreachable node: no path leads to it", node.id)
    # Where a path can end: an end event, or any other node but a gateway without an
    # outgoing flow (an implicit end).
    ends = [
        node.id
        for _, node in report.typed_nodes()
        if node.type is NodeType.END_EVENT
        or (node.type not in GATEWAYS and not report.definition.outgoing(node.id))
    ]
    finishing = _closure(report, ends, forward=False)
    for i, node in report.typed_nodes():
        # A gateway without outgoing flows, or a node never reached, has its own problem.
        if node.id in reached and node.id not in finishing and report.definition.outgoing(node.id):
            report.add(f"nodes[{i}]", "no path to an end event", node.id)


def _detached(report: Report, node: Node) -> bool:
    """A boundary event whose task is unknown: that is its problem, not reachability."""
    return node.is_boundary and (node.host_id is None or report.known(node.host_id) is None)


def _closure(report: Report, roots: Iterable[str], *, forward: bool) -> set[str]:
    """Node ids reachable from roots along the flows and boundaries (or against them)."""
    step: Callable[[str], list[str]] = (
        report.definition.successors if forward else lambda n: _predecessors(report, n)
    )
    seen = set(roots)
    queue = deque(seen)
    while queue:
        for next_id in step(queue.popleft()):
            if next_id in report.position and next_id not in seen:
                seen.add(next_id)
                queue.append(next_id)
    return seen


def _joins(report: Report) -> None:
    """A parallel or inclusive join needs the fork its branches split from.

    The fork is the nearest node every path from the start to each incoming branch
    passes through (their nearest common dominator): when that is not a forking
    gateway, some branch can run without the others and the join would wait forever
    (parallel) or pair tokens of unrelated paths (inclusive). A parallel join needs a
    parallel fork; an inclusive fork may take only some branches, which only an
    inclusive join can wait for.
    """
    starts = report.positions_of(NodeType.START_EVENT)
    if len(starts) != 1:
        return
    dominators = _dominators(report, report.definition.nodes[starts[0]].id)
    for i, node in report.typed_nodes():
        if node.type not in _SYNCHRONIZING:
            continue
        sources = [
            flow.from_ for flow in report.definition.incoming(node.id) if flow.from_ in dominators
        ]
        if len(sources) < 2:
            continue
        shared = set.intersection(*(dominators[source] for source in sources))
        # Dominators form a chain: the nearest one has the most dominators itself.
        fork = report.definition.node(max(shared, key=lambda n: len(dominators[n])))
        if fork.id in report.untyped:
            continue  # it may have been meant as the fork
        # A node other than a gateway with several outgoing flows forks like a parallel one.
        forking = fork.type in _SYNCHRONIZING or fork.type not in GATEWAYS
        forks = len(report.definition.outgoing(fork.id)) > 1 and forking
        kind = "parallel" if node.type is NodeType.PARALLEL_GATEWAY else "inclusive"
        if not forks:
            report.add(
                f"nodes[{i}]",
                f"{kind} join {node.id!r} has no matching fork: its incoming branches do not "
                "all come from one parallelGateway or inclusiveGateway upstream (the nearest "
                f"node they all pass through is {fork.type} {fork.id!r})",
                node.id,
            )
        elif node.type is NodeType.PARALLEL_GATEWAY and fork.type is NodeType.INCLUSIVE_GATEWAY:
            report.add(
                f"nodes[{i}]",
                f"parallel join {node.id!r} follows inclusive fork {fork.id!r}, which may take "
                "only some of its branches: the join would wait forever; make it an "
                "inclusiveGateway",
                node.id,
            )


def _dominators(report: Report, start: str) -> dict[str, set[str]]:
    """For each node reached from the start, the nodes every path to it passes through
    (itself included)."""
    reached = _closure(report, [start], forward=True)
    dominators = {node_id: set(reached) for node_id in reached}
    dominators[start] = {start}
    changed = True
    while changed:
        changed = False
        for node_id in reached - {start}:
            before = [p for p in _predecessors(report, node_id) if p in reached]
            common = set.intersection(*(dominators[p] for p in before)) if before else set()
            found = common | {node_id}
            if found != dominators[node_id]:
                dominators[node_id] = found
                changed = True
    return dominators
