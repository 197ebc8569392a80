"""What every resolver receives: the caller, the services and this request's DataLoaders.

Never a shared database session: Strawberry resolves sibling fields concurrently, and one
AsyncSession must not be used by concurrent tasks. Services open their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from temporalio.client import Client

from api.auth.caller import Caller, PrincipalChanges
from api.auth.principal import Principal
from api.auth.throttle import LoginThrottle
from api.auth.tokens import TokenClaims, TokenIssuer
from api.db import SessionMaker
from api.errors import FlowdeskError, Unauthenticated
from api.events import EventBus
from api.live.hub import Hub
from api.live.quota import Quota
from api.live.subscriptions import Live
from api.loaders import Loaders, build_loaders
from api.services.archive import ArchiveService
from api.services.audit import AuditLog
from api.services.definitions import DefinitionService
from api.services.event_log import EventLog
from api.services.history import HistoryService
from api.services.inbox import InboxService
from api.services.instance_control import InstanceControl
from api.services.instances import InstanceService
from api.services.reports import ReportService
from api.services.sessions import SessionService
from api.services.tasks import TaskService
from api.services.users import UserService
from api.settings import Settings


@dataclass(frozen=True)
class Services:
    """Process-wide singletons, built once at start-up."""

    settings: Settings
    sessions: SessionMaker
    temporal: Client
    redis: Redis
    bus: EventBus
    tokens: TokenIssuer
    users: UserService
    definitions: DefinitionService
    instances: InstanceService
    tasks: TaskService
    inbox: InboxService
    control: InstanceControl
    history: HistoryService
    reports: ReportService
    archive: ArchiveService
    audit: AuditLog
    live: Live
    changes: PrincipalChanges
    login_sessions: SessionService

    @classmethod
    def build(
        cls, settings: Settings, sessions: SessionMaker, temporal: Client, redis: Redis
    ) -> Services:
        tokens = TokenIssuer(settings)
        bus = EventBus(redis, settings.event_channel_prefix)
        definitions = DefinitionService(sessions)
        instances = InstanceService(sessions, temporal, settings, definitions)
        changes = PrincipalChanges()
        users = UserService(
            sessions,
            tokens,
            principal_ttl=settings.principal_cache_seconds,
            throttle=LoginThrottle(redis, settings),
            changes=changes,
        )
        return cls(
            settings=settings,
            sessions=sessions,
            temporal=temporal,
            redis=redis,
            bus=bus,
            tokens=tokens,
            users=users,
            definitions=definitions,
            instances=instances,
            control=InstanceControl(
                sessions, temporal, bus, instances, answer_within=settings.workflow_answer_seconds
            ),
            tasks=TaskService(
                sessions, temporal, bus, answer_within=settings.workflow_answer_seconds
            ),
            inbox=InboxService(sessions),
            history=HistoryService(sessions),
            live=Live(
                Hub(redis, anchor=f"{settings.event_channel_prefix}:hub"),
                EventLog(sessions),
                bus,
                Quota(settings.live_subscriptions_per_socket, settings.live_subscriptions_per_user),
                queue_limit=settings.live_queue_limit,
            ),
            reports=ReportService(sessions),
            archive=ArchiveService(sessions),
            audit=AuditLog(sessions),
            changes=changes,
            login_sessions=SessionService(redis, settings, tokens, users),
        )

    def loaders(self) -> Loaders:
        return build_loaders(
            self.sessions, self.definitions, self.instances, self.tasks, self.history
        )


@dataclass
class RequestContext:
    services: Services
    loaders: Loaders
    principal: Principal | None = None
    # The same caller with its token's expiry, which a websocket's watcher keeps current.
    caller: Caller | None = None
    # The verified access token's claims (logout revokes them).
    claims: TokenClaims | None = None
    # Why the credentials sent were refused; raised only when an operation needs a caller,
    # so that `login` works whatever header a client still sends.
    auth_error: FlowdeskError | None = None
    # The client's address (as uvicorn reports it, proxy headers applied), which login
    # throttling counts failures of.
    client_address: str | None = None
    # Set by Strawberry from a websocket's connection_init payload.
    connection_params: dict[str, Any] | None = field(default=None)

    def require_user(self) -> Principal:
        """The authenticated caller; every operation but `login` needs one."""
        if self.principal is None:
            raise self.auth_error or Unauthenticated(
                "authentication required: send 'Authorization: Bearer <token>'"
            )
        return self.principal

    def require_caller(self) -> Caller:
        """The authenticated caller as a long-lived stream follows it."""
        self.require_user()
        assert self.caller is not None, "authenticate sets both"
        return self.caller

    async def authenticate(self, authorization: str | None) -> None:
        """Resolve the caller from an `Authorization` value; remembers a refusal."""
        if not authorization:
            return
        try:
            claims = self.services.tokens.verify_header(authorization)
            await self.services.login_sessions.check(claims)
            self.claims = claims
            self.principal = await self.services.users.principal(claims.user_id)
            self.caller = Caller(self.principal, claims.expires_at)
        except FlowdeskError as exc:
            self.auth_error = exc
