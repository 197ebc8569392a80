"""Receive tasks: waiting for a message by name; a message nobody waits for is refused."""

from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus
from engine.events import MessageReceived, Suspend
from tests.engine_fixtures import Scenario, chain, definition, entered, history


def awaiting(*messages: str) -> Definition:
    """start -> a receive task per message, in parallel -> end."""
    waits = [{"id": f"await_{m}", "type": "receiveTask", "message": m} for m in messages]
    if len(messages) == 1:
        return definition(
            [{"id": "start", "type": "startEvent"}, *waits, {"id": "end", "type": "endEvent"}],
            chain("start", f"await_{messages[0]}", "end"),
        )
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            *waits,
            {"id": "join", "type": "parallelGateway"},
            {"id": "end", "type": "endEvent"},
        ],
        [
            {"from": "start", "to": "fork"},
            *[f for w in waits for f in chain("fork", w["id"], "join")],
            {"from": "join", "to": "end"},
        ],
    )


def message(scenario: Scenario, name: str, **variables: object) -> MessageReceived:
    return MessageReceived(name=name, variables=variables, actor="billing", at=scenario.now)


def test_a_receive_task_waits_for_its_message() -> None:
    scenario = Scenario(awaiting("paid"))
    assert list(scenario.state.messages.values()) == ["paid"]
    assert scenario.status() is InstanceStatus.RUNNING


def test_the_message_variables_are_merged_and_the_token_moves_on() -> None:
    scenario = Scenario(awaiting("paid"), order="o-1")
    received = scenario.send(message(scenario, "paid", amount=12, order="o-1"))
    first = history(received.commands)[0]
    assert (first.type, first.node_id, first.actor) == (
        HistoryEventType.MESSAGE_RECEIVED,
        "await_paid",
        "billing",
    )
    assert first.data == {"name": "paid", "variables": {"amount": 12, "order": "o-1"}}
    assert scenario.state.variables == {"order": "o-1", "amount": 12}
    assert scenario.state.messages == {}
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_message_no_token_waits_for_is_refused() -> None:
    scenario = Scenario(awaiting("paid", "shipped"))
    reason = scenario.refused(message(scenario, "refunded"))
    assert reason == "no token waits for message 'refunded' (it waits for 'paid', 'shipped')"


def test_a_message_already_received_is_refused_the_second_time() -> None:
    scenario = Scenario(awaiting("paid", "shipped"))
    scenario.send(message(scenario, "paid"))
    assert "no token waits for message 'paid'" in scenario.refused(message(scenario, "paid"))
    scenario.send(message(scenario, "shipped"))
    assert scenario.status() is InstanceStatus.COMPLETED
    assert scenario.refused(message(scenario, "shipped")) == "instance is COMPLETED, not RUNNING"


def test_one_message_moves_one_token_the_one_waiting_longest() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "fork", "type": "parallelGateway"},
                {"id": "first", "type": "receiveTask", "message": "go"},
                {"id": "second", "type": "receiveTask", "message": "go"},
                {"id": "join", "type": "parallelGateway"},
                {"id": "end", "type": "endEvent"},
            ],
            [
                *chain("start", "fork", "first", "join", "end"),
                *chain("fork", "second", "join"),
            ],
        )
    )
    assert entered(scenario.send(message(scenario, "go")).commands) == ["join"]
    assert [t.node_id for t in scenario.state.tokens] == ["join", "second"]
    scenario.send(message(scenario, "go"))
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_message_to_a_suspended_instance_is_refused() -> None:
    scenario = Scenario(awaiting("paid"))
    scenario.send(Suspend(actor="admin", at=scenario.now))
    assert scenario.refused(message(scenario, "paid")) == "instance is SUSPENDED, not RUNNING"
