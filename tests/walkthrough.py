"""The README's GraphiQL walk-through, run as written: its GraphQL blocks in order, with the
placeholders filled in from earlier answers, over real HTTP and a real websocket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.ws import subscribe
from tests.client import GraphQLClient

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_blocks() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)


@dataclass
class WalkthroughResult:
    instance_id: str
    task_id: str
    alice_token: str


async def walk_through(
    base_url: str, *, admin: str, admin_password: str, alice: str = "alice", key: str = "vacation"
) -> WalkthroughResult:
    """Every step of the walk-through, asserting what the README says each one shows.

    `alice` and `key` let a shared server run it more than once."""
    (login, create_user, deploy, start, watch, inbox, claim, complete, read) = readme_blocks()

    def fill(block: str, **values: str) -> str:
        block = block.replace('"alice"', f'"{alice}"').replace('"vacation"', f'"{key}"')
        for name, value in values.items():
            block = block.replace(f"<{name}>", value)
        return block

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        anonymous = GraphQLClient(http)
        logged_in = await anonymous.execute(
            fill(login, ADMIN_PASSWORD=admin_password).replace('"admin"', f'"{admin}"')
        )
        as_admin = GraphQLClient(http, logged_in["login"]["token"])

        created = (await as_admin.execute(fill(create_user)))["createUser"]
        assert created["groups"] == [{"key": "managers"}]
        deployed = (await as_admin.execute(fill(deploy)))["deployDefinition"]
        assert deployed["key"] == key and deployed["version"] >= 1
        started = (await as_admin.execute(fill(start)))["startProcess"]
        assert started["status"] == "RUNNING"
        [task] = started["tasks"]
        assert task["name"] == "Approve vacation" and task["status"] == "CREATED"

        alice_login = fill(login, ADMIN_PASSWORD="alice-secret-1").replace('"admin"', f'"{alice}"')
        as_alice = GraphQLClient(http, (await anonymous.execute(alice_login))["login"]["token"])
        ws_url = base_url.replace("http://", "ws://") + "/graphql"
        async with subscribe(ws_url, fill(watch), as_alice.token) as events:
            edges = (await as_alice.execute(fill(inbox)))["tasks"]["edges"]
            assert task["id"] in [e["node"]["id"] for e in edges]

            claimed = (await as_alice.execute(fill(claim, TASK_ID=task["id"])))["claimTask"]
            assert claimed == {"status": "CLAIMED", "assignee": {"username": alice}}
            event = await events.until(lambda d: d["taskEvents"]["type"] == "TASK_CLAIMED")
            assert event["data"]["taskEvents"]["task"]["assignee"] == {"username": alice}

            done = (await as_alice.execute(fill(complete, TASK_ID=task["id"])))["completeTask"]
            assert done["status"] == "COMPLETED" and done["completedAt"]
            event = await events.until(lambda d: d["taskEvents"]["type"] == "TASK_COMPLETED")
            assert event["data"]["taskEvents"]["task"]["status"] == "COMPLETED"

        for reader in (as_admin, as_alice):
            instance = (await reader.execute(fill(read, INSTANCE_ID=started["id"])))[
                "processInstance"
            ]
            assert instance["status"] == "COMPLETED"
            assert instance["variables"] == {"days": 3, "approved": True}
            assert instance["definition"] == {"key": key, "version": deployed["version"]}
            types = [h["type"] for h in instance["history"]]
            assert types[0] == "INSTANCE_STARTED" and types[-1] == "INSTANCE_COMPLETED"
            assert {"TASK_CREATED", "TASK_CLAIMED", "TASK_COMPLETED"} <= set(types)
            assert [h["seq"] for h in instance["history"]] == list(range(1, len(types) + 1))
        return WalkthroughResult(started["id"], task["id"], as_alice.token or "")
