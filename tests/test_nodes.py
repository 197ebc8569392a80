"""`node(id)` finds any object by its global id, within what the caller may see."""

from __future__ import annotations

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.factories import deploy, one_task, start
from tests.kit.people import as_user, make_user

NODE = """query($id: ID!) { node(id: $id) {
  __typename id
  ... on Task { name taskStatus: status }
  ... on ProcessInstance { instanceStatus: status }
  ... on ProcessDefinition { key version }
  ... on User { username }
} }"""


async def test_node_resolves_each_type_by_global_id(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    user = await make_user(users, groups=[f"g-{unique}"])
    caller = await client.login(user.username)
    definition = await deploy(caller, one_task(group=f"g-{unique}"))
    started = await start(caller, definition["key"])
    task = started["tasks"][0]
    me = (await caller.execute("{ me { id } }"))["me"]

    found = [
        (await caller.execute(NODE, {"id": i}))["node"]
        for i in (task["id"], started["id"], definition["id"], me["id"])
    ]
    assert [n["__typename"] for n in found] == [
        "Task",
        "ProcessInstance",
        "ProcessDefinition",
        "User",
    ]
    assert found[0]["name"] == "Do the work" and found[1]["instanceStatus"] == "RUNNING"
    assert found[2]["key"] == definition["key"] and found[3]["username"] == user.username


async def test_node_is_null_for_what_the_caller_may_not_see(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    owner = await as_user(client, users, groups=[f"g-{unique}"])
    outsider = await as_user(client, users)
    started = await start(owner, (await deploy(owner, one_task(group=f"g-{unique}")))["key"])
    for hidden in (started["id"], started["tasks"][0]["id"]):
        assert (await outsider.execute(NODE, {"id": hidden}))["node"] is None


async def test_node_with_a_malformed_id_is_bad_user_input(
    client: GraphQLClient, users: UserService
) -> None:
    caller = await as_user(client, users)
    for bad in ("nonsense", "VGFzazpub3QtYS11dWlk", "Tm9wZToxMjM="):  # Task:not-a-uuid, Nope:123
        body = await caller.raw(NODE, {"id": bad})
        assert body["data"]["node"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
