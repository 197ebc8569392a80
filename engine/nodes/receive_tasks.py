"""Receive tasks: a token waits for a message by name; the message's variables are
merged when it arrives."""

import copy
from typing import TYPE_CHECKING

from engine.enums import HistoryEventType
from engine.events import MessageReceived
from engine.node_types import ReceiveTask
from engine.state import InstanceState, Token

if TYPE_CHECKING:
    from engine.run import Run


def wait(run: "Run", token: Token, node: ReceiveTask) -> None:
    run.state.messages[token.id] = node.message


def receiver(state: InstanceState, name: str) -> str | None:
    """The token a message goes to: the one waiting longest for that name (one message
    moves one token)."""
    return next((token for token, awaited in state.messages.items() if awaited == name), None)


def receive(run: "Run", event: MessageReceived) -> list[Token]:
    """Merge the message's variables and move on; the caller has checked a token waits."""
    token_id = receiver(run.state, event.name)
    assert token_id is not None, f"no token waits for {event.name!r}"
    del run.state.messages[token_id]
    token = run.token(token_id)
    run.state.variables.update(copy.deepcopy(event.variables))
    run.history(
        HistoryEventType.MESSAGE_RECEIVED,
        node_id=token.node_id,
        actor=event.actor,
        data={"name": event.name, "variables": copy.deepcopy(event.variables)},
    )
    return run.leave(token)
