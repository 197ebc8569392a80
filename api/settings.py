"""Runtime configuration, read once from `FLOWDESK_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a Flowdesk process needs to know about its surroundings.

    Built once at start-up and passed down; tests build their own.
    """

    model_config = SettingsConfigDict(env_prefix="FLOWDESK_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/flowdesk"
    database_pool_size: int = 10
    # A ping before every checkout costs each DataLoader a round trip (an inbox page has
    # five); connections are recycled instead, and one broken by a restart fails once.
    database_pre_ping: bool = False
    database_pool_recycle_seconds: int = 300
    redis_url: str = "redis://127.0.0.1:6379/0"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "flowdesk"
    jwt_secret: SecretStr = SecretStr("change-me-in-production-please-32bytes")
    jwt_issuer: str = "flowdesk"
    jwt_ttl_seconds: int = 8 * 3600
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
    outbox_retry_seconds: float = 10.0
    # Workflows a worker keeps in memory between events (Temporal's sticky cache): bounds
    # its memory however many instances are open.
    worker_cached_workflows: int = 1000
    # Where `flowdesk worker` serves /metrics (transitions, service actions); off if unset.
    worker_metrics_port: int | None = None
