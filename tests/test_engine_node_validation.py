"""Validation of the node types past user tasks and exclusive gateways: their fields,
boundary events, joins and their forks, and every expression they hold."""

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bench.thirty_nodes import chain, shipping_definition, thirty_node_definition
from engine.definition import Definition, definition_json_schema
from engine.enums import NodeType
from engine.validation import Problem, parse_definition, validate_definition

EVERY_NODE_TYPE: dict[str, Any] = {
    "key": "every_type",
    "name": "Every node type",
    "nodes": [
        {"id": "start", "type": "startEvent"},
        {"id": "fork", "type": "parallelGateway"},
        {
            "id": "charge",
            "type": "serviceTask",
            "action": "http",
            "input": {"method": "POST", "url": "=billing_url", "json": {"amount": "=amount"}},
            "output": {"charge_id": "result.body.id"},
            "retry": {
                "maxAttempts": 5,
                "initialInterval": "PT1S",
                "backoff": 2.0,
                "maxInterval": "PT1M",
                "nonRetryable": ["HTTP_4XX"],
            },
            "timeout": "PT30S",
        },
        {
            "id": "declined",
            "type": "errorBoundary",
            "attachedTo": "charge",
            "errorCode": "HTTP_4XX",
        },
        {"id": "charge_slow", "type": "timer", "attachedTo": "charge", "duration": "PT5M"},
        {
            "id": "review",
            "type": "userTask",
            "assignee": "=reviewer",
            "multiInstance": {
                "collection": "=reviewers",
                "elementVariable": "reviewer",
                "sequential": True,
                "completionCondition": "nrOfCompletedInstances >= 2 || size(reviews) > 5",
                "outputCollection": "reviews",
            },
        },
        {
            "id": "remind",
            "type": "timer",
            "attachedTo": "review",
            "duration": "P1D",
            "interrupting": False,
        },
        {"id": "note_reminder", "type": "task"},
        {"id": "reminded", "type": "endEvent"},
        {"id": "wait", "type": "timer", "until": "=deadline"},
        {"id": "paid", "type": "receiveTask", "message": "payment_received"},
        {"id": "join", "type": "parallelGateway"},
        {"id": "options", "type": "inclusiveGateway"},
        {
            "id": "onboard",
            "type": "callActivity",
            "calledElement": "it_access_request",
            "version": 2,
            "inputs": {"employee": "=name", "tags": ["=team", "new"]},
            "outputs": {"access_granted": "granted"},
        },
        {"id": "ship", "type": "callActivity", "calledElement": "shipping"},
        {"id": "options_done", "type": "inclusiveGateway"},
        {"id": "end", "type": "endEvent", "terminate": True},
    ],
    "flows": [
        {"from": "start", "to": "fork"},
        {"from": "fork", "to": "charge"},
        {"from": "fork", "to": "review"},
        {"from": "fork", "to": "wait"},
        {"from": "charge", "to": "join"},
        {"from": "declined", "to": "join"},
        {"from": "charge_slow", "to": "join"},
        {"from": "review", "to": "join"},
        *chain("remind", "note_reminder", "reminded"),
        *chain("wait", "paid", "join", "options"),
        {"from": "options", "to": "onboard", "condition": "name != ''"},
        {"from": "options", "to": "ship", "default": True},
        {"from": "onboard", "to": "options_done"},
        {"from": "ship", "to": "options_done"},
        {"from": "options_done", "to": "end"},
    ],
}


def every_type() -> dict[str, Any]:
    return copy.deepcopy(EVERY_NODE_TYPE)


def node(raw: dict[str, Any], node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in raw["nodes"] if n["id"] == node_id)
    return found


def position(raw: dict[str, Any], node_id: str) -> int:
    return next(i for i, n in enumerate(raw["nodes"]) if n["id"] == node_id)


def only_problem(raw: dict[str, Any]) -> Problem:
    problems = validate_definition(raw)
    assert len(problems) == 1, problems
    return problems[0]


def linear(*middle: dict[str, Any]) -> dict[str, Any]:
    nodes = [{"id": "start", "type": "startEvent"}, *middle, {"id": "end", "type": "endEvent"}]
    return {
        "key": "linear",
        "name": "Linear",
        "nodes": nodes,
        "flows": chain(*(n["id"] for n in nodes)),
    }


def test_every_node_type_and_field_is_valid() -> None:
    assert validate_definition(every_type()) == []


def test_a_parsed_definition_dumps_back_to_an_equal_one() -> None:
    definition = parse_definition(every_type())
    dumped = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert parse_definition(dumped) == definition


def test_the_thirty_node_definition_and_its_child_are_valid() -> None:
    assert validate_definition(thirty_node_definition()) == []
    assert validate_definition(shipping_definition()) == []


def test_unknown_node_type_is_named() -> None:
    raw = every_type()
    raw["nodes"][position(raw, "wait")]["type"] = "sleep"
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == (f"nodes[{position(raw, 'wait')}].type", "wait")
    assert "unknown node type 'sleep'" in problem.message
    assert "receiveTask" in problem.message


def test_every_problem_of_new_node_types_is_reported_at_once() -> None:
    raw = every_type()
    del node(raw, "charge")["action"]
    node(raw, "paid")["message"] = None
    node(raw, "wait")["duration"] = "PT1H"
    node(raw, "onboard")["outputs"] = {"access_granted": "granted +"}
    found = {(p.path, p.node_id) for p in validate_definition(raw)}
    assert found == {
        (f"nodes[{position(raw, 'charge')}].action", "charge"),
        (f"nodes[{position(raw, 'paid')}].message", "paid"),
        (f"nodes[{position(raw, 'wait')}].until", "wait"),
        (f"nodes[{position(raw, 'onboard')}].outputs.access_granted", "onboard"),
    }


# Required fields


@pytest.mark.parametrize(
    ("node_type", "field"),
    [
        ("serviceTask", "action"),
        ("receiveTask", "message"),
        ("callActivity", "calledElement"),
    ],
)
def test_a_node_without_its_required_field_is_named(node_type: str, field: str) -> None:
    raw = linear({"id": "step", "type": node_type})
    assert only_problem(raw) == Problem("nodes[1]." + field, f"{node_type} needs {field!r}", "step")


def test_an_error_boundary_needs_attached_to() -> None:
    raw = every_type()
    del node(raw, "declined")["attachedTo"]
    i = position(raw, "declined")
    assert Problem(f"nodes[{i}].attachedTo", "errorBoundary needs 'attachedTo'", "declined") in (
        validate_definition(raw)
    )


def test_multi_instance_needs_a_collection() -> None:
    raw = linear({"id": "vote", "type": "userTask", "multiInstance": {"sequential": True}})
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == ("nodes[1].multiInstance.collection", "vote")


def test_multi_instance_collection_is_a_list_or_an_expression() -> None:
    raw = linear({"id": "vote", "type": "userTask", "multiInstance": {"collection": "voters"}})
    assert only_problem(raw) == Problem(
        "nodes[1].multiInstance.collection",
        "collection must be a list or an '=expression' giving one",
        "vote",
    )
    raw["nodes"][1]["multiInstance"]["collection"] = ["ann", "bob"]
    assert validate_definition(raw) == []


def test_a_field_of_another_node_type_is_named() -> None:
    raw = linear({"id": "step", "type": "receiveTask", "message": "go", "action": "log"})
    assert only_problem(raw) == Problem(
        "nodes[1].action", "'action' applies to serviceTask nodes only", "step"
    )


def test_attached_to_names_both_types_that_take_it() -> None:
    raw = linear({"id": "step", "type": "userTask", "attachedTo": "start"})
    assert only_problem(raw).message == "'attachedTo' applies to timer and errorBoundary nodes only"


# Timers


def test_a_timer_needs_duration_or_until() -> None:
    raw = linear({"id": "wait", "type": "timer"})
    assert only_problem(raw) == Problem("nodes[1]", "a timer needs 'duration' or 'until'", "wait")


def test_interrupting_is_for_boundary_timers_only() -> None:
    raw = linear({"id": "wait", "type": "timer", "duration": "PT1H", "interrupting": False})
    assert only_problem(raw) == Problem(
        "nodes[1].interrupting",
        "'interrupting' applies to boundary timers (with attachedTo) only",
        "wait",
    )


def test_a_misspelt_field_is_named_with_the_field_of_that_type_it_means() -> None:
    raw = linear({"id": "step", "type": "serviceTask", "action": "log", "timout": "PT1M"})
    assert only_problem(raw) == Problem(
        "nodes[1].timout", "serviceTask has no field 'timout'; did you mean 'timeout'?", "step"
    )


def test_a_misspelt_field_outside_nodes_gets_a_suggestion_too() -> None:
    raw = linear({"id": "step", "type": "serviceTask", "action": "log"})
    raw["flows"][0]["conditon"] = "true"
    raw["nodes"][1]["retry"] = {"maxAttempt": 2}
    problems = {p.path: p.message for p in validate_definition(raw)}
    assert problems["flows[0].conditon"] == "unknown field 'conditon'; did you mean 'condition'?"
    assert problems["nodes[1].retry.maxAttempt"] == (
        "unknown field 'maxAttempt'; did you mean 'maxAttempts'?"
    )


def test_a_node_accepts_the_task_defaults_older_deployments_spelt_out_on_every_node() -> None:
    """Definitions deployed when one model held every field were stored with these on
    every node; running instances parse their pinned spec again."""
    spelt = {"priority": 50, "candidateUsers": [], "candidateGroups": []}
    raw = linear({"id": "wait", "type": "timer", "duration": "PT1H", **spelt})
    raw["nodes"][0].update(spelt)
    assert validate_definition(raw) == []
    assert "priority" not in parse_definition(raw).node("wait").model_dump()
    raw["nodes"][0]["priority"] = 60
    assert only_problem(raw) == Problem(
        "nodes[0].priority", "'priority' applies to userTask nodes only", "start"
    )


def test_a_timer_takes_duration_or_until_not_both() -> None:
    raw = linear({"id": "wait", "type": "timer", "duration": "PT1H", "until": "=deadline"})
    assert only_problem(raw) == Problem(
        "nodes[1].until", "a timer takes 'duration' or 'until', not both", "wait"
    )


@pytest.mark.parametrize("duration", ["1 hour", "PT", "01:00:00"])
def test_a_literal_timer_duration_is_parsed_when_validated(duration: str) -> None:
    problem = only_problem(linear({"id": "wait", "type": "timer", "duration": duration}))
    assert (problem.path, problem.node_id) == ("nodes[1].duration", "wait")
    assert "ISO 8601 duration" in problem.message


def test_a_timer_duration_may_be_an_expression() -> None:
    assert validate_definition(linear({"id": "wait", "type": "timer", "duration": "=pause"})) == []


def test_until_must_be_an_expression() -> None:
    raw = linear({"id": "wait", "type": "timer", "until": "2025-03-10T17:00:00Z"})
    assert only_problem(raw) == Problem(
        "nodes[1].until", "until must be an '=expression' returning an RFC 3339 timestamp", "wait"
    )


def test_interrupting_applies_to_boundary_timers_only() -> None:
    raw = linear({"id": "wait", "type": "timer", "duration": "PT1H", "interrupting": False})
    assert only_problem(raw).path == "nodes[1].interrupting"


# Boundary events


@pytest.mark.parametrize(
    ("boundary", "host_type", "message"),
    [
        ({"type": "timer", "duration": "PT1H"}, "exclusiveGateway", "a boundary timer attaches"),
        ({"type": "timer", "duration": "PT1H"}, "timer", "a boundary timer attaches"),
        ({"type": "errorBoundary"}, "userTask", "an errorBoundary attaches"),
        ({"type": "errorBoundary"}, "receiveTask", "an errorBoundary attaches"),
    ],
)
def test_a_boundary_event_on_a_node_that_cannot_carry_it_is_named(
    boundary: dict[str, Any], host_type: str, message: str
) -> None:
    host: dict[str, Any] = {"id": "host", "type": host_type}
    host.update(
        {"timer": {"duration": "PT1M"}, "receiveTask": {"message": "go"}}.get(host_type, {})
    )
    raw = linear(host)
    raw["nodes"].append({"id": "edge", "attachedTo": "host", **boundary})
    raw["flows"].append({"from": "edge", "to": "end"})
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == ("nodes[3].attachedTo", "edge")
    assert problem.message.startswith(message)
    assert f"not to {host_type} 'host'" in problem.message


def test_a_boundary_event_attached_to_an_unknown_node_is_named() -> None:
    raw = every_type()
    node(raw, "remind")["attachedTo"] = "reviw"
    assert only_problem(raw) == Problem(
        f"nodes[{position(raw, 'remind')}].attachedTo",
        "attachedTo names unknown node 'reviw'",
        "remind",
    )


def test_a_boundary_event_with_an_incoming_flow_is_named() -> None:
    raw = every_type()
    raw["flows"].append({"from": "reminded_via", "to": "remind"})
    raw["nodes"].append({"id": "reminded_via", "type": "exclusiveGateway"})
    raw["flows"][1] = {"from": "fork", "to": "reminded_via"}
    raw["flows"].append({"from": "reminded_via", "to": "charge"})
    problems = validate_definition(raw)
    k = len(raw["flows"]) - 2
    assert (
        Problem(
            f"flows[{k}].to",
            "a boundary event cannot have incoming flows: it starts with its task",
            "remind",
        )
        in problems
    )


def test_a_path_from_a_boundary_event_counts_as_reachable() -> None:
    # `reminded` is reached only through the boundary timer on `review`.
    assert not [p for p in validate_definition(every_type()) if p.node_id == "reminded"]


# Joins and their forks


def fork_join(fork: str, join: str) -> dict[str, Any]:
    return {
        "key": "fork_join",
        "name": "Fork and join",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": fork},
            {"id": "a", "type": "userTask"},
            {"id": "b", "type": "userTask"},
            {"id": "join", "type": join},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "fork"},
            {"from": "fork", "to": "a", "condition": "x > 1"},
            {"from": "fork", "to": "b", "default": True},
            *chain("a", "join", "end"),
            {"from": "b", "to": "join"},
        ],
    }


def without_conditions(raw: dict[str, Any]) -> dict[str, Any]:
    for flow in raw["flows"]:
        flow.pop("condition", None)
        flow.pop("default", None)
    return raw


@pytest.mark.parametrize(
    ("fork", "join"),
    [
        ("parallelGateway", "parallelGateway"),
        ("parallelGateway", "inclusiveGateway"),
        ("inclusiveGateway", "inclusiveGateway"),
    ],
)
def test_a_join_after_its_fork_is_valid(fork: str, join: str) -> None:
    raw = fork_join(fork, join)
    if fork == "parallelGateway":
        without_conditions(raw)
    assert validate_definition(raw) == []


@pytest.mark.parametrize("join", ["parallelGateway", "inclusiveGateway"])
def test_a_join_after_an_exclusive_split_has_no_matching_fork(join: str) -> None:
    problem = only_problem(fork_join("exclusiveGateway", join))
    assert (problem.path, problem.node_id) == ("nodes[4]", "join")
    assert "has no matching fork" in problem.message
    assert "exclusiveGateway 'fork'" in problem.message


def test_a_parallel_join_after_an_inclusive_fork_is_named() -> None:
    problem = only_problem(fork_join("inclusiveGateway", "parallelGateway"))
    assert (problem.path, problem.node_id) == ("nodes[4]", "join")
    assert "follows inclusive fork 'fork'" in problem.message


def test_a_join_whose_branches_split_before_an_earlier_join_is_named() -> None:
    # fork -> a, b -> join1 -> decide (exclusive) -> c, d -> join2: join2's branches
    # share the fork upstream, but only one of them can run.
    raw = {
        "key": "k",
        "name": "n",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            {"id": "a", "type": "userTask"},
            {"id": "b", "type": "userTask"},
            {"id": "join1", "type": "parallelGateway"},
            {"id": "decide", "type": "exclusiveGateway"},
            {"id": "c", "type": "userTask"},
            {"id": "d", "type": "userTask"},
            {"id": "join2", "type": "parallelGateway"},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            *chain("start", "fork", "a", "join1", "decide"),
            *chain("fork", "b", "join1"),
            {"from": "decide", "to": "c", "condition": "x"},
            {"from": "decide", "to": "d", "default": True},
            *chain("c", "join2", "end"),
            {"from": "d", "to": "join2"},
        ],
    }
    problem = only_problem(raw)
    assert (problem.node_id, "exclusiveGateway 'decide'" in problem.message) == ("join2", True)


def test_nested_forks_and_joins_are_valid() -> None:
    raw = {
        "key": "k",
        "name": "n",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "outer", "type": "parallelGateway"},
            {"id": "inner", "type": "inclusiveGateway"},
            {"id": "a", "type": "userTask"},
            {"id": "b", "type": "userTask"},
            {"id": "inner_join", "type": "inclusiveGateway"},
            {"id": "c", "type": "userTask"},
            {"id": "outer_join", "type": "parallelGateway"},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            *chain("start", "outer", "inner"),
            {"from": "inner", "to": "a", "condition": "x"},
            {"from": "inner", "to": "b", "condition": "y"},
            *chain("a", "inner_join", "outer_join", "end"),
            {"from": "b", "to": "inner_join"},
            *chain("outer", "c", "outer_join"),
        ],
    }
    assert validate_definition(raw) == []


def test_a_cycle_through_a_parallel_gateway_without_a_way_out_is_named() -> None:
    raw = fork_join("parallelGateway", "parallelGateway")
    without_conditions(raw)
    raw["flows"] = [f for f in raw["flows"] if f["from"] != "join"]
    raw["flows"].append({"from": "join", "to": "fork"})
    no_way_out = {
        p.node_id for p in validate_definition(raw) if p.message == "no path to an end event"
    }
    assert no_way_out == {"start", "fork", "a", "b", "join"}


# Gateway flows


def test_a_condition_on_a_parallel_fork_is_named() -> None:
    raw = fork_join("parallelGateway", "parallelGateway")
    problems = validate_definition(raw)
    assert [p.path for p in problems] == ["flows[1].condition", "flows[2].default"]


def test_an_inclusive_fork_flow_needs_a_condition_or_default() -> None:
    raw = fork_join("inclusiveGateway", "inclusiveGateway")
    del raw["flows"][2]["default"]
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == ("flows[2]", "fork")


# Service tasks


@pytest.mark.parametrize(
    ("retry", "path"),
    [
        ({"maxAttempts": 0}, "maxAttempts"),
        ({"maxAttempts": 2.5}, "maxAttempts"),
        ({"backoff": 0.5}, "backoff"),
        ({"initialInterval": "PT0S"}, "initialInterval"),
        ({"maxInterval": "soon"}, "maxInterval"),
        ({"initialInterval": "PT2M", "maxInterval": "PT1M"}, ""),
        ({"attempts": 3}, "attempts"),
    ],
)
def test_retry_values_out_of_range_are_named(retry: dict[str, Any], path: str) -> None:
    raw = linear({"id": "call", "type": "serviceTask", "action": "http", "retry": retry})
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == (
        f"nodes[1].retry{'.' + path if path else ''}",
        "call",
    )


def test_a_retry_interval_longer_than_the_maximum_is_explained() -> None:
    raw = linear(
        {
            "id": "call",
            "type": "serviceTask",
            "action": "http",
            "retry": {"initialInterval": "PT2M"},
        }
    )
    assert only_problem(raw).message == "maxInterval is shorter than initialInterval"


@pytest.mark.parametrize("timeout", ["PT0S", "30s", "=limit"])
def test_a_timeout_is_a_positive_literal_duration(timeout: str) -> None:
    raw = linear({"id": "call", "type": "serviceTask", "action": "http", "timeout": timeout})
    assert only_problem(raw).path == "nodes[1].timeout"


def test_a_service_task_without_a_wrongly_typed_action_reports_the_type_only() -> None:
    raw = linear({"id": "call", "type": "serviceTask", "action": 5})
    assert [p.path for p in validate_definition(raw)] == ["nodes[1].action"]


# Expressions


@pytest.mark.parametrize(
    ("node_id", "field", "value", "path"),
    [
        ("charge", "input", {"json": {"amount": "=amount +"}}, "input.json.amount"),
        ("charge", "input", {"list": ["ok", "=("]}, "input.list[1]"),
        ("charge", "output", {"charge_id": "result.body."}, "output.charge_id"),
        ("onboard", "inputs", {"employee": "=name ="}, "inputs.employee"),
        ("onboard", "outputs", {"granted": "granted &&"}, "outputs.granted"),
        ("wait", "until", "=deadline +", "until"),
        ("charge_slow", "duration", "=(", "duration"),
    ],
)
def test_an_expression_that_does_not_compile_is_named(
    node_id: str, field: str, value: Any, path: str
) -> None:
    raw = every_type()
    node(raw, node_id)[field] = value
    problem = only_problem(raw)
    assert (problem.path, problem.node_id) == (f"nodes[{position(raw, node_id)}].{path}", node_id)


def test_a_completion_condition_that_does_not_compile_is_named() -> None:
    raw = every_type()
    node(raw, "review")["multiInstance"]["completionCondition"] = "nrOfCompletedInstances >="
    problem = only_problem(raw)
    assert problem.path == f"nodes[{position(raw, 'review')}].multiInstance.completionCondition"


def test_an_output_mapping_with_a_leading_equals_sign_is_explained() -> None:
    raw = every_type()
    node(raw, "charge")["output"] = {"charge_id": "=result.body.id"}
    assert only_problem(raw).message == "an output mapping is CEL without a leading '='"


ONBOARD_FLOW = next(k for k, flow in enumerate(EVERY_NODE_TYPE["flows"]) if flow["to"] == "onboard")


def closed(raw: dict[str, Any], *names: str) -> dict[str, Any]:
    raw["variables"] = {
        "type": "object",
        "properties": {name: {} for name in names},
        "additionalProperties": False,
    }
    return raw


def test_names_each_node_provides_are_known_to_closed_variables() -> None:
    raw = closed(every_type(), "billing_url", "amount", "reviewers", "deadline", "name", "team")
    # reviewer and loopCounter (the loop's), result (the output's), nrOf* and reviews (the
    # completion condition's), the child's variables (outputs) are all known.
    node(raw, "review")["priority"] = "=loopCounter + 1"
    raw["flows"][ONBOARD_FLOW]["condition"] = "name != '' && charge_id != '' && size(reviews) > 0"
    assert validate_definition(raw) == []


def test_loop_names_are_unknown_outside_their_task() -> None:
    raw = closed(every_type(), "billing_url", "amount", "reviewers", "deadline", "name", "team")
    raw["flows"][ONBOARD_FLOW]["condition"] = "reviewer != ''"
    assert only_problem(raw) == Problem(
        f"flows[{ONBOARD_FLOW}].condition", "unknown variable 'reviewer'", "options"
    )


# The published schema


def test_the_published_schema_says_per_node_type_what_it_takes() -> None:
    schema = definition_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    nodes = schema["properties"]["nodes"]["items"]
    mapping = nodes["discriminator"]["mapping"]
    assert nodes["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(NodeType)
    models = {tag: schema["$defs"][ref.removeprefix("#/$defs/")] for tag, ref in mapping.items()}
    for model in models.values():
        assert model["additionalProperties"] is False
        assert all("description" in field for field in model["properties"].values())
    assert set(models["startEvent"]["properties"]) == {"id", "type", "name", "documentation"}
    assert "multiInstance" in models["userTask"]["properties"]
    assert "multiInstance" not in models["serviceTask"]["properties"]
    assert {"action", "retry"} <= set(models["serviceTask"]["properties"])
    assert "calledElement" in models["callActivity"]["required"]
    assert "action" in models["serviceTask"]["required"]
    assert "attachedTo" in models["errorBoundary"]["required"]
    assert models["timer"]["oneOf"] == [{"required": ["duration"]}, {"required": ["until"]}]
    assert models["timer"]["dependentRequired"] == {"interrupting": ["attachedTo"]}
    assert {"MultiInstance", "Retry", "Flow"} <= set(schema["$defs"])
    assert "from" in schema["$defs"]["Flow"]["properties"]
    assert schema == Definition.model_json_schema(by_alias=True) | {"$schema": schema["$schema"]}


def test_the_published_schema_refuses_a_field_of_another_node_type() -> None:
    validator = Draft202012Validator(definition_json_schema())
    raw = linear({"id": "step", "type": "receiveTask", "message": "go"})
    assert list(validator.iter_errors(raw)) == []
    raw["nodes"][1]["action"] = "log"
    assert list(validator.iter_errors(raw)) != []
