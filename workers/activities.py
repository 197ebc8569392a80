"""Activities of `ProcessWorkflow`: the workflow's only way to touch PostgreSQL and Redis."""

from __future__ import annotations

import logging

from temporalio import activity

from api.db import SessionMaker
from api.events import EventBus
from api.services.transitions import apply_transition
from engine.messages import TransitionRecord
from workers.workflow import APPLY_TRANSITION

log = logging.getLogger(__name__)


class ProcessActivities:
    def __init__(self, sessions: SessionMaker, bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus

    @activity.defn(name=APPLY_TRANSITION)
    async def apply_transition(self, record: TransitionRecord) -> None:
        notices = await apply_transition(self._sessions, record)
        try:
            await self._bus.publish(notices)
        except Exception:
            # The transition is committed and history_events holds every event:
            # subscribers catch up from there. Failing here would only retry a
            # write that is already done.
            log.exception("publishing %d notices of %s failed", len(notices), record.instance_id)
