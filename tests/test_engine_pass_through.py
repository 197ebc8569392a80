"""Pass-through nodes (`task`): BPMN's plain task, manual task and none intermediate throw
event, which a token enters and leaves in the same step."""

from engine.bpmn import bpmn_to_definition
from engine.enums import HistoryEventType, InstanceStatus, NodeType
from engine.validation import parse_definition, validate_definition
from tests.engine_fixtures import Scenario, chain, definition, entered, history
from tests.test_engine_bpmn import document, node


def test_a_token_passes_straight_through_a_task() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "call_customer", "type": "task", "name": "Call the customer"},
                {"id": "review", "type": "userTask"},
                {"id": "filed", "type": "task"},
                {"id": "end", "type": "endEvent"},
            ],
            chain("start", "call_customer", "review", "filed", "end"),
        )
    )
    assert entered(scenario.last.commands) == ["start", "call_customer", "review"]
    left = [
        e.node_id for e in history(scenario.last.commands) if e.type is HistoryEventType.NODE_LEFT
    ]
    assert left == ["start", "call_customer"]
    assert [token.node_id for token in scenario.state.tokens] == ["review"]

    # Scenario.send also replays each event on the state saved to JSON and restored.
    scenario.complete(scenario.task("review"))
    assert entered(scenario.last.commands) == ["filed", "end"]
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_task_is_a_node_like_any_other_to_validation() -> None:
    nodes = [
        {"id": "start", "type": "startEvent"},
        {"id": "milestone", "type": "task"},
        {"id": "end", "type": "endEvent"},
    ]
    assert (
        validate_definition(
            {"key": "k", "name": "K", "nodes": nodes, "flows": chain("start", "milestone", "end")}
        )
        == []
    )
    dangling = validate_definition(
        {"key": "k", "name": "K", "nodes": nodes, "flows": chain("start", "end")}
    )
    assert [(p.node_id, p.message) for p in dangling] == [
        ("milestone", "unreachable node: no path leads to it")
    ]
    extra = validate_definition(
        {
            "key": "k",
            "name": "K",
            "nodes": [*nodes[:1], {"id": "milestone", "type": "task", "action": "x"}, nodes[2]],
            "flows": chain("start", "milestone", "end"),
        }
    )
    assert [p.path for p in extra] == ["nodes[1].action"]


def test_bpmn_plain_manual_tasks_and_none_throw_events_become_tasks() -> None:
    for element in (
        '<bpmn:task id="n" name="Sign the paper" />',
        '<bpmn:manualTask id="n" name="Sign the paper" />',
        '<bpmn:intermediateThrowEvent id="n" name="Sign the paper" />',
    ):
        assert node(element) == {"id": "n", "type": NodeType.TASK, "name": "Sign the paper"}


def test_an_imported_model_with_pass_through_nodes_runs() -> None:
    xml = document(
        '<bpmn:startEvent id="start" />'
        '<bpmn:manualTask id="sign" />'
        '<bpmn:intermediateThrowEvent id="signed" />'
        '<bpmn:endEvent id="end" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sign" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="sign" targetRef="signed" />'
        '<bpmn:sequenceFlow id="f3" sourceRef="signed" targetRef="end" />'
    )
    scenario = Scenario(parse_definition(bpmn_to_definition(xml)))
    assert entered(scenario.last.commands) == ["start", "sign", "signed", "end"]
    assert scenario.status() is InstanceStatus.COMPLETED
