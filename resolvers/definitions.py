"""Resolvers of process definitions."""

from __future__ import annotations

import strawberry
from strawberry import relay

from api.errors import BadUserInput
from api.services.definitions import document
from engine.definition import definition_json_schema
from schema.common import JSON, Ctx, build_connection, page_size
from schema.definitions import DefinitionProblem, ProblemSeverity, ProcessDefinition
from schema.ids import decode_id


async def deploy_definition(
    info: Ctx, definition: JSON | None = None, bpmn_xml: str | None = None
) -> ProcessDefinition:
    raw, imported = document(definition, bpmn_xml)
    row = await info.context.services.definitions.deploy(raw, info.context.require_user(), imported)
    return ProcessDefinition.from_row(row)


async def add_definition_owner(info: Ctx, key: str, user_id: strawberry.ID) -> ProcessDefinition:
    row = await info.context.services.definitions.add_owner(
        info.context.require_user(), key, decode_id(user_id, "User", field="userId")
    )
    return ProcessDefinition.from_row(row)


async def validate_definition(
    info: Ctx, definition: JSON | None = None, bpmn_xml: str | None = None
) -> list[DefinitionProblem]:
    principal = info.context.require_user()
    try:
        raw, imported = document(definition, bpmn_xml)
    except BadUserInput as exc:
        if "problems" not in exc.extensions:
            raise
        # The error's problems are as clients read them (camelCase `nodeId`).
        return [
            DefinitionProblem(
                path=p["path"],
                node_id=p["nodeId"],
                message=p["message"],
                severity=ProblemSeverity(p["severity"]),
            )
            for p in exc.extensions["problems"]
        ]
    problems = await info.context.services.definitions.check(principal, raw, imported)
    return [
        DefinitionProblem(
            path=p.path,
            node_id=p.node_id,
            message=p.message,
            severity=ProblemSeverity(p.severity),
        )
        for p in problems
    ]


async def export_definition(info: Ctx, key: str, version: int | None = None) -> JSON:
    row = await info.context.services.definitions.get(info.context.require_user(), key, version)
    return JSON(row.spec)


def definition_schema(info: Ctx) -> JSON:
    return JSON(definition_json_schema())


async def suspend_definition(info: Ctx, key: str, version: int | None = None) -> ProcessDefinition:
    row = await info.context.services.definitions.set_suspended(
        info.context.require_user(), key, version, True
    )
    return ProcessDefinition.from_row(row)


async def activate_definition(info: Ctx, key: str, version: int | None = None) -> ProcessDefinition:
    row = await info.context.services.definitions.set_suspended(
        info.context.require_user(), key, version, False
    )
    return ProcessDefinition.from_row(row)


async def process_definition(info: Ctx, key: str, version: int | None = None) -> ProcessDefinition:
    row = await info.context.services.definitions.get(info.context.require_user(), key, version)
    return ProcessDefinition.from_row(row)


async def process_definitions(
    info: Ctx,
    key: str | None = None,
    latest_only: bool = True,
    first: int | None = None,
    after: str | None = None,
) -> relay.Connection[ProcessDefinition]:
    limit = page_size(first)
    rows = await info.context.services.definitions.page(
        info.context.require_user(), key=key, latest_only=latest_only, after=after, limit=limit + 1
    )
    return build_connection(rows, limit, ProcessDefinition.from_row, has_previous=after is not None)
