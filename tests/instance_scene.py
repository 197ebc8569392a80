"""The cast and helpers of the instance and definition control tests: a starter, a
candidate of the instances' group, an outsider and an admin, made once per module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from api.auth.tokens import TokenIssuer
from api.services.users import UserService
from api.settings import Settings
from schema.ids import decode_id
from tests.client import GraphQLClient
from tests.factories import (
    deploy,
    one_task,
    start,
)
from tests.kit.instances import read
from tests.kit.people import make_user
from tests.kit.waiting import eventually

MESSAGE = """mutation($id: ID, $bk: String, $name: String!, $v: JSON) {
  sendMessage(instanceId: $id, businessKey: $bk, name: $name, variables: $v) { id status variables }
}"""


INSTANCES = """query($f: ProcessInstanceFilter, $first: Int, $after: String) {
  processInstances(filter: $f, first: $first, after: $after) {
    edges { cursor node { id status businessKey } } pageInfo { hasNextPage endCursor }
  }
}"""


async def refused(client: GraphQLClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The one error of an operation that must fail."""
    body = await client.raw(query, variables)
    assert body.get("errors"), f"expected a refusal, got {body}"
    [error] = body["errors"]
    return dict(error)


async def code_of(client: GraphQLClient, query: str, variables: dict[str, Any]) -> str:
    return str((await refused(client, query, variables))["extensions"]["code"])


def uid(global_id: str, type_name: str) -> uuid.UUID:
    return decode_id(global_id, type_name)


@dataclass
class Scene:
    group: str
    starter: GraphQLClient
    candidate: GraphQLClient  # in `group`: may see the instances through their tasks
    outsider: GraphQLClient
    admin: GraphQLClient
    starter_name: str
    admin_name: str


ROLES = ("starter", "candidate", "outsider", "admin")


async def cast(users: UserService, settings: Settings) -> dict[str, Any]:
    """One cast for the module (passwords are slow to hash); tests isolate themselves
    with fresh definitions."""
    group = f"team-{uuid.uuid4().hex[:10]}"
    made = {
        "starter": await make_user(users),
        "candidate": await make_user(users, groups=[group]),
        "outsider": await make_user(users),
        "admin": await make_user(users, admin=True),
    }
    issuer = TokenIssuer(settings)
    return {
        "group": group,
        "names": {role: user.username for role, user in made.items()},
        "tokens": {role: issuer.issue(user.id, user.username) for role, user in made.items()},
    }


def scene(client: GraphQLClient, people: dict[str, Any]) -> Scene:
    as_ = {role: GraphQLClient(client.http, people["tokens"][role]) for role in ROLES}
    return Scene(
        group=people["group"],
        starter=as_["starter"],
        candidate=as_["candidate"],
        outsider=as_["outsider"],
        admin=as_["admin"],
        starter_name=people["names"]["starter"],
        admin_name=people["names"]["admin"],
    )


async def one_task_instance(s: Scene, **variables: Any) -> dict[str, Any]:
    definition = await deploy(s.starter, one_task(group=s.group))
    return await start(s.starter, definition["key"], **variables)


async def child_of(client: GraphQLClient, child_key: str) -> dict[str, Any]:

    async def child_with_its_task() -> dict[str, Any] | None:
        edges = (await client.execute(INSTANCES, {"f": {"definitionKey": child_key}}))[
            "processInstances"
        ]["edges"]
        if edges and (await read(client, edges[0]["node"]["id"]))["tasks"]:
            return await read(client, edges[0]["node"]["id"])
        return None

    kid = await eventually(child_with_its_task, what="the child instance's task")
    assert kid is not None
    return kid
