"""The Starlette application: `/graphql` (HTTP and graphql-transport-ws), health and metrics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import structlog
from cross_web import HTTPException
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL

from api import edge, graphiql
from api.auth.tokens import signing_key
from api.context import RequestContext, Services
from api.db import create_engine, create_sessionmaker
from api.errors import FlowdeskError
from api.events import connect_redis
from api.heap import freeze_startup_objects
from api.live.websocket import ConnectionRefused, FlowdeskTransportWS, subscription_over_http
from api.logs import RequestLogContext
from api.settings import Settings
from api.temporal import connect_temporal
from api.tracing import trace_statements, traced, tracer_provider
from schema.root import build_schema

log = logging.getLogger(__name__)


class FlowdeskGraphQL(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = FlowdeskTransportWS

    def __init__(self, services: Services) -> None:
        settings = services.settings
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            # graphql-sse in its distinct connections mode, for clients and proxies without
            # websockets: a POST with `Accept: text/event-stream` per subscription.
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=10),
            # Ours instead, which say which limit and carry a code (api/live/quota.py).
            max_subscriptions_per_connection=None,
        )
        self.services = services
        self.ws_ping_seconds = settings.ws_ping_seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """A request the GraphQL server refuses before executing (not JSON, no query, an
        unsupported content type) is answered in GraphQL's shape, not as plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            response = edge.error_response(exc.status_code, exc.reason)
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        return edge.decode_json(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(self.services.settings.admin_username))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        context = RequestContext(
            services=self.services,
            loaders=self.services.loaders(),
            client_address=request.client.host if request.client else None,
        )
        if isinstance(request, Request):
            await context.authenticate(request.headers.get("authorization"))
            _log_user(context)
        return context

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        refused = subscription_over_http(kwargs["request_data"])
        if refused is not None:
            return refused
        return await super().execute_operation(*args, **kwargs)

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Websockets authenticate once, with the token in the connection_init payload."""
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if not isinstance(authorization, str):
            raise ConnectionRefused(
                'no token: send {"authorization": "Bearer <token>"} in connection_init'
            )
        await context.authenticate(authorization)
        if context.principal is None:
            raise ConnectionRefused(context.auth_error.message if context.auth_error else "refused")
        _log_user(context)
        return None


def _log_user(context: RequestContext) -> None:
    if context.principal is not None:
        structlog.contextvars.bind_contextvars(user=context.principal.username)


def create_app(settings: Settings, *, tracing: TracerProvider | None = None) -> Starlette:
    """The app; `WeakSecret` (before anything starts) when the JWT secret is unusable.
    Traced to `tracing`, else to FLOWDESK_OTLP_ENDPOINT when it is set (api/tracing.py)."""
    signing_key(settings)
    tracing = tracing or tracer_provider(settings, "flowdesk-api")
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings)
        trace_statements(engine, tracing)
        redis = await connect_redis(settings.redis_url, name=f"{settings.event_channel_prefix}:api")
        temporal = await connect_temporal(settings, tracing=tracing)
        services = Services.build(settings, create_sessionmaker(engine), temporal, redis)
        state["services"] = services
        graphql.app = FlowdeskGraphQL(services)
        freeze_startup_objects()
        try:
            yield
        finally:
            await services.live.close()
            await redis.aclose()
            await engine.dispose()

    graphql = _LateGraphQL()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when PostgreSQL, Redis and Temporal all answer."""
        services: Services = state["services"]
        checks: dict[str, str] = {}
        try:
            async with services.sessions() as session:
                await session.exec(select(1))
            checks["postgres"] = "ok"
        except Exception as exc:
            checks["postgres"] = f"error: {exc}"
        try:
            await services.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc}"
        try:
            await services.temporal.service_client.check_health()
            checks["temporal"] = "ok"
        except Exception as exc:
            checks["temporal"] = f"error: {exc}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503
        )

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if settings.metrics_port is None:
        routes.append(Route("/metrics", metrics))  # else served on its own port (api.cli)
    if settings.graphiql:
        routes.append(Mount(graphiql.ASSETS_PATH, graphiql.assets()))
    return Starlette(
        routes=routes,
        # The request id first, so that a request the limits refuse is logged with it too.
        middleware=[
            *traced(tracing),
            Middleware(RequestLogContext),
            *edge.edge_middleware(settings),
        ],
        lifespan=lifespan,
    )


class _LateGraphQL:
    """The GraphQL ASGI app exists only once the lifespan has connected its services."""

    app: FlowdeskGraphQL | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            raise FlowdeskError("the service is starting")
        await self.app(scope, receive, send)
