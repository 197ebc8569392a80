"""Per-definition rights over real HTTP: a key belongs to its first deployer, startableBy
and visibleTo decide who starts and reads it, and every refusal leaves the rows as they
were."""

from __future__ import annotations

import uuid
from typing import Any

from api.db import SessionMaker
from tests.factories import INSTANCE_FIELDS, deploy, one_task, start
from tests.security.conftest import refused, snapshot

DEPLOY = "mutation($d: JSON!) { deployDefinition(definition: $d) { id key version } }"
DEPLOY_XML = "mutation($x: String!) { deployDefinition(bpmnXml: $x) { key version spec } }"
START = "mutation($k: String!) { startProcess(key: $k) { id } }"
DEFINITION = "query($k: String!) { processDefinition(key: $k) { key version spec } }"
DEFINITIONS = "query($k: String) { processDefinitions(key: $k) { edges { node { key } } } }"
EXPORT = "query($k: String!) { exportDefinition(key: $k) }"
NODE = "query($id: ID!) { node(id: $id) { id ... on ProcessDefinition { key spec } } }"
INSTANCE = f"query($id: ID!) {{ processInstance(id: $id) {{ {INSTANCE_FIELDS} }} }}"


async def test_a_plain_user_cannot_deploy_over_another_users_key(
    people: Any, sessions: SessionMaker
) -> None:
    group = f"reviewers-{uuid.uuid4().hex[:10]}"
    owner, intruder = await people(groups=[group]), await people()
    mine = one_task(group=group)
    await deploy(owner.client, mine)
    before = await snapshot(sessions, [mine["key"]])

    hijack = {**mine, "nodes": [*mine["nodes"]], "name": "Mine now"}
    assert await refused(intruder.client, DEPLOY, {"d": hijack}) == "FORBIDDEN"
    # The same document again, which would otherwise answer the current version.
    assert await refused(intruder.client, DEPLOY, {"d": mine}) == "FORBIDDEN"
    assert await snapshot(sessions, [mine["key"]]) == before

    # The owner's next start still runs the owner's one version.
    started = await start(owner.client, mine["key"])
    assert started["definition"] == {"key": mine["key"], "version": 1}


async def test_the_first_deployer_owns_a_key_and_admins_deploy_any(
    people: Any, sessions: SessionMaker
) -> None:
    owner, admin = await people(), await people(roles=["admin"])
    document = one_task()
    assert (await deploy(owner.client, document))["version"] == 1
    assert (await deploy(owner.client, {**document, "name": "Second"}))["version"] == 2
    assert (await deploy(admin.client, {**document, "name": "Third"}))["version"] == 3
    # The admin deploying did not make them an owner, nor take the key from its owner.
    assert (await deploy(owner.client, {**document, "name": "Fourth"}))["version"] == 4
    counts = await snapshot(sessions, [document["key"]])
    assert (counts["definitions"], counts["owners"]) == (4, 1)


async def test_a_definition_not_startable_by_the_caller_starts_nothing(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    group = f"payroll-{unique}"
    owner = await people()
    member, listed, stranger = await people(groups=[group]), await people(), await people()
    document = {
        **one_task(group=group),
        "startableBy": {"groups": [group], "users": [listed.username]},
        "visibleTo": {"users": [stranger.username]},
    }
    await deploy(owner.client, document)
    key = document["key"]
    before = await snapshot(sessions, [key])

    # The stranger may read it (visibleTo names them) but not start it.
    assert await refused(stranger.client, START, {"k": key}) == "FORBIDDEN"
    assert await snapshot(sessions, [key]) == before

    for who in (member, listed, owner):
        await who.client.execute(START, {"k": key})
    after = await snapshot(sessions, [key])
    assert after["instances"] == before["instances"] + 3


async def test_a_restricted_definition_is_not_found_by_those_it_does_not_name(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    owner, outsider, auditor = await people(), await people(), await people()
    document = {
        **one_task(),
        "startableBy": {"users": [owner.username]},
        "visibleTo": {"users": [auditor.username]},
    }
    deployed = await deploy(owner.client, document)
    key = document["key"]
    before = await snapshot(sessions, [key])
    missing = f"nothing_{unique}"

    # Exactly as a key that does not exist.
    for k in (key, missing):
        assert await refused(outsider.client, DEFINITION, {"k": k}) == "NOT_FOUND"
        assert await refused(outsider.client, EXPORT, {"k": k}) == "NOT_FOUND"
        assert await refused(outsider.client, START, {"k": k}) == "NOT_FOUND"
    assert (await outsider.client.execute(NODE, {"id": deployed["id"]}))["node"] is None
    listed = await outsider.client.execute(DEFINITIONS, {"k": key})
    assert listed["processDefinitions"]["edges"] == []
    assert await snapshot(sessions, [key]) == before

    for reader in (owner, auditor):
        seen = await reader.client.execute(DEFINITION, {"k": key})
        assert seen["processDefinition"]["key"] == key
        assert (await reader.client.execute(NODE, {"id": deployed["id"]}))["node"]["key"] == key


async def test_an_instance_seen_through_a_task_does_not_open_a_restricted_definition(
    people: Any, unique: str
) -> None:
    group = f"team-{unique}"
    owner, candidate = await people(), await people(groups=[group])
    document = {**one_task(group=group), "startableBy": {"users": [owner.username]}}
    await deploy(owner.client, document)
    started = await start(owner.client, document["key"])
    seen = (await candidate.client.execute(INSTANCE, {"id": started["id"]}))["processInstance"]
    assert seen["definition"] is None
    assert [t["id"] for t in seen["tasks"]] == [t["id"] for t in started["tasks"]]


BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{key}" name="Restricted" isExecutable="true"
      camunda:candidateStarterGroups="{group}, other-{group}"
      camunda:candidateStarterUsers="{user}">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="work" name="Work" camunda:candidateGroups="{group}"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


async def test_bpmn_candidate_starters_become_startable_by(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    group = f"g{unique}"
    owner, starter, stranger = await people(), await people(), await people()
    key = f"bpmn_{unique}"
    xml = BPMN.format(key=key, group=group, user=starter.username)
    deployed = (await owner.client.execute(DEPLOY_XML, {"x": xml}))["deployDefinition"]
    assert deployed["spec"]["startableBy"] == {
        "users": [starter.username],
        "groups": [group, f"other-{group}"],
    }
    before = await snapshot(sessions, [key])
    assert await refused(stranger.client, START, {"k": key}) == "NOT_FOUND"
    assert await snapshot(sessions, [key]) == before
    await starter.client.execute(START, {"k": key})
    assert (await snapshot(sessions, [key]))["instances"] == before["instances"] + 1


ADD_OWNER = "mutation($k: String!, $u: ID!) { addDefinitionOwner(key: $k, userId: $u) { key } }"


async def test_owners_add_owners_and_nobody_else_does(people: Any, sessions: SessionMaker) -> None:
    owner, colleague, intruder = await people(), await people(), await people()
    document = one_task()
    key = document["key"]
    await deploy(owner.client, document)
    before = await snapshot(sessions, [key])
    for who in (colleague, intruder):
        code = await refused(intruder.client, ADD_OWNER, {"k": key, "u": who.id})
        assert code == "FORBIDDEN"
    assert await snapshot(sessions, [key]) == before

    await owner.client.execute(ADD_OWNER, {"k": key, "u": colleague.id})
    assert (await deploy(colleague.client, {**document, "name": "Shared"}))["version"] == 2
    assert await refused(intruder.client, DEPLOY, {"d": {**document, "name": "x"}}) == "FORBIDDEN"
    after = await snapshot(sessions, [key])
    assert (after["owners"], after["audit_log"]) == (2, before["audit_log"] + 1)
