"""Grouping rows under the keys a DataLoader asked for."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def group_by(keys: Sequence[K], rows: Iterable[R], key_of: Callable[[R], K]) -> dict[K, list[R]]:
    """Every key with its rows, in the rows' order; a key without rows gets an empty list."""
    grouped: dict[K, list[R]] = {key: [] for key in keys}
    for row in rows:
        grouped[key_of(row)].append(row)
    return grouped
