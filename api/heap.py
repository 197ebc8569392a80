"""Keeping the garbage collector off what a server process built at start-up."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Move every object alive now (modules, the GraphQL schema, the ORM's mappings, the
    Temporal worker) out of the collector's reach.

    They live as long as the process, yet each full collection walked them all again: an
    inbox page allocates enough to trigger collections, which cost it about a third of
    its time (bench/, docs/performance.md). Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()
