"""Gateways: exclusive (one way), parallel (every way, and waiting for every way) and
inclusive (every way whose condition holds, and waiting for every way still coming).

A gateway with more than one incoming flow is a join; one with more than one outgoing
flow is a fork; it may be both (it joins first).
"""

from functools import partial
from typing import TYPE_CHECKING

from engine.definition import Definition, Flow
from engine.enums import NodeType
from engine.failures import Failure
from engine.node_types import Gateway, Node
from engine.state import Token

if TYPE_CHECKING:
    from engine.run import Run


def enter(run: "Run", token: Token, node: Gateway) -> list[Token]:
    match node.type:
        case NodeType.EXCLUSIVE_GATEWAY:
            run.take(token, _exclusive_flow(run, node))
            return [token]
        case NodeType.PARALLEL_GATEWAY:
            if _is_join(run.definition, node):
                joined = _join(run, node)
                if joined is None:
                    return []
                token = joined
            return fork(run, token, run.definition.outgoing(node.id))
        case _:
            if _is_join(run.definition, node):
                return []  # `fire_inclusive_join` decides, once every token has come to rest
            return _fork_inclusive(run, token, node)


def fire_inclusive_join(run: "Run") -> list[Token]:
    """Fire the first inclusive join that holds a token which no other token can still
    reach (along flows and boundary events), and return the tokens that leave it.

    A token stopped by an incident at the join waits for the retry instead of failing
    again here.
    """
    definition = run.definition
    for token in run.state.tokens:
        node = definition.node(token.node_id)
        if (
            node.type is not NodeType.INCLUSIVE_GATEWAY
            or not _is_join(definition, node)
            or token.id in run.state.incidents
        ):
            continue
        others = (other for other in run.state.tokens if other.node_id != node.id)
        if any(node.id in definition.reachable(other.node_id) for other in others):
            continue
        joined = _join(run, node)
        if joined is not None:
            return run.attempt(joined, partial(_fork_inclusive, run, joined, node))
    return []


def _fork_inclusive(run: "Run", token: Token, node: Node) -> list[Token]:
    return fork(run, token, _inclusive_flows(run, node))


def _is_join(definition: Definition, node: Node) -> bool:
    return len(definition.incoming(node.id)) > 1


def _join(run: "Run", node: Node) -> Token | None:
    """Merge the tokens waiting at a join, one per incoming flow (the earliest), into
    the first of them; None while a parallel join still misses a flow.

    An inclusive join is only asked once nothing else can reach it, so it takes what
    has arrived.
    """
    needed = {run.definition.flow_index(flow) for flow in run.definition.incoming(node.id)}
    arrived: dict[int, Token] = {}
    for token in run.state.tokens:
        waiting = token.node_id == node.id and token.id not in run.state.incidents
        if waiting and token.via in needed and token.via is not None:
            arrived.setdefault(token.via, token)
    if not arrived or (node.type is NodeType.PARALLEL_GATEWAY and len(arrived) < len(needed)):
        return None
    first, *merged = sorted(arrived.values(), key=run.state.tokens.index)
    for token in merged:
        run.state.tokens.remove(token)
    return first


def fork(run: "Run", token: Token, flows: list[Flow]) -> list[Token]:
    """Send the token along the first flow and a new token along each other one."""
    if len(flows) == 1:
        run.take(token, flows[0])
        return [token]
    run.depart(token)
    moving = [token] + [run.spawn(token.node_id) for _ in flows[1:]]
    for branch, flow in zip(moving, flows, strict=True):
        run.arrive(branch, flow)
    return moving


def _exclusive_flow(run: "Run", gateway: Node) -> Flow:
    """The first flow whose condition holds, in definition order, else the default."""
    default = None
    for flow in run.definition.outgoing(gateway.id):
        if flow.default:
            default = flow
        elif flow.condition is None or run.condition_holds(flow.condition):
            return flow
    if default is None:
        raise Failure(f"no condition of gateway {gateway.id!r} holds and it has no default")
    return default


def _inclusive_flows(run: "Run", gateway: Node) -> list[Flow]:
    """Every flow whose condition holds, in definition order, else the default."""
    flows = run.definition.outgoing(gateway.id)
    chosen = [
        flow
        for flow in flows
        if not flow.default and (flow.condition is None or run.condition_holds(flow.condition))
    ]
    if chosen:
        return chosen
    default = next((flow for flow in flows if flow.default), None)
    if default is None:
        raise Failure(f"no condition of gateway {gateway.id!r} holds and it has no default")
    return [default]
