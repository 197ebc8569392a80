"""The 30-node definition (gateways, parallel branches, a loop, every kind of wait) runs
from start to end."""

from bench.thirty_nodes import THIRTY_NODE_START, Autopilot, run_thirty_node, thirty_node_definition
from engine.enums import HistoryEventType, InstanceStatus
from engine.validation import parse_definition
from tests.engine_fixtures import Scenario, entered, history


def run_scenario() -> Scenario:
    scenario = Scenario(parse_definition(thirty_node_definition()))
    pilot = Autopilot()
    pilot.saw(scenario.last)
    while scenario.status() is InstanceStatus.RUNNING:
        scenario.later(minutes=1)
        event = pilot.next_event(scenario.state, scenario.now)
        assert event is not None, f"stuck at {[t.node_id for t in scenario.state.tokens]}"
        pilot.saw(scenario.send(event))
    return scenario


def test_the_definition_has_thirty_nodes() -> None:
    assert len(thirty_node_definition()["nodes"]) == 30


def test_the_thirty_node_definition_runs_to_the_end() -> None:
    scenario = run_scenario()
    assert scenario.status() is InstanceStatus.COMPLETED
    assert scenario.state.tokens == []
    assert scenario.state.variables == {
        **THIRTY_NODE_START,
        "validated": True,
        "round": 1,
        "charge_id": "o-1-charge",
        "reserved": True,
        "insured": True,
        "labelled": True,
        "invoiced": True,
        "approved": True,
        "carrier": "DHL",
        "tracking": "TRK-1",
        "ratings": [{"score": 3}, {"score": 4}, None],
    }
    visited = set(entered(scenario.commands))
    assert visited == {n["id"] for n in thirty_node_definition()["nodes"]} - {
        "charge_failed",
        "fix_payment",
    }
    # The rework loop ran once: review twice.
    assert entered(scenario.commands).count("review") == 2
    seqs = [event.seq for event in history(scenario.commands)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert history(scenario.commands)[-1].type is HistoryEventType.INSTANCE_COMPLETED


def test_run_thirty_node_gives_the_same_transitions() -> None:
    assert run_thirty_node() == run_scenario().transitions
