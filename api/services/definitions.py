"""Deploying, versioning and reading process definitions."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.cursors import Keyset, text, version
from api.db import SessionMaker, reading
from api.errors import BadUserInput, Forbidden, NotFound
from api.jsonschemas import schema_problem
from api.models import DefinitionOwner, ProcessDefinition, User
from api.services.audit import record
from api.services.definition_access import may_read, may_start, readable_sql, rights_of
from engine.bpmn import BpmnImport, BpmnImportError, import_bpmn
from engine.definition import Definition
from engine.enums import NodeType
from engine.expressions import is_expression
from engine.names import did_you_mean
from engine.node_types import PRIORITY_MAX, PRIORITY_MIN
from engine.validation import DefinitionInvalid, Problem, deployed_definition, parse_definition

# Pages go by key, then newest version first.
_BY_KEY = Keyset((text, version))


def definition_problems(raw: dict[str, Any]) -> list[Problem]:
    """Everything wrong with `raw`: the engine's checks, the JSON Schemas it carries and
    the lengths the tables can store, all at once (one problem must not hide another)."""
    try:
        parse_definition(raw)
        problems: list[Problem] = []
    except DefinitionInvalid as exc:
        problems = list(exc.problems)
    variables = raw.get("variables")
    if isinstance(variables, dict) and (why := schema_problem(variables)):
        problems.append(Problem(path="variables", message=f"not a valid JSON Schema: {why}"))
    for field, limit in _LIMITS.items():
        problems += _too_long(raw.get(field), field, limit)
    nodes = raw.get("nodes")
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if not isinstance(node, dict):
            continue
        node_id = node.get("id") if isinstance(node.get("id"), str) else None
        form = node.get("form")
        if isinstance(form, dict) and (why := schema_problem(form)):
            problems.append(
                Problem(
                    path=f"nodes[{index}].form",
                    node_id=node_id,
                    message=f"not a valid JSON Schema: {why}",
                )
            )
        for field, limit in _NODE_LIMITS.items():
            problems += _too_long(node.get(field), f"nodes[{index}].{field}", limit, node_id)
        priority = node.get("priority")
        if type(priority) is int and not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            # Checked at deployment, not by the engine's model: the workflow parses the
            # pinned spec of running instances again, which must not start failing.
            problems.append(
                Problem(
                    path=f"nodes[{index}].priority",
                    node_id=node_id,
                    message=f"priority must be between {PRIORITY_MIN} and {PRIORITY_MAX}",
                )
            )
        groups = node.get("candidateGroups")
        for k, group in enumerate(groups if isinstance(groups, list) else []):
            if isinstance(group, str) and not is_expression(group):
                path = f"nodes[{index}].candidateGroups[{k}]"
                problems += _too_long(group, path, _GROUP_LIMIT, node_id)
    return problems


# The engine's structural checks (the dominators of its join check) grow about with the
# cube of the number of nodes: 0.24 s for 100 nodes, 1.7 s for 200, 5.5 s for 300 and
# 30 s for 1,000 (bench/definition_size.py, a loaded 2-core machine). A larger document
# is refused before they run, and they run in a thread, off the event loop.
MAX_NODES = 200
MAX_FLOWS = 2 * MAX_NODES


def _size_problems(raw: dict[str, Any]) -> list[Problem]:
    problems = []
    for field, limit in (("nodes", MAX_NODES), ("flows", MAX_FLOWS)):
        items = raw.get(field)
        if isinstance(items, list) and len(items) > limit:
            problems.append(Problem(path=field, message=f"more than {limit} {field}"))
    return problems


def examine(raw: dict[str, Any]) -> tuple[list[Problem], Definition | None]:
    """Problems of `raw`, or its engine model when it has none (CPU-bound: in a thread)."""
    problems = _size_problems(raw) or definition_problems(raw)
    return problems, None if problems else parse_definition(raw)


def _stored(definition: Definition) -> tuple[dict[str, Any], str]:
    spec = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    return spec, checksum(spec)


# The widths of the columns these values are stored in (api/models.py): a longer value
# would fail on deployment, or in the workflow's first transition, which retries forever.
_LIMITS = {"key": 150, "name": 200}
_NODE_LIMITS = {"id": 150, "name": 200}
_GROUP_LIMIT = 150


def _too_long(value: Any, path: str, limit: int, node_id: str | None = None) -> list[Problem]:
    if isinstance(value, str) and len(value) > limit:
        return [Problem(path=path, node_id=node_id, message=f"longer than {limit} characters")]
    return []


def problems_error(problems: list[Problem]) -> BadUserInput:
    return BadUserInput(
        f"the definition has {len(problems)} problem(s): "
        + "; ".join(f"{p.path}: {p.message}" for p in problems),
        problems=[
            {"path": p.path, "nodeId": p.node_id, "message": p.message, "severity": p.severity}
            for p in problems
        ],
    )


def document(definition: Any, bpmn_xml: str | None) -> tuple[Any, BpmnImport | None]:
    """The JSON document to validate and deploy, from JSON or from BPMN 2.0 XML, and the
    BPMN import it came from (its warnings, and where its problems are in the XML)."""
    if (definition is None) == (bpmn_xml is None):
        raise BadUserInput("give exactly one of definition or bpmnXml")
    if bpmn_xml is None:
        return definition, None
    try:
        imported = import_bpmn(bpmn_xml)
    except BpmnImportError as exc:
        raise problems_error(list(exc.problems)) from exc
    return imported.definition, imported


def _called_keys(raw: dict[str, Any]) -> dict[int, str]:
    """The keys the call activities of a document name, by node position; read from the
    document itself, so that they are checked even when it has other problems."""
    nodes = raw.get("nodes")
    return {
        index: node["calledElement"]
        for index, node in enumerate(nodes if isinstance(nodes, list) else [])
        if isinstance(node, dict)
        and node.get("type") == NodeType.CALL_ACTIVITY
        and isinstance(node.get("calledElement"), str)
    }


def checksum(spec: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()


def parsed(row: ProcessDefinition) -> Definition:
    """The engine model of a deployed row, parsed once per process (rows never change)."""
    return deployed_definition(str(row.id), row.spec)


class DefinitionService:
    def __init__(self, sessions: SessionMaker) -> None:
        self._sessions = sessions
        self._reads = reading(sessions)

    async def check(
        self, principal: Principal, raw: Any, imported: BpmnImport | None = None
    ) -> list[Problem]:
        """`problems`, for whoever may deploy; for a BPMN import, the import's warnings
        too, and every problem pointing at the BPMN element it concerns."""
        principal.require(Permission.DEFINITION_DEPLOY)
        problems = await self.problems(raw)
        return problems if imported is None else imported.warnings + imported.locate(problems)

    async def problems(self, raw: Any) -> list[Problem]:
        """Everything wrong with `raw`, including call activities naming keys that are not
        deployed (a definition may call its own key), even when it has other problems."""
        return (await self._examine(raw))[0]

    async def _examine(self, raw: Any) -> tuple[list[Problem], Definition | None]:
        """Problems of `raw` and, when it has none, its engine model."""
        if not isinstance(raw, dict):
            raise BadUserInput("the definition must be a JSON object")
        problems, definition = await asyncio.to_thread(examine, raw)
        calls = _called_keys(raw)
        wanted = set(calls.values()) - {raw.get("key")}
        if wanted:
            async with self._reads() as session:
                found = set(
                    (
                        await session.exec(
                            select(ProcessDefinition.key)
                            .where(col(ProcessDefinition.key).in_(wanted))
                            .distinct()
                        )
                    ).all()
                )
                # Every key only when one is missing: what a misspelt one is compared with.
                deployed = await self._keys(session) if wanted - found else found
            for index, key in calls.items():
                if key in wanted - found:
                    node_id = raw["nodes"][index].get("id")
                    problems.append(
                        Problem(
                            path=f"nodes[{index}].calledElement",
                            node_id=node_id if isinstance(node_id, str) else None,
                            message=f"no process definition '{key}' is deployed"
                            + did_you_mean(key, deployed),
                        )
                    )
        return problems, None if problems else definition

    async def deploy(
        self, raw: Any, deployer: Principal, imported: BpmnImport | None = None
    ) -> ProcessDefinition:
        """Validate fully, then store as the key's next version. Deploying the same
        document again returns the current version instead of minting a copy. Warnings
        do not stop a deployment (validateDefinition lists them).

        A new key belongs to its first deployer; a key that exists takes new versions
        from its owners and admins only."""
        deployer.require(Permission.DEFINITION_DEPLOY)
        problems, definition = await self._examine(raw)
        if definition is None:
            raise problems_error(problems if imported is None else imported.locate(problems))
        spec, digest = await asyncio.to_thread(_stored, definition)
        async with self._sessions() as session, session.begin():
            # Versions of one key are numbered one at a time, and its first deployer is
            # decided under the same lock.
            await session.exec(
                select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(definition.key)))
            )
            latest = await self._latest(session, definition.key)
            if latest is None:
                session.add(DefinitionOwner(key=definition.key, user_id=deployer.id))
            elif not (deployer.is_admin or deployer.id in await _owners(session, definition.key)):
                raise Forbidden(
                    f"the key '{definition.key}' belongs to its owners; deploy under another key",
                    field="key",
                )
            if latest is not None and latest.checksum == digest:
                return latest
            row = ProcessDefinition(
                key=definition.key,
                version=(latest.version + 1) if latest else 1,
                name=definition.name,
                spec=spec,
                rights=rights_of(spec),
                checksum=digest,
                deployed_by=deployer.id,
            )
            session.add(row)
        return row

    async def add_owner(
        self, principal: Principal, key: str, user_id: uuid.UUID
    ) -> ProcessDefinition:
        """Let another user deploy the key too: its owners and admins may. Recorded in the
        audit log."""
        latest = await self.get(principal, key)
        if not (principal.is_admin or await self._owns(principal, key)):
            raise Forbidden("only the key's owners and admins may add owners")
        async with self._sessions() as session, session.begin():
            if await session.get(User, user_id) is None:
                raise NotFound("no such user", field="userId")
            added = await session.exec(
                insert(DefinitionOwner)
                .values(key=key, user_id=user_id)
                .on_conflict_do_nothing()
                .returning(col(DefinitionOwner.user_id))
            )
            if added.first() is not None:
                record(
                    session,
                    principal.id,
                    "addDefinitionOwner",
                    "Definition",
                    key,
                    {"owners": [None, str(user_id)]},
                )
        return latest

    async def get(
        self, principal: Principal, key: str, version: int | None = None
    ) -> ProcessDefinition:
        """The version (the latest when none is given) when the caller may read it; the
        same NOT_FOUND when it does not exist or may not be read."""
        row = await self._find(key, version)
        if row is None or row.id not in await self.visible(principal, [row]):
            # Only keys the caller may read are suggested: others must stay unknown.
            hint = "" if version is not None else did_you_mean(key, await self._readable(principal))
            raise _not_found(key, version, hint)
        return row

    async def find(self, key: str, version: int | None = None) -> ProcessDefinition:
        """The version whoever asks: for the engine itself (a call activity's child)."""
        row = await self._find(key, version)
        if row is None:
            raise _not_found(key, version)
        return row

    async def startable(
        self, principal: Principal, key: str, version: int | None
    ) -> ProcessDefinition:
        """The version to start, when the caller may start it."""
        row = await self.get(principal, key, version)
        allowed = may_start(principal, row, owner=False)
        if not (allowed or may_start(principal, row, await self._owns(principal, row.key))):
            raise Forbidden(f"you may not start process definition '{key}'")
        return row

    @staticmethod
    def readable_at_once(principal: Principal, row: ProcessDefinition) -> bool:
        """True when the caller may read the row by its rights alone; False says only
        that `visible` must look at the key's owners."""
        return may_read(principal, row, owner=False)

    async def visible(self, principal: Principal, rows: list[ProcessDefinition]) -> set[uuid.UUID]:
        """The ids of the rows the caller may read; reads the owners only when the
        rights alone do not allow it."""
        found = {r.id for r in rows if self.readable_at_once(principal, r)}
        rest = [r for r in rows if r.id not in found]
        if rest:
            owned = await self._owned_keys(principal, {r.key for r in rest})
            found |= {r.id for r in rest if r.key in owned}
        return found

    async def _find(self, key: str, version: int | None) -> ProcessDefinition | None:
        async with self._reads() as session:
            if version is None:
                return await self._latest(session, key)
            row: ProcessDefinition | None = (
                await session.exec(
                    select(ProcessDefinition).where(
                        ProcessDefinition.key == key, ProcessDefinition.version == version
                    )
                )
            ).first()
            return row

    async def _readable(self, principal: Principal) -> set[str]:
        """The keys the caller may read."""
        async with self._reads() as session:
            rows = await session.exec(
                select(ProcessDefinition.key).where(readable_sql(principal)).distinct()
            )
            return set(rows.all())

    @staticmethod
    async def _keys(session: Any) -> set[str]:
        """Every deployed key."""
        return set((await session.exec(select(ProcessDefinition.key).distinct())).all())

    async def _owns(self, principal: Principal, key: str) -> bool:
        return key in await self._owned_keys(principal, {key})

    async def _owned_keys(self, principal: Principal, keys: set[str]) -> set[str]:
        async with self._reads() as session:
            rows = await session.exec(
                select(DefinitionOwner.key).where(
                    col(DefinitionOwner.user_id) == principal.id,
                    col(DefinitionOwner.key).in_(keys),
                )
            )
            return set(rows.all())

    async def set_suspended(
        self, principal: Principal, key: str, version: int | None, suspended: bool
    ) -> ProcessDefinition:
        """Suspend (no new instances start) or activate one version, or every version of
        the key when none is given; running instances are not affected. Admins only."""
        if not principal.is_admin:
            raise Forbidden("this needs the admin role")
        await self.get(principal, key, version)
        async with self._sessions() as session, session.begin():
            statement = sa.update(ProcessDefinition).where(col(ProcessDefinition.key) == key)
            if version is not None:
                statement = statement.where(col(ProcessDefinition.version) == version)
            await session.exec(statement.values(suspended=suspended))
        return await self.get(principal, key, version)

    async def by_ids(self, ids: list[uuid.UUID]) -> list[ProcessDefinition | None]:
        async with self._reads() as session:
            rows = await session.exec(
                select(ProcessDefinition).where(col(ProcessDefinition.id).in_(ids))
            )
            found = {r.id: r for r in rows}
        return [found.get(i) for i in ids]

    async def page(
        self,
        principal: Principal,
        *,
        key: str | None,
        latest_only: bool,
        after: str | None,
        limit: int,
    ) -> list[tuple[ProcessDefinition, str]]:
        """Definitions the caller may read by key, then newest version first, with their
        cursors; `after` is the cursor of the previous page's last row."""
        position = _BY_KEY.position(after)
        query = select(ProcessDefinition).where(readable_sql(principal))
        if key is not None:
            query = query.where(ProcessDefinition.key == key)
        if latest_only:
            newest = (
                sa.select(
                    col(ProcessDefinition.key),
                    sa.func.max(col(ProcessDefinition.version)).label("version"),
                )
                .group_by(col(ProcessDefinition.key))
                .subquery()
            )
            query = query.join(
                newest,
                sa.and_(
                    col(ProcessDefinition.key) == newest.c.key,
                    col(ProcessDefinition.version) == newest.c.version,
                ),
            )
        if position is not None:
            after_key, after_version = position
            query = query.where(
                sa.or_(
                    col(ProcessDefinition.key) > after_key,
                    sa.and_(
                        col(ProcessDefinition.key) == after_key,
                        col(ProcessDefinition.version) < after_version,
                    ),
                )
            )
        query = query.order_by(
            col(ProcessDefinition.key), col(ProcessDefinition.version).desc()
        ).limit(limit)
        async with self._reads() as session:
            rows = (await session.exec(query)).all()
        return _BY_KEY.paged(rows, lambda r: (r.key, r.version))

    @staticmethod
    async def _latest(session: Any, key: str) -> ProcessDefinition | None:
        result = await session.exec(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == key)
            .order_by(col(ProcessDefinition.version).desc())
            .limit(1)
        )
        row: ProcessDefinition | None = result.first()
        return row


async def _owners(session: Any, key: str) -> set[uuid.UUID]:
    rows = await session.exec(select(DefinitionOwner.user_id).where(DefinitionOwner.key == key))
    return set(rows.all())


def _not_found(key: str, version: int | None, hint: str = "") -> NotFound:
    suffix = f" version {version}" if version is not None else ""
    return NotFound(f"no process definition '{key}'{suffix}{hint}")
