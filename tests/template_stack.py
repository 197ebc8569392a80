"""What the template scenarios run on: people made once per module, the templates deployed
under fresh keys, an HTTP service on demand, and each started instance as the initiator
sees it (waiting for what timers and services do by themselves).

With FLOWDESK_RECORD_HISTORIES=<folder> (tests/histories/record.py sets it), each
finished instance's Temporal history is kept for tests/test_replay.py.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from strawberry.relay import GlobalID
from temporalio.client import Client

from api.auth.tokens import TokenIssuer
from api.services.users import UserService
from engine.workflow_contract import workflow_id
from tests.client import GraphQLClient, GraphQLError
from tests.factories import INSTANCE_FIELDS, TEMPLATES, complete, deploy, template
from tests.kit.http_stub import Stub, serve_stub
from tests.kit.people import make_user
from tests.kit.waiting import eventually

TEMPLATE_NAMES = sorted(path.stem for path in TEMPLATES.glob("*.json"))
RECORD_INTO = os.environ.get("FLOWDESK_RECORD_HISTORIES")
OPEN = ("CREATED", "CLAIMED")


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((TEMPLATES / f"{name}.json").read_text())
    return document


@dataclass
class People:
    """Users made once per module, their tokens issued directly: hashing a password (on
    creation, and again on login) is the slowest step of a scenario, and login has tests
    of its own. Instances keep scenarios apart, not people."""

    users: UserService
    tokens: TokenIssuer
    made: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def get(self, slot: str, *groups: str) -> tuple[str, str]:
        """(username, token) of the user in `slot`, made on first use."""
        if slot not in self.made:
            user = await make_user(self.users, groups=list(groups))
            self.made[slot] = (user.username, self.tokens.issue(user.id, user.username))
        return self.made[slot]


@dataclass
class Stack:
    """What a scenario works with: people, deployments, and an HTTP service on demand."""

    scenario: str
    client: GraphQLClient
    people: People
    temporal: Client
    exits: contextlib.AsyncExitStack
    taken: int = 0
    histories: dict[str, str] = field(default_factory=dict)
    _server: Stub | None = None

    async def person(self) -> tuple[str, GraphQLClient]:
        """Someone in no group, other than anyone this scenario took before."""
        self.taken += 1
        username, token = await self.people.get(f"person-{self.taken}")
        return username, GraphQLClient(self.client.http, token)

    async def member(self, group: str) -> GraphQLClient:
        """The member of `group` who works that group's tasks."""
        _, token = await self.people.get(f"group-{group}", group)
        return GraphQLClient(self.client.http, token)

    async def server(self) -> Stub:
        if self._server is None:
            self._server = self.exits.enter_context(serve_stub())
        return self._server

    async def deploy(self, name: str, **changes: dict[str, Any]) -> dict[str, Any]:
        """The template under a fresh key; `changes` updates nodes by id, e.g.
        `diagnose={"retry": {...}}`."""
        document = template(name)
        for node in document["nodes"]:
            node.update(copy.deepcopy(changes.get(node["id"], {})))
        await deploy(await self.member("deployers"), document)
        return document

    async def start(
        self,
        definition: dict[str, Any],
        initiator: GraphQLClient,
        *,
        business_key: str | None = None,
        **variables: Any,
    ) -> Process:
        data = await initiator.execute(
            f"mutation($k: String!, $b: String, $v: JSON) {{ startProcess(key: $k, businessKey: $b, variables: $v) {{ {INSTANCE_FIELDS} }} }}",
            {"k": definition["key"], "b": business_key, "v": variables},
        )
        started: dict[str, Any] = data["startProcess"]
        assert started["status"] == "RUNNING", started
        return Process(self, definition, initiator, started["id"], started)


@dataclass
class Process:
    """One instance, seen by whoever started it."""

    stack: Stack
    definition: dict[str, Any]
    initiator: GraphQLClient
    id: str
    started: dict[str, Any] = field(default_factory=dict)
    children: dict[str, Process] = field(default_factory=dict)

    @property
    def workflow_id(self) -> str:
        return workflow_id(GlobalID.from_id(self.id).node_id)

    async def read(self) -> dict[str, Any]:
        data = await self.initiator.execute(
            f"query($id: ID!) {{ processInstance(id: $id) {{ {INSTANCE_FIELDS} incident }} }}",
            {"id": self.id},
        )
        found: dict[str, Any] = data["processInstance"]
        return found

    async def until(self, done: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The instance once `done` holds (timers and services move it on by themselves)."""
        return await eventually(self.read, done, what=what)

    async def open_nodes(self) -> list[str]:
        return sorted(t["nodeId"] for t in open_tasks(await self.read()))

    async def task(self, node_id: str, assignee: str | None = None) -> dict[str, Any]:
        """The one open task of a node (of `assignee`, for a multi-instance task)."""

        def mine(found: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                t
                for t in open_tasks(found, node_id)
                if assignee is None or (t["assignee"] or {}).get("username") == assignee
            ]

        found = await self.until(lambda f: len(mine(f)) == 1, f"one open task at {node_id!r}")
        return mine(found)[0]

    async def work(
        self, node_id: str, by: GraphQLClient | str, assignee: str | None = None, **variables: Any
    ) -> dict[str, Any]:
        """Complete the node's open task as a member of the group `by`, or as `by`; returns
        the task as it was before."""
        task = await self.task(node_id, assignee)
        if isinstance(by, str):
            assert by in task["candidateGroups"], (node_id, task["candidateGroups"])
            by = await self.stack.member(by)
        done = await complete(by, task["id"], **variables)
        assert done["status"] == "COMPLETED"
        return task

    async def send(
        self, name: str, *, business_key: str | None = None, **variables: Any
    ) -> dict[str, Any]:
        """Deliver a message, by business key when given, else by instance id."""
        target = {"bk": business_key} if business_key else {"id": self.id}
        data = await self.initiator.execute(
            "mutation($id: ID, $bk: String, $n: String!, $v: JSON) { sendMessage(instanceId: $id, businessKey: $bk, name: $n, variables: $v) { status variables } }",
            {**target, "n": name, "v": variables},
        )
        sent: dict[str, Any] = data["sendMessage"]
        return sent

    async def child(self, node_id: str, name: str) -> Process:
        """The child instance the call activity `node_id` started (of template `name`)."""

        def started(found: dict[str, Any]) -> list[str]:
            return [
                h["data"]["child_id"]
                for h in found["history"]
                if h["type"] == "CHILD_STARTED" and h["nodeId"] == node_id
            ]

        found = await self.until(lambda f: bool(started(f)), f"a child of {node_id!r}")
        gid = str(GlobalID("ProcessInstance", started(found)[-1]))
        child = Process(self.stack, load(name), self.initiator, gid)
        self.children[name] = child

        # The parent records the start before the child's first step writes its row.
        async def readable() -> bool:
            try:
                await child.read()
            except GraphQLError as error:
                assert error.codes == ["NOT_FOUND"], error
                return False
            return True

        await eventually(readable, what=f"the child {name!r} to be readable")
        return child

    async def ended(self, status: str = "COMPLETED") -> dict[str, Any]:
        """The instance once it has ended with `status` and its workflow has closed."""
        found = await self.until(lambda f: f["status"] == status, f"status {status}")
        assert not open_tasks(found)
        await self.stack.temporal.get_workflow_handle(self.workflow_id).result()
        return found

    async def finish(self) -> dict[str, Any]:
        """The completed instance; its history (and its children's) kept when recording."""
        found = await self.ended()
        if RECORD_INTO is not None:
            await self._keep(self.stack.scenario)
        return found

    async def _keep(self, stem: str) -> None:
        handle = self.stack.temporal.get_workflow_handle(self.workflow_id)
        self.stack.histories[stem] = (await handle.fetch_history()).to_json()
        for name, child in self.children.items():
            await child._keep(f"{stem}.{name}")


def write_histories(folder: Path, histories: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, history in histories.items():
        (folder / f"{stem}.json").write_text(history)


def open_tasks(found: dict[str, Any], node_id: str | None = None) -> list[dict[str, Any]]:
    return [
        t
        for t in found["tasks"]
        if t["status"] in OPEN and (node_id is None or t["nodeId"] == node_id)
    ]


def entered(found: dict[str, Any]) -> list[str]:
    """Node ids in the order the instance entered them: the path it took."""
    return [h["nodeId"] for h in found["history"] if h["type"] == "NODE_ENTERED"]


def ends(found: dict[str, Any], definition: dict[str, Any]) -> list[str]:
    """The end events reached, in order."""
    end_ids = {n["id"] for n in definition["nodes"] if n["type"] == "endEvent"}
    return [node for node in entered(found) if node in end_ids]


def history_types(found: dict[str, Any]) -> list[str]:
    return [h["type"] for h in found["history"]]


def soon(seconds: float = 1.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
