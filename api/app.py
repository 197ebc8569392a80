"""The Starlette application: `/graphql` (HTTP and graphql-transport-ws), health and metrics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api import graphiql
from api.context import RequestContext, Services
from api.db import create_engine, create_sessionmaker
from api.errors import FlowdeskError
from api.events import connect_redis
from api.heap import freeze_startup_objects
from api.settings import Settings
from api.temporal import connect_temporal
from schema.root import build_schema

log = logging.getLogger(__name__)


class FlowdeskGraphQL(GraphQL[RequestContext, None]):
    def __init__(self, services: Services) -> None:
        settings = services.settings
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.services = services

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(self.services.settings.admin_username))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        context = RequestContext(services=self.services, loaders=self.services.loaders())
        if isinstance(request, Request):
            await context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Websockets authenticate once, with the token in the connection_init payload."""
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if not isinstance(authorization, str):
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        await context.authenticate(authorization)
        if context.principal is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        return None


def create_app(settings: Settings) -> Starlette:
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings)
        redis = await connect_redis(settings.redis_url)
        temporal = await connect_temporal(settings)
        services = Services.build(settings, create_sessionmaker(engine), temporal, redis)
        state["services"] = services
        graphql.app = FlowdeskGraphQL(services)
        freeze_startup_objects()
        try:
            yield
        finally:
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
        Route("/metrics", metrics),
    ]
    if settings.graphiql:
        routes.append(Mount(graphiql.ASSETS_PATH, graphiql.assets()))
    return Starlette(routes=routes, lifespan=lifespan)


class _LateGraphQL:
    """The GraphQL ASGI app exists only once the lifespan has connected its services."""

    app: FlowdeskGraphQL | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            raise FlowdeskError("the service is starting")
        await self.app(scope, receive, send)
