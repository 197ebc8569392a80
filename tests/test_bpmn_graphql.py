"""validateDefinition and deployDefinition of BPMN: problems point at the BPMN elements the
author drew, warnings (settings Flowdesk reads without carrying out) do not stop a deployment,
and a model drawn for another engine runs with Python actions in place of its Java code."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlmodel import select

from api.db import SessionMaker
from api.models import ProcessDefinition
from api.services.users import UserService
from tests.actions import CALLS
from tests.client import GraphQLClient, GraphQLError
from tests.conftest import make_user
from tests.factories import start
from tests.instance_reads import until

VALIDATE = """
query($x: String) { validateDefinition(bpmnXml: $x) { path nodeId message severity } }
"""
CORPUS = Path(__file__).parent / "bpmn" / "corpus"
DEPLOY = "mutation($x: String) { deployDefinition(bpmnXml: $x) { key version } }"


@pytest.fixture
async def caller(client: GraphQLClient, users: UserService) -> GraphQLClient:
    return await client.login((await make_user(users)).username)


def charge_card(key: str, condition: str = "${amount &gt; 100}") -> str:
    """Camunda 7: a Java delegate, then a gateway with a condition on one flow."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="{key}" name="Charge" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="charge" camunda:class="com.acme.ChargeCard" />
    <bpmn:exclusiveGateway id="big" default="small" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="charge" />
    <bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="big" />
    <bpmn:sequenceFlow id="large" sourceRef="big" targetRef="end">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="small" sourceRef="big" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


async def test_a_java_delegate_is_a_warning_that_does_not_stop_the_deployment(
    caller: GraphQLClient,
) -> None:
    key = f"charge_{uuid.uuid4().hex[:10]}"
    problems = (await caller.execute(VALIDATE, {"x": charge_card(key)}))["validateDefinition"]
    assert problems == [
        {
            "path": "bpmn:serviceTask[@id='charge']",
            "nodeId": "charge",
            "message": "the Java class 'com.acme.ChargeCard' becomes the action "
            "'com.acme.ChargeCard': register a Python action of that name on the workers "
            "(entry point group flowdesk.actions)",
            "severity": "WARNING",
        }
    ]
    deployed = (await caller.execute(DEPLOY, {"x": charge_card(key)}))["deployDefinition"]
    assert deployed == {"key": key, "version": 1}


async def test_a_problem_of_the_translation_points_at_the_bpmn_element(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = f"charge_{uuid.uuid4().hex[:10]}"
    xml = charge_card(key, condition="${amount &gt;}")
    problems = (await caller.execute(VALIDATE, {"x": xml}))["validateDefinition"]
    errors = [p for p in problems if p["severity"] == "ERROR"]
    assert [(p["path"], p["nodeId"]) for p in errors] == [
        ("bpmn:sequenceFlow[@id='large']", "large")
    ]
    assert errors[0]["message"].startswith("condition: ")
    with pytest.raises(GraphQLError) as refused:
        await caller.execute(DEPLOY, {"x": xml})
    assert refused.value.codes == ["BAD_USER_INPUT"]
    located = refused.value.errors[0]["extensions"]["problems"]
    assert [(p["path"], p["nodeId"], p["severity"]) for p in located] == [
        ("bpmn:sequenceFlow[@id='large']", "large", "error")
    ]
    async with sessions() as session:
        stored = await session.exec(select(ProcessDefinition).where(ProcessDefinition.key == key))
        assert stored.all() == []


async def test_a_camunda7_model_runs_its_java_delegates_as_python_actions(
    caller: GraphQLClient,
) -> None:
    key = f"delegates_{uuid.uuid4().hex[:10]}"
    xml = (CORPUS / "camunda7" / "bpmnParseListener.bpmn").read_text()
    xml = xml.replace('process id="bpmnParseListener"', f'process id="{key}"')
    warnings = (await caller.execute(VALIDATE, {"x": xml}))["validateDefinition"]
    assert {(p["nodeId"], p["severity"]) for p in warnings} == {
        ("ServiceTask_1", "WARNING"),
        ("ServiceTask_2", "WARNING"),
    }
    await caller.execute(DEPLOY, {"x": xml})
    before = len(CALLS)

    started = await start(caller, key, order=7)
    done = await until(caller, started["id"], lambda found: found["status"] != "RUNNING")

    assert done["status"] == "COMPLETED"
    assert [name for name, _ in CALLS[before:]] == [
        "org.camunda.bpm.example.delegate.ServiceTaskOneDelegate",
        "org.camunda.bpm.example.delegate.ServiceTaskTwoDelegate",
    ]
    entered = [h["nodeId"] for h in done["history"] if h["type"] == "NODE_ENTERED"]
    assert entered[:3] == ["StartEvent_1", "ServiceTask_1", "ServiceTask_2"]


@pytest.mark.parametrize(("flag", "path"), [(True, "pathA-10c"), (False, "pathB-10c")])
async def test_a_zeebe_model_takes_the_path_its_feel_conditions_choose(
    caller: GraphQLClient, flag: bool, path: str
) -> None:
    key = f"feel_{uuid.uuid4().hex[:10]}"
    xml = (CORPUS / "camunda8" / "conditional-pathway-10c.bpmn").read_text()
    assert "=conditionVariable=true" in xml  # FEEL's equality, not CEL's
    xml = xml.replace('process id="condition-test-10c"', f'process id="{key}"')
    assert (await caller.execute(VALIDATE, {"x": xml}))["validateDefinition"] == []
    await caller.execute(DEPLOY, {"x": xml})
    before = len(CALLS)

    started = await start(caller, key, conditionVariable=flag)
    done = await until(caller, started["id"], lambda found: found["status"] != "RUNNING")

    assert done["status"] == "COMPLETED"
    assert [name for name, _ in CALLS[before:]] == ["wait-10c", path]
