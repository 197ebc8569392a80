"""The database engine and the sessionmaker every service opens its transaction from."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.metrics import POOLS
from api.settings import Settings

SessionMaker = async_sessionmaker[AsyncSession]
T = TypeVar("T")


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=settings.database_pre_ping,
        pool_recycle=settings.database_pool_recycle_seconds,
    )
    event.listen(engine.sync_engine, "checkout", _closed_by_the_server)
    POOLS.track(engine, max_overflow=settings.database_pool_size)
    return engine


def _closed_by_the_server(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server closed while it sat idle (a restart, a failover,
    pg_terminate_backend) is replaced at checkout instead of failing the request that
    drew it: asyncpg has seen the socket close, so asking costs no round trip, where a
    pre-ping costs one per checkout. The pool retries the checkout on DisconnectionError."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def create_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    # expire_on_commit=False: services return rows after committing, and the
    # resolvers read them outside the transaction.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def engine_of(sessions: SessionMaker) -> AsyncEngine:
    """The engine `sessions` open their connections from, for work that needs no ORM."""
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


@functools.cache
def reading(sessions: SessionMaker) -> SessionMaker:
    """Sessions for reads that need no snapshot shared by several statements: outside a
    transaction a read costs its statement alone, where the asyncpg driver would add a
    BEGIN and a ROLLBACK round trip. Each statement commits on its own: a write through
    them must be one statement, atomic by itself (as completeTask's is)."""
    return async_sessionmaker(
        engine_of(sessions).execution_options(isolation_level="AUTOCOMMIT"),
        class_=AsyncSession,
        expire_on_commit=False,
    )


async def read_after_write(read: Callable[[], Awaitable[T]]) -> T:
    """Run `read`, which follows a committed write and opens its own session; once more,
    on a fresh connection, when the connection was lost under it: the write stands, and
    its caller must not be told that it failed."""
    try:
        return await read()
    except exc.DBAPIError as lost:
        if not lost.connection_invalidated:
            raise
        return await read()
