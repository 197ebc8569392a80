"""One transition in progress: the state it owns, the commands it has emitted, and the
moves every node behaviour shares (ids, history, taking flows, incidents)."""

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid5

from engine.commands import AppendHistory, Command, RaiseIncident, Transition
from engine.definition import Definition, Flow
from engine.enums import OPEN_INSTANCE_STATUSES, HistoryEventType, InstanceStatus
from engine.expressions import (
    ExpressionError,
    evaluate,
    is_expression,
    plain,
    resolve,
    resolve_nested,
)
from engine.failures import Failure
from engine.nodes import enter
from engine.nodes.ends import end_path
from engine.nodes.gateways import fire_inclusive_join, fork
from engine.nodes.waits import cancel_timers
from engine.state import Incident, InstanceState, Redo, Token

# Steps (node executions) one event may take. A cycle through gateways whose
# conditions never change has no wait state; it becomes an incident rather than
# a workflow task that never finishes.
MAX_STEPS = 10_000


class Run:
    """A transition in progress, on a state it owns (a copy of the input's)."""

    def __init__(self, definition: Definition, state: InstanceState, at: datetime) -> None:
        self.definition = definition
        self.state = state
        self.at = at
        self.commands: list[Command] = []
        self.steps = 0
        self.namespace = UUID(state.instance_id)

    def transition(self) -> Transition:
        return Transition(state=self.state, commands=self.commands)

    def new_id(self, kind: str) -> str:
        self.state.counter += 1
        return str(uuid5(self.namespace, f"{kind}:{self.state.counter}"))

    def emit(self, command: Command) -> None:
        self.commands.append(command)

    def history(
        self,
        type: HistoryEventType,
        *,
        node_id: str | None = None,
        task_id: str | None = None,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.state.seq += 1
        self.emit(
            AppendHistory(
                seq=self.state.seq,
                type=type,
                at=self.at,
                node_id=node_id,
                task_id=task_id,
                actor=actor,
                data=data or {},
            )
        )

    def token(self, token_id: str) -> Token:
        return next(token for token in self.state.tokens if token.id == token_id)

    def spawn(self, node_id: str) -> Token:
        """A new token on a node (entered by the caller)."""
        token = Token(id=self.new_id("token"), node_id=node_id)
        self.state.tokens.append(token)
        return token

    # Expressions

    def context(self, local: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What expressions see: the variables, what only this task sees (a multi-instance
        element), and `initiator` (which neither can override)."""
        return {**self.state.variables, **(local or {}), "initiator": self.state.initiator}

    def evaluate(self, field: str, source: str, context: Mapping[str, Any]) -> Any:
        try:
            return evaluate(source, context)
        except ExpressionError as error:
            raise Failure(f"{field}: {error}") from None

    def mapped(
        self, field: str, mapping: Mapping[str, str], context: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Variable name -> CEL expression, evaluated over `context` into plain JSON values
        (a service task's `output`, a call activity's `outputs`)."""
        values = {}
        for name, source in mapping.items():
            value = self.evaluate(f"{field}.{name}", source, context)
            try:
                values[name] = plain(value)
            except ExpressionError as error:
                raise Failure(f"{field}.{name}: {error}") from None
        return values

    def resolve(self, field: str, value: Any, local: Mapping[str, Any] | None = None) -> Any:
        if not is_expression(value):
            # Most fields are literals: no need to copy every variable into a context.
            return value
        try:
            return resolve(value, self.context(local))
        except ExpressionError as error:
            raise Failure(f"{field}: {error}") from None

    def resolve_nested(self, field: str, value: Any) -> Any:
        try:
            return resolve_nested(value, self.context())
        except ExpressionError as error:
            raise Failure(f"{field}: {error}") from None

    def condition_holds(self, condition: str, context: Mapping[str, Any] | None = None) -> bool:
        try:
            result = evaluate(condition, self.context() if context is None else context)
        except ExpressionError as error:
            raise Failure(str(error)) from None
        if not isinstance(result, bool):
            raise Failure(f"condition {condition!r} gave {result!r}, not true or false")
        return result

    # Moving tokens

    def advance(self, tokens: list[Token]) -> None:
        """Move tokens on until each waits, is consumed, or is stuck in an incident.

        An inclusive join can only tell it may fire once nothing else moves, so those
        are looked at whenever the tokens in hand have all come to rest.
        """
        active = deque(tokens)
        while True:
            if self.state.status not in OPEN_INSTANCE_STATUSES:
                return  # a terminate end ended the instance: the other tokens are gone
            if not active:
                active.extend(fire_inclusive_join(self))
                if not active:
                    return
            token = active.popleft()
            if self.steps == MAX_STEPS:
                for stuck in (token, *active):
                    self.incident(
                        stuck,
                        Failure(
                            f"more than {MAX_STEPS} steps without reaching a wait state; "
                            "is there a loop whose conditions never change?"
                        ),
                    )
                return
            self.steps += 1
            active.extend(self.attempt(token, partial(enter, self, token)))

    def attempt(
        self,
        token: Token,
        step: Callable[[], list[Token]],
        redo: Redo | None = None,
        result: Any = None,
    ) -> list[Token]:
        """Run a step of a token; when it fails, the token stops in an incident whose
        retry redoes `redo` (or what the failure says). Returns the tokens that moved."""
        try:
            return step()
        except Failure as failure:
            self.incident(token, failure if redo is None else failure.to_redo(redo, result))
            return []

    def leave(self, token: Token) -> list[Token]:
        """Leave a node other than a gateway or an end event by its outgoing flows, as
        BPMN defines it: one moves the token on, several fork it like a parallel gateway
        (an implicit fork), none ends its path (an implicit end). Returns the tokens that
        moved."""
        flows = self.definition.outgoing(token.node_id)
        if flows:
            return fork(self, token, flows)
        self.depart(token)
        end_path(self, token)
        return []

    def take(self, token: Token, flow: Flow) -> None:
        self.depart(token)
        self.arrive(token, flow)

    def depart(self, token: Token) -> None:
        """Leave the token's node, stopping the timers it held there."""
        cancel_timers(self, token)
        self.history(HistoryEventType.NODE_LEFT, node_id=token.node_id)

    def arrive(self, token: Token, flow: Flow) -> None:
        token.node_id = flow.to
        token.via = self.definition.flow_index(flow)
        self.history(HistoryEventType.NODE_ENTERED, node_id=flow.to)

    def jump(self, token: Token, node_id: str) -> None:
        """Move the token to a node no flow leads to: a boundary event of its task."""
        self.depart(token)
        token.node_id = node_id
        token.via = None
        self.history(HistoryEventType.NODE_ENTERED, node_id=node_id)

    def incident(self, token: Token, failure: Failure) -> None:
        """Stop the token where it is, for a later retry, and put the instance in INCIDENT."""
        self.state.status = InstanceStatus.INCIDENT
        self.state.incidents[token.id] = Incident(
            node_id=token.node_id,
            message=failure.message,
            redo=failure.redo,
            result=failure.result,
        )
        self.emit(RaiseIncident(node_id=token.node_id, message=failure.message))
        self.history(
            HistoryEventType.INCIDENT_RAISED,
            node_id=token.node_id,
            data={"message": failure.message},
        )
