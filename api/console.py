"""The commands of `flowdesk` that work on the data directly: add a user, deploy
definitions, look at instances and tasks. Each goes through the domain service GraphQL
uses, with the database's own credentials: whoever runs them sees what an admin sees."""

from __future__ import annotations

import getpass
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from strawberry import relay

from api.auth.principal import ADMIN_ROLE, Principal
from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.errors import BadUserInput, FlowdeskError
from api.models import OPEN_TASK_STATUSES
from api.services.definitions import DefinitionService, document
from api.services.inbox import InboxService, TaskQuery
from api.services.instances import InstanceService
from api.services.users import UserService
from api.settings import Settings
from api.temporal import connect_temporal
from engine.enums import InstanceStatus, TaskStatus

# Who the listings run as. Not a user of the database: nothing is written in its name.
OPERATOR = Principal(
    id=uuid.UUID(int=0), username="flowdesk", groups=frozenset(), roles=frozenset({ADMIN_ROLE})
)


def read_password(stdin: TextIO) -> str:
    """From a prompt (typed twice) on a terminal, else the first line of stdin, so that
    it need not be on a command line, where shell history and `ps` would keep it."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            raise BadUserInput("the two passwords differ", field="password")
        return first
    return stdin.readline().rstrip("\r\n")


async def add_user(
    sessions: SessionMaker,
    settings: Settings,
    username: str,
    password: str,
    *,
    display_name: str | None,
    email: str | None,
    groups: list[str],
    admin: bool,
) -> None:
    users = UserService(sessions, TokenIssuer(settings))
    user = await users.create_user(
        username,
        password,
        display_name=display_name,
        email=email,
        groups=groups,
        roles=[ADMIN_ROLE] if admin else [],
    )
    print(f"created user {user.username} ({_global_id('User', user.id)})")


async def deploy(
    sessions: SessionMaker, settings: Settings, files: Sequence[Path], *, as_user: str
) -> bool:
    """Validate and deploy each file in turn (JSON, or BPMN 2.0 XML by its .bpmn or .xml
    suffix) as the user `as_user`, with that user's rights (a new key becomes theirs);
    print what was deployed and every problem of what was not. True if all were."""
    users = UserService(sessions, TokenIssuer(settings))
    deployer = await users.principal((await users.by_username(as_user)).id)
    definitions = DefinitionService(sessions)
    deployed_all = True
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() in {".bpmn", ".xml"}:
                raw, imported = document(None, text)
            else:
                raw, imported = document(orjson.loads(text), None)
            definition = await definitions.deploy(raw, deployer, imported)
        except (OSError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
            print(f"{path}: cannot read it: {exc}", file=sys.stderr)
        except FlowdeskError as exc:
            for problem in exc.extensions.get("problems") or [{"message": exc.message}]:
                where = problem.get("path") or ""
                if problem.get("nodeId"):
                    where += f" (node {problem['nodeId']})"
                print(
                    f"{path}: {where + ': ' if where else ''}{problem['message']}", file=sys.stderr
                )
        else:
            print(f"{path}: deployed {definition.key} version {definition.version}")
            continue
        deployed_all = False
    return deployed_all


async def list_instances(
    sessions: SessionMaker,
    settings: Settings,
    *,
    statuses: list[InstanceStatus],
    key: str | None,
    limit: int,
) -> None:
    # Lazy: listing never calls Temporal, and must not need it to be up.
    temporal = await connect_temporal(settings, lazy=True)
    instances = InstanceService(sessions, temporal, settings, DefinitionService(sessions))
    page = await instances.page(
        OPERATOR,
        statuses=statuses,
        definition_key=key,
        business_key=None,
        started_by_me=None,
        after=None,
        limit=limit,
    )
    rows = [row for row, _ in page]
    with_definitions = await instances.with_definitions([r.id for r in rows])
    _print_table(
        ("ID", "DEFINITION", "STATUS", "BUSINESS KEY", "STARTED"),
        [
            (
                _global_id("ProcessInstance", row.id),
                f"{definition.key} v{definition.version}",
                row.status.value,
                row.business_key or "",
                _when(row.started_at),
            )
            for row, definition in (with_definitions[r.id] for r in rows)
        ],
    )


async def list_tasks(
    sessions: SessionMaker,
    settings: Settings,
    *,
    username: str | None,
    statuses: list[TaskStatus],
    key: str | None,
    limit: int,
) -> None:
    """The inbox of `username` as GraphQL's `tasks` shows it to them, else every open task;
    `statuses` chooses others."""
    users = UserService(sessions, TokenIssuer(settings))
    chosen: tuple[TaskStatus, ...] | None
    if username is None:
        # With a status filter the inbox is every task the caller may see: all, for an admin.
        caller, chosen = OPERATOR, tuple(statuses) or OPEN_TASK_STATUSES
    else:
        caller = await users.principal((await users.by_username(username)).id)
        chosen = tuple(statuses) or None
    query = TaskQuery(statuses=chosen, definition_key=key)
    page = await InboxService(sessions).page(caller, query, after=None, limit=limit)
    names = await users.usernames({t.assignee_id for t, _ in page if t.assignee_id})
    _print_table(
        ("ID", "NAME", "STATUS", "PRIORITY", "DUE", "ASSIGNEE", "CANDIDATE GROUPS"),
        [
            (
                _global_id("Task", task.id),
                task.name,
                task.status.value,
                str(task.priority),
                _when(task.due_at),
                names.get(task.assignee_id, "") if task.assignee_id else "",
                ",".join(task.candidate_groups),
            )
            for task, _ in page
        ],
    )


def _global_id(type_name: str, value: uuid.UUID) -> str:
    """The id GraphQL knows the object by, to paste into `node(id:)` and the like."""
    return str(relay.GlobalID(type_name, str(value)))


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        print("(none)")
        return
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
