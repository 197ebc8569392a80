"""inbox_variants: where the GraphQL inbox page's time goes, and what the fixes recommended in
docs/performance.md would save. An experiment, not one of `make bench`'s scenarios.

The app runs in this process over an ASGI transport (no HTTP, no other process), so what is
timed is the server's own work per page. Each variant patches the app *in this process only*
(no app code is changed) to approximate one recommended fix; variants are measured round
robin so drift hits them alike:

- baseline: the app as it is;
- no-spec: the instance loader's definitions without their `spec` JSONB (the inbox never
  asks for it, yet each of the page's 50 instances brings its definition's ~4 KB document);
- caches: Strawberry's ParserCache and ValidationCache (each request re-parses and
  re-validates the same document today);
- no-ping: the pool without pool_pre_ping (each of the page's five sessions pings first);
- all: the three together.

    python -m bench.inbox_variants [--tasks 1000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import col, select
from starlette.applications import Starlette
from strawberry.extensions import ParserCache, ValidationCache

import api.app
from api.models import ProcessDefinition, ProcessInstance
from api.services.instances import InstanceService
from api.settings import Settings
from bench.inbox_data import INBOX_QUERY, fill
from bench.report import Report, Summary
from bench.stack import Stack

_ORIGINAL_WITH_DEFINITIONS = InstanceService.with_definitions
# Patched through an Any: these are the app module's own imports, replaced in this process.
_APP: Any = api.app
_ORIGINAL_BUILD_SCHEMA = _APP.build_schema


async def _without_spec(
    self: InstanceService, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[ProcessInstance, ProcessDefinition]]:
    """with_definitions, reading every definition column but `spec`."""
    columns = [c for c in ProcessDefinition.__table__.columns if c.name != "spec"]  # type: ignore[attr-defined]
    async with self._sessions() as session:
        rows = await session.exec(
            select(ProcessInstance, *columns)
            .join(ProcessDefinition, col(ProcessDefinition.id) == ProcessInstance.definition_id)
            .where(col(ProcessInstance.id).in_(ids))
        )
        found = {}
        for instance, *values in rows:
            fields = dict(zip((c.name for c in columns), values, strict=True))
            found[instance.id] = (instance, ProcessDefinition(spec={}, **fields))
        return found


def _with_caches(settings: Settings) -> Any:
    schema = _ORIGINAL_BUILD_SCHEMA(settings)
    schema.extensions = [*schema.extensions, ParserCache(maxsize=256), ValidationCache(maxsize=256)]
    return schema


def _without_ping(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=False,
    )


VARIANTS: dict[str, tuple[str, ...]] = {
    "baseline": (),
    "no-spec": ("no-spec",),
    "caches": ("caches",),
    "no-ping": ("no-ping",),
    "all": ("no-spec", "caches", "no-ping"),
}


@contextlib.contextmanager
def patched(parts: tuple[str, ...]) -> Iterator[None]:
    service: Any = InstanceService
    saved = (service.with_definitions, _APP.build_schema, _APP.create_engine)
    try:
        if "no-spec" in parts:
            service.with_definitions = _without_spec
        if "caches" in parts:
            _APP.build_schema = _with_caches
        if "no-ping" in parts:
            _APP.create_engine = _without_ping
        yield
    finally:
        service.with_definitions, _APP.build_schema, _APP.create_engine = saved


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.inbox_variants", description=__doc__)
    p.add_argument("--tasks", type=int, default=1000, help="tasks in the database (60 mine)")
    p.add_argument("--requests", type=int, default=200, help="measured pages per variant")
    p.add_argument("--first", type=int, default=50, help="page size")
    return p


async def run(args: argparse.Namespace) -> Report:
    async with Stack() as stack:
        fixture = await fill(stack, args.tasks)
        apps: dict[str, Starlette] = {}
        clients: dict[str, httpx.AsyncClient] = {}
        async with contextlib.AsyncExitStack() as exits:
            for name, parts in VARIANTS.items():
                with patched(parts):
                    app = _APP.create_app(stack.settings)
                    await exits.enter_async_context(app.router.lifespan_context(app))
                apps[name] = app
                clients[name] = await exits.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app),
                        base_url="http://bench",
                        headers={"Authorization": f"Bearer {fixture.me.token}"},
                    )
                )
            body = {"query": INBOX_QUERY, "variables": {"first": args.first}}
            times: dict[str, list[float]] = {name: [] for name in VARIANTS}
            reference: Any = None
            for i in range(args.requests + 20):
                for name in VARIANTS:
                    # Patched for the request too: the no-spec loader is looked up per call.
                    with patched(VARIANTS[name]):
                        began = time.perf_counter()
                        response = await clients[name].post("/graphql", json=body)
                        elapsed = time.perf_counter() - began
                    document = response.json()
                    if document.get("errors"):
                        raise AssertionError(document["errors"])
                    if reference is None:
                        reference = document
                    elif document != reference:
                        raise AssertionError(f"{name} answers differently")
                    if i >= 20:
                        times[name].append(elapsed)
        report = Report(
            "inbox_variants",
            {
                **stack.setting,
                "what": "server-side time of the 50-task inbox page, app in process over ASGI",
                "requests": f"{args.requests} per variant after 20 warm-up, round robin",
            },
        )
        base = Summary.of(times["baseline"])
        for name in VARIANTS:
            s = Summary.of(times[name])
            report.add(f"{name} vs baseline", s, base, ratio=s.p50 / base.p50)
        return report


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
