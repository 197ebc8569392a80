"""Definition validation: every problem at once, each naming its JSON path and node."""

import copy
import itertools
from typing import Any

import pytest

from engine.definition import Definition, Flow
from engine.enums import NodeType
from engine.validation import DefinitionInvalid, Problem, parse_definition, validate_definition
from tests.engine_fixtures import LEAVE_REQUEST


def leave_request() -> dict[str, Any]:
    return copy.deepcopy(LEAVE_REQUEST)


def linear(*middle: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """start -> each of `middle` in turn -> end."""
    nodes = [{"id": "start", "type": "startEvent"}, *middle, {"id": "end", "type": "endEvent"}]
    ids = [node["id"] for node in nodes]
    flows = [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]
    return {"key": "linear", "name": "Linear", "nodes": nodes, "flows": flows, **extra}


def problems_at(raw: dict[str, Any], path: str) -> list[Problem]:
    return [problem for problem in validate_definition(raw) if problem.path == path]


def only_problem(raw: dict[str, Any]) -> Problem:
    problems = validate_definition(raw)
    assert len(problems) == 1, problems
    return problems[0]


def test_design_example_is_valid() -> None:
    assert validate_definition(leave_request()) == []
    definition = parse_definition(leave_request())
    assert definition.start_node.id == "start"
    assert [flow.to for flow in definition.outgoing("decide")] == ["approved", "rejected"]
    assert [flow.from_ for flow in definition.incoming("decide")] == ["review"]
    assert definition.node("review").type is NodeType.USER_TASK


def test_reports_every_problem_at_once() -> None:
    raw = leave_request()
    raw["key"] = "1-starts-with-a-digit"
    raw["nodes"][1]["assigne"] = "bob"  # a typo
    raw["nodes"].append({"id": "orphan", "type": "userTask"})
    raw["flows"][2]["condition"] = "approved =="
    raw["flows"].append({"from": "decide", "to": "nowhere"})

    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition(raw)

    found = {(problem.path, problem.node_id) for problem in raised.value.problems}
    assert found >= {
        ("key", None),
        ("nodes[1].assigne", "review"),
        ("nodes[5]", "orphan"),
        ("flows[2].condition", "decide"),
        ("flows[4].to", "decide"),
    }
    for problem in raised.value.problems:
        assert str(problem) in str(raised.value)


def test_validate_definition_returns_what_parse_definition_raises() -> None:
    raw = linear({"id": "task", "type": "userTask", "priority": "high"})
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition(raw)
    assert validate_definition(raw) == raised.value.problems


def test_misspelt_field_names_path_and_node() -> None:
    raw = leave_request()
    raw["nodes"][1]["candidateGroup"] = ["managers"]
    assert only_problem(raw) == Problem(
        "nodes[1].candidateGroup",
        "userTask has no field 'candidateGroup'; did you mean 'candidateGroups'?",
        "review",
    )


def test_schema_errors_do_not_hide_structural_problems() -> None:
    raw = leave_request()
    raw["nodes"][1]["assigne"] = "bob"
    raw["nodes"].append({"id": "orphan", "type": "endEvent"})
    assert [problem.path for problem in validate_definition(raw)] == [
        "nodes[1].assigne",
        "nodes[5]",
    ]


def test_unknown_node_type_is_reported_without_graph_noise() -> None:
    raw = leave_request()
    raw["nodes"][2]["type"] = "xorGateway"
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == ("nodes[2].type", "decide")


def test_an_unknown_node_type_hides_no_other_problem() -> None:
    raw = leave_request()
    raw["nodes"][1]["type"] = "userTsk"
    raw["nodes"].append({"id": "join", "type": "parallelGateway"})
    raw["flows"][2]["condition"] = "approved =="
    # Both ways of the exclusive gateway meet at a parallel join: a join without a fork.
    raw["flows"][2]["to"] = raw["flows"][3]["to"] = "join"
    raw["flows"] += [{"from": "join", "to": "approved"}, {"from": "join", "to": "nowhere"}]

    found = {(p.path, p.node_id): p.message for p in validate_definition(raw)}

    assert found[("nodes[1].type", "review")].startswith(
        "unknown node type 'userTsk'; did you mean 'userTask'? The types are"
    )
    assert "parse" in found[("flows[2].condition", "decide")]
    assert found[("flows[5].to", "join")] == "unknown node 'nowhere'"
    assert "has no matching fork" in found[("nodes[5]", "join")]


def test_a_node_with_bad_fields_keeps_its_good_ones_checked() -> None:
    raw = linear({"id": "task", "type": "userTask", "priority": "high", "assignee": "=a +"})
    found = {p.path for p in validate_definition(raw)}
    assert found == {"nodes[1].priority", "nodes[1].assignee"}


def test_a_node_that_is_not_an_object_leaves_the_expressions_checked() -> None:
    raw = leave_request()
    raw["nodes"].append("orphan")
    raw["flows"][2]["condition"] = "approved =="
    found = {p.path for p in validate_definition(raw)}
    assert found == {"nodes[5]", "flows[2].condition"}


def test_node_id_must_be_an_identifier() -> None:
    raw = linear({"id": "has space", "type": "userTask"})
    assert problems_at(raw, "nodes[1].id")[0].node_id == "has space"


def test_duplicate_node_id_is_named() -> None:
    raw = linear({"id": "task", "type": "userTask"}, {"id": "task", "type": "userTask"})
    problem = Problem("nodes[2].id", "duplicate node id 'task' (nodes[1])", "task")
    assert problem in validate_definition(raw)


def test_duplicate_flow_id_is_named() -> None:
    raw = linear({"id": "task", "type": "userTask"})
    raw["flows"][0]["id"] = "f"
    raw["flows"][1]["id"] = "f"
    assert only_problem(raw) == Problem("flows[1].id", "duplicate flow id 'f' (flows[0])", "task")


def test_missing_start_event_is_reported() -> None:
    raw = linear()
    raw["nodes"][0]["type"] = "userTask"
    assert only_problem(raw).path == "nodes"


def test_second_start_event_is_named() -> None:
    raw = linear()
    raw["nodes"].append({"id": "another", "type": "startEvent"})
    raw["flows"].append({"from": "another", "to": "end"})
    assert only_problem(raw) == Problem(
        "nodes[2].type", "a second startEvent (the first is 'start')", "another"
    )


def test_flow_to_unknown_node_is_named() -> None:
    raw = linear({"id": "task", "type": "userTask"})
    raw["flows"][1]["to"] = "ned"
    problems = problems_at(raw, "flows[1].to")
    assert problems == [Problem("flows[1].to", "unknown node 'ned'", "task")]


def test_flow_from_unknown_node_is_named() -> None:
    raw = linear()
    raw["flows"].append({"from": "ghost", "to": "end"})
    assert only_problem(raw) == Problem("flows[1].from", "unknown node 'ghost'")


def test_start_event_with_incoming_flow_is_named() -> None:
    raw = linear({"id": "decide", "type": "exclusiveGateway"})
    raw["flows"][1]["condition"] = "done"
    raw["flows"].append({"from": "decide", "to": "start", "default": True})
    assert only_problem(raw) == Problem(
        "flows[2].to", "a startEvent cannot have incoming flows", "start"
    )


def test_end_event_with_outgoing_flow_is_named() -> None:
    raw = linear({"id": "task", "type": "userTask"})
    raw["flows"].append({"from": "end", "to": "task"})
    assert only_problem(raw) == Problem(
        "flows[2].from", "an endEvent cannot have outgoing flows", "end"
    )


def test_gateway_without_outgoing_flow_is_named() -> None:
    raw = linear({"id": "decide", "type": "exclusiveGateway"})
    raw["flows"].pop()
    assert Problem("nodes[1]", "gateway has no outgoing flow", "decide") in (
        validate_definition(raw)
    )


def test_condition_outside_a_gateway_is_named() -> None:
    raw = linear({"id": "task", "type": "userTask"})
    raw["flows"][1]["condition"] = "true"
    assert only_problem(raw) == Problem(
        "flows[1].condition",
        "only a flow leaving an exclusiveGateway or inclusiveGateway takes a condition",
        "task",
    )


def test_default_outside_a_gateway_is_named() -> None:
    raw = linear({"id": "task", "type": "userTask"})
    raw["flows"][0]["default"] = True
    assert only_problem(raw) == Problem(
        "flows[0].default",
        "only a flow leaving an exclusiveGateway or inclusiveGateway can be the default",
        "start",
    )


def test_gateway_with_two_default_flows_is_named() -> None:
    raw = leave_request()
    raw["flows"][2] = {"from": "decide", "to": "approved", "default": True}
    assert only_problem(raw) == Problem(
        "flows[3].default", "gateway 'decide' already has a default flow (flows[2])", "decide"
    )


def test_branching_flow_without_condition_is_named() -> None:
    raw = leave_request()
    del raw["flows"][3]["default"]
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == ("flows[3]", "decide")
    assert "needs a condition or default" in problem.message


def test_default_flow_with_condition_is_named() -> None:
    raw = leave_request()
    raw["flows"][3]["condition"] = "approved == false"
    assert only_problem(raw) == Problem(
        "flows[3].condition", "a default flow takes no condition", "decide"
    )


def test_gateway_with_one_unconditional_flow_is_valid() -> None:
    assert validate_definition(linear({"id": "join", "type": "exclusiveGateway"})) == []


def test_unreachable_node_is_named() -> None:
    raw = leave_request()
    raw["nodes"].append({"id": "forgotten", "type": "userTask"})
    raw["flows"].append({"from": "forgotten", "to": "approved"})
    assert only_problem(raw) == Problem(
        "nodes[5]", "unreachable node: no path leads to it", "forgotten"
    )


def test_node_without_path_to_an_end_event_is_named() -> None:
    raw = linear({"id": "decide", "type": "exclusiveGateway"})
    raw["nodes"].append({"id": "loop", "type": "userTask"})
    raw["flows"] = [
        {"from": "start", "to": "decide"},
        {"from": "decide", "to": "loop", "condition": "again"},
        {"from": "decide", "to": "end", "default": True},
        {"from": "loop", "to": "loop_back"},
    ]
    raw["nodes"].append({"id": "loop_back", "type": "userTask"})
    raw["flows"].append({"from": "loop_back", "to": "loop"})
    assert validate_definition(raw) == [
        Problem("nodes[3]", "no path to an end event", "loop"),
        Problem("nodes[4]", "no path to an end event", "loop_back"),
    ]


def test_condition_that_does_not_compile_is_named() -> None:
    raw = leave_request()
    raw["flows"][2]["condition"] = "approved = true"
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == ("flows[2].condition", "decide")
    assert "approved = true" in problem.message


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("assignee", "=manager +", "nodes[1].assignee"),
        ("priority", "=(", "nodes[1].priority"),
        ("due", "=", "nodes[1].due"),
        ("candidateUsers", ["alice", "=users["], "nodes[1].candidateUsers[1]"),
    ],
)
def test_task_expression_that_does_not_compile_is_named(
    field: str, value: object, path: str
) -> None:
    raw = leave_request()
    raw["nodes"][1][field] = value
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == (path, "review")


def test_unknown_variable_is_named_when_variables_are_closed() -> None:
    raw = leave_request()
    raw["variables"]["additionalProperties"] = False
    raw["variables"]["properties"]["manager"] = {"type": "string"}
    raw["flows"][2]["condition"] = "aproved == true && days < 10"
    assert only_problem(raw) == Problem(
        "flows[2].condition", "unknown variable 'aproved'", "decide"
    )


def test_form_fields_and_initiator_are_known_variables() -> None:
    raw = leave_request()
    raw["variables"]["additionalProperties"] = False
    raw["nodes"][1]["assignee"] = "=initiator"
    raw["nodes"][1]["priority"] = "=days > 5 ? 80 : 50"
    assert validate_definition(raw) == []


def test_comprehension_variables_are_not_unknown() -> None:
    raw = leave_request()
    raw["variables"] = {
        "type": "object",
        "properties": {"lines": {"type": "array"}},
        "additionalProperties": False,
    }
    raw["nodes"][1]["assignee"] = None
    raw["flows"][2]["condition"] = "lines.all(line, line.amount < 100) && approved"
    assert validate_definition(raw) == []


def test_open_variables_schema_lets_undeclared_names_through() -> None:
    # DESIGN.md's example reads `manager`, which its `variables` schema allows
    # without listing it.
    assert "manager" not in LEAVE_REQUEST["variables"]["properties"]
    assert validate_definition(leave_request()) == []


def test_task_fields_on_other_nodes_are_named() -> None:
    raw = leave_request()
    raw["nodes"][2]["assignee"] = "bob"
    assert only_problem(raw) == Problem(
        "nodes[2].assignee",
        "'assignee' applies to userTask nodes only",
        "decide",
    )


@pytest.mark.parametrize("priority", ["high", "50", True, 2.5])
def test_priority_is_an_integer_or_an_expression(priority: object) -> None:
    raw = leave_request()
    raw["nodes"][1]["priority"] = priority
    assert only_problem(raw) == Problem(
        "nodes[1].priority", "priority must be an integer or an '=expression'", "review"
    )


@pytest.mark.parametrize("due", ["2 days", "48:00:00", "p2d"])
def test_due_is_an_iso_duration_or_an_expression(due: str) -> None:
    raw = leave_request()
    raw["nodes"][1]["due"] = due
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == ("nodes[1].due", "review")
    assert "ISO 8601 duration" in problem.message


def test_document_that_is_not_an_object_is_one_problem() -> None:
    problems = validate_definition([])  # type: ignore[arg-type]
    assert [problem.path for problem in problems] == [""]


def test_flow_takes_from_or_from_and_serializes_from() -> None:
    by_alias = Flow.model_validate({"from": "a", "to": "b"})
    by_name = Flow.model_validate({"from_": "a", "to": "b"})
    assert by_alias == by_name
    assert by_alias.model_dump(by_alias=True, exclude_defaults=True) == {"from": "a", "to": "b"}


def test_parsed_definition_dumps_back_to_an_equal_document() -> None:
    definition = parse_definition(leave_request())
    dumped = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert parse_definition(dumped) == definition


def test_json_schema_documents_the_format() -> None:
    schema = Definition.model_json_schema()
    flow = schema["$defs"]["Flow"]
    assert "from" in flow["properties"]
    assert flow["additionalProperties"] is False
    for node_type in NodeType:
        node = schema["$defs"][node_type[0].upper() + node_type[1:]]
        assert node["additionalProperties"] is False
        assert all("description" in field for field in node["properties"].values())
