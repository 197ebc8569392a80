"""A message by business key reaches the instance that waits for it, also when the key is
shared with the children its call activities started."""

from __future__ import annotations

from typing import Any

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.factories import deploy, instance, one_task, start
from tests.kit.people import as_user

MESSAGE = """mutation($bk: String!, $name: String!) {
  sendMessage(businessKey: $bk, name: $name) { id }
}"""


async def test_a_message_by_business_key_finds_the_waiting_parent_beside_its_child(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"g-{unique}"
    caller = await as_user(client, users, groups=[group])
    child = (await deploy(caller, one_task(group=group)))["key"]
    parent: dict[str, Any] = {
        "key": f"parent_{unique}",
        "name": "Parent",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            {"id": "call", "type": "callActivity", "calledElement": child},
            {"id": "ping", "type": "receiveTask", "message": "ping"},
            {"id": "join", "type": "parallelGateway"},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "fork"},
            {"from": "fork", "to": "call"},
            {"from": "fork", "to": "ping"},
            {"from": "call", "to": "join"},
            {"from": "ping", "to": "join"},
            {"from": "join", "to": "end"},
        ],
    }
    await deploy(caller, parent)
    started = await start(caller, parent["key"], business_key=f"BK-{unique}")

    delivered = await caller.execute(MESSAGE, {"bk": f"BK-{unique}", "name": "ping"})

    assert delivered["sendMessage"]["id"] == started["id"]
    history = [h["type"] for h in (await instance(caller, started["id"]))["history"]]
    assert history.count("MESSAGE_RECEIVED") == 1
