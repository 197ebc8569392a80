"""Activities of `ProcessWorkflow`: the workflow's only way to touch the world."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from api.db import SessionMaker
from api.errors import BadUserInput, NotFound
from api.events import EventBus
from api.inputs import check_value
from api.metrics import ACTIONS, ACTIVITY_RETRIES, TRANSITIONS
from api.services.definitions import DefinitionService
from api.services.transitions import apply_transition
from engine.workflow_contract import (
    ACTIVITY_APPLY_TRANSITION,
    ACTIVITY_RESOLVE_DEFINITION,
    ACTIVITY_RUN_ACTION,
    ResolvedDefinition,
    ResolveDefinitionInput,
    RunActionInput,
    TransitionRecord,
)
from workers.actions import Action, ActionFailed


async def _heartbeating(work: Awaitable[Any]) -> Any:
    """Await the action, heartbeating while it runs when the workflow asked for heartbeats:
    their absence is how Temporal learns, within the heartbeat timeout, that this worker
    died under the action (and a heartbeat is how a cancellation reaches it)."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        return await work
    running = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({running}, timeout=timeout.total_seconds() / 3)
            if done:
                return running.result()
            activity.heartbeat()
    finally:
        running.cancel()


def _count_retry(action: str = "") -> None:
    info = activity.info()
    if info.attempt > 1:
        ACTIVITY_RETRIES.labels(info.activity_type, action).inc()


class ProcessActivities:
    def __init__(
        self, sessions: SessionMaker, bus: EventBus, actions: Mapping[str, Action]
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._actions = actions
        self._definitions = DefinitionService(sessions)

    @activity.defn(name=ACTIVITY_APPLY_TRANSITION)
    async def apply_transition(self, record: TransitionRecord) -> None:
        _count_retry()
        await self._bus.publish(await apply_transition(self._sessions, record))
        TRANSITIONS.inc()

    @activity.defn(name=ACTIVITY_RUN_ACTION)
    async def run_action(self, input: RunActionInput) -> Any:
        _count_retry(input.action)
        action = self._actions.get(input.action)
        if action is None:
            raise ApplicationError(
                f"no action named {input.action!r} is installed",
                type="UNKNOWN_ACTION",
                non_retryable=True,
            )
        try:
            result = await _heartbeating(action(input.input))
        except ActionFailed as exc:
            ACTIONS.labels(input.action, exc.code).inc()
            raise ApplicationError(
                exc.message, type=exc.code, non_retryable=not exc.retryable
            ) from exc
        try:
            # The result goes into the variables: what PostgreSQL cannot store (a NUL
            # in an answer) would fail the instance's next write, again and again.
            check_value(result, "result")
        except BadUserInput as exc:
            ACTIONS.labels(input.action, "BAD_RESULT").inc()
            raise ApplicationError(
                f"the result of {input.action!r} cannot be stored: {exc.message}",
                type="BAD_RESULT",
                non_retryable=True,
            ) from exc
        ACTIONS.labels(input.action, "ok").inc()
        return result

    @activity.defn(name=ACTIVITY_RESOLVE_DEFINITION)
    async def resolve_definition(self, input: ResolveDefinitionInput) -> ResolvedDefinition:
        """The definition a call activity starts: pinned when the child starts."""
        try:
            row = await self._definitions.find(input.key, input.version)
        except NotFound as exc:
            raise ApplicationError(exc.message, type="NOT_FOUND", non_retryable=True) from exc
        return ResolvedDefinition(definition_id=str(row.id), spec=row.spec)
