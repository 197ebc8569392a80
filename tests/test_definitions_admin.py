"""Administering definitions through GraphQL: suspending and activating, validating without
deploying, exporting, the published JSON Schema, and BPMN deploys. Every refusal says why
with its code and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from api.db import SessionMaker
from api.models import ProcessDefinition, ProcessInstance
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.factories import (
    TEMPLATES,
    complete,
    deploy,
    fresh_key,
    one_task,
    process,
    start,
    template,
)
from tests.instance_scene import Scene, cast, code_of, refused, scene, uid
from tests.kit.instances import read
from tests.kit.operations import START
from tests.kit.people import make_user

BPMN = Path(__file__).resolve().parent / "bpmn"


SUSPEND_DEFINITION = (
    "mutation($k: String!, $v: Int) "
    "{ suspendDefinition(key: $k, version: $v) { version suspended } }"
)


ACTIVATE_DEFINITION = (
    "mutation($k: String!, $v: Int) "
    "{ activateDefinition(key: $k, version: $v) { version suspended } }"
)


VALIDATE = """query($d: JSON, $x: String) {
  validateDefinition(definition: $d, bpmnXml: $x) { path nodeId message }
}"""


EXPORT = "query($k: String!, $v: Int) { exportDefinition(key: $k, version: $v) }"


DEPLOY_XML = (
    "mutation($x: String!) { deployDefinition(bpmnXml: $x) { id key version checksum spec } }"
)


@pytest.fixture(scope="module")
async def people(users: UserService, settings: Settings) -> dict[str, Any]:
    return await cast(users, settings)


@pytest.fixture
def s(client: GraphQLClient, people: dict[str, Any]) -> Scene:
    return scene(client, people)


# Definitions


async def test_a_suspended_definition_starts_nothing_until_activated(
    s: Scene, sessions: SessionMaker
) -> None:
    definition = await deploy(s.starter, one_task(group=s.group))
    running = await start(s.starter, definition["key"])

    assert await code_of(s.starter, SUSPEND_DEFINITION, {"k": definition["key"]}) == "FORBIDDEN"
    suspended = await s.admin.execute(SUSPEND_DEFINITION, {"k": definition["key"], "v": 1})
    assert suspended["suspendDefinition"] == {"version": 1, "suspended": True}

    assert await code_of(s.starter, START, {"k": definition["key"]}) == "CONFLICT"
    async with sessions() as session:
        count = await session.exec(
            select(sa.func.count())
            .select_from(ProcessInstance)
            .where(col(ProcessInstance.definition_id) == uid(definition["id"], "ProcessDefinition"))
        )
        assert count.one() == 1
    # Instances already running go on.
    await complete(s.candidate, running["tasks"][0]["id"])

    assert await code_of(s.starter, ACTIVATE_DEFINITION, {"k": definition["key"]}) == "FORBIDDEN"
    async with sessions() as session:
        row = await session.get(ProcessDefinition, uid(definition["id"], "ProcessDefinition"))
        assert row is not None and row.suspended
    activated = await s.admin.execute(ACTIVATE_DEFINITION, {"k": definition["key"]})
    assert activated["activateDefinition"] == {"version": 1, "suspended": False}
    assert (await s.starter.execute(START, {"k": definition["key"]}))["startProcess"]["status"] == (
        "RUNNING"
    )


async def test_validating_lists_problems_without_deploying(
    s: Scene, sessions: SessionMaker
) -> None:
    broken = one_task(group=s.group)
    broken["nodes"][1]["priority"] = 500
    broken["flows"].append({"from": "start", "to": "nowhere"})
    problems = (await s.starter.execute(VALIDATE, {"d": broken}))["validateDefinition"]
    assert problems and all(p["message"] for p in problems)
    assert "nodes[1].priority" in {p["path"] for p in problems}

    valid = one_task(group=s.group)
    assert (await s.starter.execute(VALIDATE, {"d": valid}))["validateDefinition"] == []
    samples = sorted(BPMN.glob("*.bpmn"))
    assert samples
    found = {
        sample.name: (await s.starter.execute(VALIDATE, {"x": sample.read_text()}))[
            "validateDefinition"
        ]
        for sample in samples
    }
    # The order calls an invoicing process that is not deployed here.
    assert [p["nodeId"] for p in found.pop("order_zeebe.bpmn")] == ["Activity_invoice"]
    assert found == {name: [] for name in found}
    bpmn = (BPMN / "leave_request_camunda7.bpmn").read_text()
    invalid_bpmn = bpmn.replace('targetRef="decide"', 'targetRef="nowhere"')
    for document in (invalid_bpmn, "not even XML"):
        problems = (await s.starter.execute(VALIDATE, {"x": document}))["validateDefinition"]
        assert problems and all(p["message"] for p in problems), document

    async with sessions() as session:
        rows = await session.exec(
            select(ProcessDefinition).where(
                col(ProcessDefinition.key).in_([broken["key"], valid["key"]])
            )
        )
        assert rows.all() == []


async def test_an_exported_definition_redeploys_as_the_same_version(s: Scene) -> None:
    deployed = await deploy(s.starter, template("expense_approval"))
    exported = (await s.starter.execute(EXPORT, {"k": deployed["key"]}))["exportDefinition"]
    assert exported["key"] == deployed["key"]

    again = await deploy(s.starter, exported)
    assert again == deployed


async def test_the_definition_schema_is_a_json_schema_the_shipped_templates_satisfy(
    s: Scene,
) -> None:
    schema = (await s.starter.execute("{ definitionSchema }"))["definitionSchema"]
    validator = jsonschema.Draft202012Validator
    validator.check_schema(schema)
    templates = sorted(TEMPLATES.glob("*.json"))
    assert templates
    for path in templates:
        validator(schema).validate(json.loads(path.read_text()))

    wrong = one_task()
    wrong["nodes"][1]["colour"] = "red"
    del wrong["nodes"][0]["type"]
    assert len(list(validator(schema).iter_errors(wrong))) >= 2


async def test_a_bpmn_document_deploys_and_runs(s: Scene, users: UserService) -> None:
    manager = await make_user(users)
    as_manager = await s.starter.login(manager.username)
    process_key = fresh_key("leave_bpmn")
    xml = (BPMN / "leave_request_camunda7.bpmn").read_text()
    xml = xml.replace('process id="leave_request"', f'process id="{process_key}"')

    deployed = (await s.starter.execute(DEPLOY_XML, {"x": xml}))["deployDefinition"]
    assert (deployed["key"], deployed["version"]) == (process_key, 1)
    assert {n["id"] for n in deployed["spec"]["nodes"]} >= {"start", "review", "decide"}

    started = await start(s.starter, process_key, days=3, manager=manager.username)
    [review] = started["tasks"]
    assert review["nodeId"] == "review" and review["status"] == "CLAIMED"
    await complete(as_manager, review["id"], approved=True)
    done = await read(s.starter, started["id"])
    assert done["status"] == "COMPLETED"
    assert "approved" in [h["nodeId"] for h in done["history"] if h["type"] == "NODE_ENTERED"]


async def test_an_invalid_bpmn_document_is_bad_user_input_with_its_problems(
    s: Scene, sessions: SessionMaker
) -> None:
    process_key = fresh_key("broken_bpmn")
    xml = (BPMN / "leave_request_camunda7.bpmn").read_text()
    xml = xml.replace('process id="leave_request"', f'process id="{process_key}"')
    xml = xml.replace(
        'sourceRef="review" targetRef="decide"', 'sourceRef="review" targetRef="gone"'
    )

    for document in (xml, "<definitions>not BPMN</definitions>", "not even XML"):
        error = await refused(s.starter, DEPLOY_XML, {"x": document})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["problems"], error
    async with sessions() as session:
        rows = await session.exec(
            select(ProcessDefinition).where(col(ProcessDefinition.key) == process_key)
        )
        assert rows.all() == []


async def test_a_call_activity_to_a_key_not_deployed_is_bad_user_input_naming_the_node(
    s: Scene,
) -> None:
    missing = fresh_key("missing")
    definition = process(
        "caller",
        [{"id": "call_it", "type": "callActivity", "calledElement": missing}],
        [("start", "call_it"), ("call_it", "end")],
    )
    error = await refused(
        s.starter,
        "mutation($d: JSON!) { deployDefinition(definition: $d) { id } }",
        {"d": definition},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["problems"] == [
        {
            "path": "nodes[1].calledElement",
            "nodeId": "call_it",
            "message": f"no process definition '{missing}' is deployed",
            "severity": "error",
        }
    ]
