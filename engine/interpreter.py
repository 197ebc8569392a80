"""The interpreter: (definition, state, event) -> Transition(new state, commands).

Pure and deterministic, because it runs inside the Temporal workflow sandbox:
the event brings the time, and new ids are derived from the instance id and a
counter kept in the state. The caller carries out the commands (the read
model, the inbox, history) and keeps the new state for the next event.

Execution is token based: a token sits on the node it has entered. Each event
moves tokens on until every one waits (at a user task) or is consumed (at an
end event), so parallel gateways can later fork and join tokens.
"""

import copy
from collections import deque
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, Field

from engine.definition import Definition, Flow, Node
from engine.durations import parse_duration
from engine.enums import HistoryEventType, InstanceStatus, NodeType, TaskStatus
from engine.expressions import ExpressionError, evaluate, resolve

# Steps (node executions) one event may take. A cycle through gateways whose
# conditions never change has no wait state; it becomes an incident rather than
# a workflow task that never finishes.
MAX_STEPS = 10_000


class Token(BaseModel):
    id: str
    node_id: str


class InstanceState(BaseModel):
    """Everything the interpreter needs between events; JSON round-trips exactly."""

    instance_id: str
    status: InstanceStatus
    variables: dict[str, Any]
    tokens: list[Token]
    open_tasks: dict[str, str]  # task id -> id of the token waiting for it
    seq: int = 0  # last history sequence number used
    counter: int = 0  # last number used for a derived id
    # Kept because expressions of tasks created later may read `initiator`.
    initiator: str | None = None


class StartInstance(BaseModel):
    variables: dict[str, Any] = Field(default_factory=dict)
    initiator: str | None = None
    at: AwareDatetime


class CompleteTask(BaseModel):
    task_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    at: AwareDatetime


class CreateTask(BaseModel):
    kind: Literal["create_task"] = "create_task"
    task_id: str
    node_id: str
    name: str
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    priority: int
    due_at: datetime | None
    form: dict[str, Any] | None


class CloseTask(BaseModel):
    kind: Literal["close_task"] = "close_task"
    task_id: str
    status: TaskStatus
    actor: str | None


class AppendHistory(BaseModel):
    kind: Literal["append_history"] = "append_history"
    seq: int  # with the instance id, the idempotency key of the history row
    type: HistoryEventType
    at: datetime
    node_id: str | None
    task_id: str | None
    actor: str | None
    data: dict[str, Any]


class RaiseIncident(BaseModel):
    kind: Literal["raise_incident"] = "raise_incident"
    node_id: str
    message: str


Command = Annotated[
    CreateTask | CloseTask | AppendHistory | RaiseIncident, Field(discriminator="kind")
]


class Transition(BaseModel):
    state: InstanceState
    commands: list[Command]


class InvalidEvent(Exception):
    """The event does not apply to the instance as it is; nothing was changed."""


def start(definition: Definition, instance_id: str, event: StartInstance) -> Transition:
    """Start an instance: a token on the start event, run until it waits or ends."""
    try:
        UUID(instance_id)
    except ValueError:
        raise InvalidEvent(f"instance id {instance_id!r} is not a UUID") from None
    state = InstanceState(
        instance_id=instance_id,
        status=InstanceStatus.RUNNING,
        variables=copy.deepcopy(event.variables),
        tokens=[],
        open_tasks={},
        initiator=event.initiator,
    )
    run = _Run(definition, state, event.at)
    run.history(
        HistoryEventType.INSTANCE_STARTED,
        actor=event.initiator,
        data={"variables": copy.deepcopy(event.variables), "initiator": event.initiator},
    )
    token = Token(id=run.new_id("token"), node_id=definition.start_node.id)
    state.tokens.append(token)
    run.history(HistoryEventType.NODE_ENTERED, node_id=token.node_id)
    run.advance([token])
    return run.transition()


def can_complete(state: InstanceState, task_id: str) -> str | None:
    """Why the task cannot be completed now, or None if it can."""
    if state.status is not InstanceStatus.RUNNING:
        return f"instance is {state.status}, not RUNNING"
    if task_id not in state.open_tasks:
        return f"task {task_id!r} is not open in this instance"
    return None


def complete_task(definition: Definition, state: InstanceState, event: CompleteTask) -> Transition:
    """Complete a task: merge its variables and move its token on."""
    reason = can_complete(state, event.task_id)
    if reason is not None:
        raise InvalidEvent(reason)
    run = _Run(definition, state.model_copy(deep=True), event.at)
    token = run.token(run.state.open_tasks.pop(event.task_id))
    run.state.variables.update(copy.deepcopy(event.variables))
    run.commands.append(
        CloseTask(task_id=event.task_id, status=TaskStatus.COMPLETED, actor=event.actor)
    )
    run.history(
        HistoryEventType.TASK_COMPLETED,
        node_id=token.node_id,
        task_id=event.task_id,
        actor=event.actor,
        data={"variables": copy.deepcopy(event.variables)},
    )
    run.take(token, run.only_flow(token))
    run.advance([token])
    return run.transition()


class _Incident(Exception):
    """A node cannot go on (an expression failed, no flow applies)."""


class _Run:
    """One transition in progress, on a state it owns (a copy of the input's)."""

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
        self.commands.append(
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

    def context(self) -> dict[str, Any]:
        """What expressions see: the variables, and `initiator` (which they cannot override)."""
        return {**self.state.variables, "initiator": self.state.initiator}

    def advance(self, tokens: list[Token]) -> None:
        """Move tokens on until each waits, is consumed, or is stuck in an incident."""
        active = deque(tokens)
        while active:
            token = active.popleft()
            if self.steps == MAX_STEPS:
                for stuck in (token, *active):
                    self.incident(
                        stuck,
                        f"more than {MAX_STEPS} steps without reaching a wait state; "
                        "is there a loop whose conditions never change?",
                    )
                return
            self.steps += 1
            try:
                moved = self.execute(token)
            except _Incident as error:
                self.incident(token, str(error))
            else:
                if moved:
                    active.append(token)

    def execute(self, token: Token) -> bool:
        """Carry out the node the token has entered; True if the token moved on."""
        node = self.definition.node(token.node_id)
        match node.type:
            case NodeType.START_EVENT:
                self.take(token, self.only_flow(token))
                return True
            case NodeType.USER_TASK:
                self.create_task(token, node)
                return False
            case NodeType.EXCLUSIVE_GATEWAY:
                self.take(token, self.choose_flow(node))
                return True
            case NodeType.END_EVENT:
                self.history(HistoryEventType.NODE_LEFT, node_id=node.id)
                self.state.tokens.remove(token)
                if not self.state.tokens:
                    self.state.status = InstanceStatus.COMPLETED
                    self.history(HistoryEventType.INSTANCE_COMPLETED)
                return False

    def only_flow(self, token: Token) -> Flow:
        # Validation allows exactly one outgoing flow on nodes other than gateways.
        return self.definition.outgoing(token.node_id)[0]

    def take(self, token: Token, flow: Flow) -> None:
        self.history(HistoryEventType.NODE_LEFT, node_id=token.node_id)
        token.node_id = flow.to
        self.history(HistoryEventType.NODE_ENTERED, node_id=flow.to)

    def choose_flow(self, gateway: Node) -> Flow:
        """The first flow whose condition holds, in definition order, else the default."""
        default = None
        for flow in self.definition.outgoing(gateway.id):
            if flow.default:
                default = flow
            elif flow.condition is None or self.condition_holds(flow.condition):
                return flow
        if default is None:
            raise _Incident(f"no condition of gateway {gateway.id!r} holds and it has no default")
        return default

    def condition_holds(self, condition: str) -> bool:
        try:
            result = evaluate(condition, self.context())
        except ExpressionError as error:
            raise _Incident(str(error)) from None
        if not isinstance(result, bool):
            raise _Incident(f"condition {condition!r} gave {result!r}, not true or false")
        return result

    def create_task(self, token: Token, node: Node) -> None:
        assignee = self.user_or_none("assignee", node.assignee)
        candidate_users = self.names("candidateUsers", node.candidateUsers)
        candidate_groups = self.names("candidateGroups", node.candidateGroups)
        priority = self.priority(node.priority)
        due_at = self.due_at(node.due)
        task_id = self.new_id("task")
        self.state.open_tasks[task_id] = token.id
        self.history(HistoryEventType.TASK_CREATED, node_id=node.id, task_id=task_id)
        self.commands.append(
            CreateTask(
                task_id=task_id,
                node_id=node.id,
                name=node.name or node.id,
                assignee=assignee,
                candidate_users=candidate_users,
                candidate_groups=candidate_groups,
                priority=priority,
                due_at=due_at,
                form=copy.deepcopy(node.form),
            )
        )

    def resolve(self, field: str, value: Any) -> Any:
        try:
            return resolve(value, self.context())
        except ExpressionError as error:
            raise _Incident(f"{field}: {error}") from None

    def user_or_none(self, field: str, value: str | None) -> str | None:
        result = self.resolve(field, value)
        if result is not None and not isinstance(result, str):
            raise _Incident(f"{field} gave {result!r}, not a string")
        return result

    def names(self, field: str, values: list[str]) -> list[str]:
        """Resolve each entry; an expression may give one name, a list of them, or null."""
        names: list[str] = []
        for value in values:
            result = self.resolve(field, value)
            results = result if isinstance(result, list) else [] if result is None else [result]
            if not all(isinstance(name, str) for name in results):
                raise _Incident(f"{field} gave {result!r}, not names")
            names += [name for name in results if name not in names]
        return names

    def priority(self, value: int | str) -> int:
        result = self.resolve("priority", value)
        # bool is an int subclass, but `true` is no priority.
        if not isinstance(result, int) or isinstance(result, bool):
            raise _Incident(f"priority gave {result!r}, not an integer")
        return result

    def due_at(self, value: str | None) -> datetime | None:
        """A duration counts from now (the event's time); a timestamp is taken as is."""
        result = self.resolve("due", value)
        if result is None or isinstance(result, datetime):
            return result
        if isinstance(result, timedelta):
            return self.at + result
        if isinstance(result, str):
            try:
                return self.at + parse_duration(result)
            except ValueError as error:
                raise _Incident(f"due: {error}") from None
        raise _Incident(f"due gave {result!r}, not a duration or a timestamp")

    def incident(self, token: Token, message: str) -> None:
        """Stop the token where it is, for a later retry, and put the instance in INCIDENT."""
        self.state.status = InstanceStatus.INCIDENT
        self.commands.append(RaiseIncident(node_id=token.node_id, message=message))
        self.history(
            HistoryEventType.INCIDENT_RAISED, node_id=token.node_id, data={"message": message}
        )
