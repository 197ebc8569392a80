"""Timers: an intermediate timer holds its token until it fires; a boundary timer runs
while its task is open and, when it fires, either interrupts the task or starts a new
path beside it."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.commands import StartTimer
from engine.durations import parse_duration, parse_timestamp
from engine.enums import HistoryEventType
from engine.events import TimerFired
from engine.failures import Failure
from engine.node_types import Node, Timer
from engine.nodes import boundaries
from engine.state import TimerWait, Token

if TYPE_CHECKING:
    from engine.run import Run


def enter_intermediate(run: "Run", token: Token, node: Timer) -> None:
    _start(run, token, node, _fire_at(run, node))


def attach(run: "Run", token: Token, host: Node) -> None:
    """Start the boundary timers of the task the token has entered. All are evaluated
    before any starts, so a failure leaves none behind to start twice on a retry."""
    planned = [
        (boundary, _fire_at(run, boundary))
        for boundary in run.definition.boundaries(host.id)
        if isinstance(boundary, Timer)
    ]
    for boundary, fire_at in planned:
        _start(run, token, boundary, fire_at)


def fired(run: "Run", event: TimerFired) -> list[Token]:
    """Move on from the timer; the caller has checked that it is still running."""
    timer = run.state.timers.pop(event.timer_id)
    token = run.token(timer.token_id)
    node = run.definition.node_of(timer.node_id, Timer)
    run.history(HistoryEventType.TIMER_FIRED, node_id=node.id, data={"timer_id": event.timer_id})
    if not node.is_boundary:
        return run.leave(token)
    if node.interrupts:
        boundaries.interrupt(run, token, node)
        return [token]
    return [boundaries.branch_off(run, node)]


def _start(run: "Run", token: Token, node: Timer, fire_at: datetime) -> None:
    timer_id = run.new_id("timer")
    run.state.timers[timer_id] = TimerWait(node_id=node.id, token_id=token.id, fire_at=fire_at)
    run.emit(StartTimer(timer_id=timer_id, node_id=node.id, fire_at=fire_at))
    run.history(
        HistoryEventType.TIMER_STARTED,
        node_id=node.id,
        data={"timer_id": timer_id, "fire_at": fire_at.isoformat()},
    )


def _fire_at(run: "Run", node: Timer) -> datetime:
    """`duration` counts from now (the event's time); `until` is a timestamp."""
    if node.duration is not None:
        value = run.resolve("duration", node.duration)
        if isinstance(value, str):
            try:
                value = parse_duration(value)
            except ValueError as error:
                raise Failure(f"duration: {error}") from None
        if not isinstance(value, timedelta):
            raise Failure(f"duration gave {value!r}, not a duration")
        return run.at + value
    value = run.resolve("until", node.until)
    if isinstance(value, str):
        try:
            value = parse_timestamp(value)
        except ValueError as error:
            raise Failure(f"until: {error}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise Failure(f"until gave {value!r}, not an RFC 3339 timestamp")
    return value
