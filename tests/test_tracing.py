"""A completion is traced from the HTTP request through Temporal and the worker's activity
to the history rows it writes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.db import create_engine, create_sessionmaker
from api.embedded import free_port
from api.events import EventBus, connect_redis
from api.services.users import UserService
from api.settings import Settings
from api.temporal import connect_temporal
from api.tracing import trace_statements
from tests.client import GraphQLClient
from tests.conftest import serve_app
from tests.factories import claim, complete, deploy, one_task, start
from tests.kit.people import as_user
from workers.actions import load_actions
from workers.worker import build_worker


@pytest.fixture
async def traced(settings: Settings) -> AsyncIterator[tuple[str, InMemorySpanExporter]]:
    """An API and a worker of their own (own port and task queue), tracing to memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    own = settings.model_copy(
        update={"port": free_port(), "task_queue": f"traced-{secrets.token_hex(4)}"}
    )
    engine = create_engine(own)
    trace_statements(engine, provider)
    temporal = await connect_temporal(own, tracing=provider)
    redis = await connect_redis(own.redis_url)
    bus = EventBus(redis, own.event_channel_prefix)
    try:
        async with (
            httpx.AsyncClient() as http,
            build_worker(temporal, own, create_sessionmaker(engine), bus, load_actions(http, own)),
            serve_app(own, tracing=provider) as url,
        ):
            yield url, exporter
    finally:
        await redis.aclose()
        await engine.dispose()


async def test_a_completion_is_traced_from_the_request_to_the_history_write(
    traced: tuple[str, InMemorySpanExporter], users: UserService, unique: str
) -> None:
    url, exporter = traced
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        anonymous = GraphQLClient(http)
        me = await as_user(anonymous, users, groups=[unique])
        key = (await deploy(me, one_task(group=unique)))["key"]
        [task] = (await start(me, key))["tasks"]
        await claim(me, task["id"])
        exporter.clear()
        await complete(me, task["id"])
    spans = exporter.get_finished_spans()
    [request] = [s for s in spans if s.name == "POST /graphql" and s.parent is None]
    assert request.context is not None
    asked = [s for s in spans if s.context and s.context.trace_id == request.context.trace_id]
    assert "StartWorkflowUpdate:complete_task" in {s.name for s in asked}
    # The worker handles the update in the instance's own trace (Temporal's interceptor
    # keeps one trace per workflow), linked to the request that sent it.
    [handled] = [s for s in spans if s.name == "HandleUpdate:complete_task"]
    assert handled.context is not None
    assert request.context.trace_id in {link.context.trace_id for link in handled.links}
    instance = [s for s in spans if s.context and s.context.trace_id == handled.context.trace_id]
    names = [s.name for s in instance]
    assert "StartActivity:apply_transition" in names and "RunActivity:apply_transition" in names
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in instance]
    assert any(sql.startswith("INSERT INTO history_events") for sql in statements), statements
