"""Runtime configuration, read once from `FLOWDESK_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a Flowdesk process needs to know about its surroundings.

    Built once at start-up and passed down; tests build their own.
    """

    model_config = SettingsConfigDict(env_prefix="FLOWDESK_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/flowdesk"
    database_pool_size: int = 10
    # A ping before every checkout costs each DataLoader a round trip (an inbox page has
    # five). Without it a connection the server closed is still replaced at checkout, for
    # free (api/db.py); only one cut silently by the network fails once.
    database_pre_ping: bool = False
    database_pool_recycle_seconds: int = 300
    redis_url: str = "redis://127.0.0.1:6379/0"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "flowdesk"
    # No default: `flowdesk api` refuses to start without 32 bytes or more (api/auth/tokens.py);
    # `flowdesk dev` makes one and keeps it in its home.
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "flowdesk"
    # Access tokens are short-lived: a client keeps its session with refreshToken.
    jwt_ttl_seconds: int = 15 * 60
    # Token keys (docs/security.md#tokens). Secrets that verify tokens but no longer sign
    # them, so that the secret can be rotated without logging everyone out: move the old
    # secret here, set the new one, drop the old one after jwt_ttl_seconds. The audience
    # every access token names and every verification requires.
    jwt_previous_secrets: Annotated[list[SecretStr], NoDecode] = []
    jwt_audience: str = "flowdesk-api"
    # How long a login session lasts without a refresh (each refresh extends it).
    jwt_refresh_ttl_seconds: int = 14 * 24 * 3600
    # How long an API process keeps a caller's groups and roles: a membership changed
    # through another process (or the CLI) shows after at most this long; 0 reads them
    # on every request.
    principal_cache_seconds: float = 5.0
    host: str = "127.0.0.1"
    port: int = 8000
    home: Path = Path(".flowdesk")
    # The admin that `flowdesk dev` makes, and whom GraphiQL's first query logs in.
    admin_username: str = "admin"
    admin_password: SecretStr | None = None
    graphiql: bool = False
    introspection: bool = False
    max_query_depth: int = 12
    event_channel_prefix: str = Field(default="flowdesk", description="Redis channel namespace")
    # Events a subscriber may fall behind before it is cut off with SLOW_CONSUMER (and
    # resumes from its cursor): what one slow socket may hold in the API's memory.
    live_queue_limit: int = 1000
    # Subscriptions one websocket, and one user, may hold in an API process
    # (TOO_MANY_SUBSCRIPTIONS past them).
    live_subscriptions_per_socket: int = 100
    live_subscriptions_per_user: int = 500
    # How often a websocket is pinged; a client that has not answered a ping within as
    # long again is gone, and its socket closed (4504).
    ws_ping_seconds: float = 20.0
    outbox_retry_seconds: float = 10.0
    # How often a worker asks Temporal for its task queue's backlog (its /metrics).
    task_queue_stats_seconds: float = 15.0
    # How long a request waits for an instance's workflow (startProcess, completeTask,
    # instance control) before it answers with what is recorded: Temporal away or no
    # worker running costs a caller this long, not minutes. A completion is recorded
    # before it is sent, so completeTask answers COMPLETING and the relay applies it.
    workflow_answer_seconds: float = 5.0
    # Workflows a worker keeps in memory between events (Temporal's sticky cache): bounds
    # its memory however many instances are open.
    worker_cached_workflows: int = 1000
    # Log lines as JSON for a collector, or `console` for a person (`flowdesk dev`'s default).
    log_format: Literal["json", "console"] = "json"
    # An OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces): tracing is off
    # without one (api/tracing.py).
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    # Where `flowdesk worker` serves /metrics (transitions, service actions); off if unset.
    worker_metrics_port: int | None = None

    # --- The edge: request limits, CORS, service-task egress, login throttling ---------
    # Each is described in docs/security.md.
    # A request whose body, or whose headers with its URL, are larger is refused (413,
    # 431) before anything parses it; the body limit is also the largest websocket message.
    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 16 * 1024
    # How deep a JSON value (variables, a definition, a form) may nest.
    max_json_depth: int = 64
    # Origins a browser app may call the API from (comma separated); none by default.
    cors_origins: Annotated[list[str], NoDecode] = []
    # Where `flowdesk api` serves /metrics when set (e.g. a port only Prometheus reaches),
    # instead of next to /graphql; it is unauthenticated either way.
    metrics_port: int | None = None
    # Hosts the `http` action may reach (comma separated): names (`api.example.com`,
    # `*.example.com`), addresses or networks (`10.1.2.0/24`); `*` is any public host.
    # Empty by default: no service task reaches the network until hosts are listed.
    # Loopback, link-local and private addresses are reached only when listed themselves.
    http_allow: Annotated[list[str], NoDecode] = []
    http_max_response_bytes: int = 1024 * 1024
    http_max_seconds: float = 30.0
    http_max_redirects: int = 5
    # Failed logins, counted in Redis over `login_window_seconds` per username and per
    # client address: past the free failures each failed answer waits
    # `login_delay_seconds` more (at most 5 s); past the lock threshold that username or
    # address is refused for `login_lock_seconds`. A successful login counts as none.
    # An address gets more: many people may share one (an office behind NAT).
    login_free_failures: int = 5
    login_lock_failures: int = 10
    login_address_free_failures: int = 50
    login_address_lock_failures: int = 100
    login_window_seconds: int = 900
    login_lock_seconds: int = 900
    login_delay_seconds: float = 0.5

    @field_validator("cors_origins", "http_allow", "jwt_previous_secrets", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
