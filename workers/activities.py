"""Activities of `ProcessWorkflow`: the workflow's only way to touch PostgreSQL and Redis."""

from __future__ import annotations

from temporalio import activity

from api.db import SessionMaker
from api.events import EventBus
from api.services.transitions import apply_transition
from engine.messages import TransitionRecord
from workers.workflow import APPLY_TRANSITION


class ProcessActivities:
    def __init__(self, sessions: SessionMaker, bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus

    @activity.defn(name=APPLY_TRANSITION)
    async def apply_transition(self, record: TransitionRecord) -> None:
        await self._bus.publish(await apply_transition(self._sessions, record))
