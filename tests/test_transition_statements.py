"""The worker writes a transition in a fixed, small number of statements: it does so for
every step of every instance. Each one applies at most once, whatever the retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select

from api.db import SessionMaker
from api.models import HistoryEvent, ProcessInstance, Task
from api.services.definitions import DefinitionService
from api.services.transitions import apply_transition
from api.services.users import UserService
from bench.statements import counting_statements
from engine import interpreter
from engine.events import CompleteTask, StartInstance
from engine.validation import parse_definition
from engine.workflow_contract import ProcessInput, TransitionRecord
from tests.factories import process, task
from tests.kit.people import make_user


async def test_a_start_and_a_completion_cost_three_statements_each(
    sessions: SessionMaker, users: UserService, unique: str
) -> None:
    group = f"g-{unique}"
    person = await make_user(users, groups=[group])
    row = await DefinitionService(sessions).deploy(
        process("one", [task("work", group)], [("start", "work"), ("work", "end")]),
        await users.principal(person.id),
    )
    definition = parse_definition(row.spec)
    instance_id, now = str(uuid.uuid4()), datetime.now(UTC)
    started = interpreter.start(
        definition, instance_id, StartInstance(initiator=person.username, at=now)
    )
    first = TransitionRecord(
        instance_id=instance_id,
        step=1,
        at=now,
        status=started.state.status,
        variables=started.state.variables,
        commands=started.commands,
        start=ProcessInput(
            instance_id=instance_id,
            definition_id=str(row.id),
            spec=row.spec,
            initiator=person.username,
            initiator_id=str(person.id),
        ),
        actor=person.username,
        actor_id=str(person.id),
    )
    [task_id] = started.state.open_tasks
    done = interpreter.handle(
        definition, started.state, CompleteTask(task_id=task_id, actor=person.username, at=now)
    )
    second = TransitionRecord(
        instance_id=instance_id,
        step=2,
        at=now,
        status=done.state.status,
        variables=done.state.variables,
        commands=done.commands,
        actor=person.username,
        actor_id=str(person.id),
    )

    with counting_statements() as on_start:
        notices = await apply_transition(sessions, first)
    # The log writer's mark, the instance row with its seq numbers, the task, the history.
    assert len(on_start) == 4, on_start
    assert [n.seq for n in notices] == list(range(1, len(notices) + 1))
    with counting_statements() as on_completion:
        notices = await apply_transition(sessions, second)
    # The mark, the instance row, the task closed with its outbox row, the history; the
    # actor's id came with the record, so no user is looked up.
    assert len(on_completion) == 4, on_completion
    assert {n.type.value for n in notices} >= {"TASK_COMPLETED", "INSTANCE_COMPLETED"}

    # A retried activity applies nothing twice.
    assert await apply_transition(sessions, second) == []
    async with sessions() as session:
        instance = await session.get(ProcessInstance, uuid.UUID(instance_id))
        closed = await session.get(Task, uuid.UUID(task_id))
        events = (
            await session.exec(
                select(sa.func.count()).where(
                    col(HistoryEvent.instance_id) == uuid.UUID(instance_id)
                )
            )
        ).one()
    assert instance is not None and instance.step == 2 and instance.last_seq == events
    assert closed is not None and closed.status.value == "COMPLETED"
    assert closed.completed_by == person.id and closed.assignee_id == person.id
