"""Embedded PostgreSQL, Redis and Temporal for `flowdesk dev` and the test suite.

A stack keeps everything under one home directory (home/pg, home/redis, home/temporal.db), so
stacks with different homes run side by side and a stack restarted on the same home finds its
rows, keys and workflows again.

Redis and Temporal run as our children, each in a session of its own, and PostgreSQL is
detached by pg_ctl into a session of its own as well. A Ctrl-C in the terminal is sent to the
foreground process group, so it reaches only the parent, which then stops the services in order
(Temporal, Redis, PostgreSQL) instead of seeing them die under it mid-shutdown. The flip side is
that a parent killed without a chance to clean up (SIGKILL, or SIGHUP/SIGTERM where the program
does not turn them into an exception) leaves them running: each service holds a lock file in home
that names its process, and the next start on that home reaps what a dead owner left.
"""

from api.embedded.postgres import EmbeddedPostgres, drop_database, ensure_database
from api.embedded.processes import START_TIMEOUT, STOP_TIMEOUT, free_port
from api.embedded.redis import EmbeddedRedis
from api.embedded.stack import EmbeddedStack, StackUrls
from api.embedded.temporal import TemporalDevServer, temporal_binary

__all__ = [
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedStack",
    "StackUrls",
    "TemporalDevServer",
    "drop_database",
    "ensure_database",
    "free_port",
    "temporal_binary",
]
