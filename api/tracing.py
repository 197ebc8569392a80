"""Tracing with OpenTelemetry, off unless FLOWDESK_OTLP_ENDPOINT names a collector.

A request is traced through the API (the ASGI span), its calls to Temporal (the client
interceptor carries the context in the headers), the workflow and the activities it runs
(the same interceptor, in the worker), and each SQL statement on the way (the SQLAlchemy
instrumentation). Temporal's interceptor keeps one trace per workflow, from the start of
the instance: an update (a completion, a suspend) is handled in that trace, with a link
to the request that sent it. A process builds one tracer provider and hands it
to each piece explicitly, so that nothing depends on the global one (and tests can read
their spans from a provider of their own)."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from api.settings import Settings


def tracer_provider(settings: Settings, service: str) -> TracerProvider | None:
    """The process's provider, exporting to the configured OTLP endpoint; None when
    tracing is off."""
    if settings.otlp_endpoint is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
    )
    return provider


def traced(provider: TracerProvider | None) -> list[Middleware]:
    """The app's outermost middleware: a span for each request."""
    if provider is None:
        return []
    return [Middleware(OpenTelemetryMiddleware, tracer_provider=provider)]


def trace_statements(engine: AsyncEngine, provider: TracerProvider | None) -> None:
    """A span for each SQL statement of `engine`, and of that engine alone: the
    instrumentor's own `instrument()` would also patch every engine the process creates
    from then on, whatever provider they should report to."""
    if provider is not None:
        usage = NoOpMeter("flowdesk.sql").create_up_down_counter("db.client.connections.usage")
        tracer = provider.get_tracer("flowdesk.sql")
        EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]  # untyped upstream


def temporal_interceptors(provider: TracerProvider | None) -> list[Interceptor]:
    """For the client; a worker built on that client takes them up too."""
    if provider is None:
        return []
    return [TracingInterceptor(provider.get_tracer("flowdesk.temporal"))]
