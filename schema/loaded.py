"""Relations that resolve without an await when their rows are loaded already.

A page resolver loads the relations its selection asks for in one batch each (see
schema/loaded_tasks.py); the nested fields then find the rows in the DataLoaders' caches and
return plain values. An async resolver would cost GraphQL a coroutine, a task and a
gather for every field of every row, which was most of an inbox page's time; where
nothing was loaded ahead, the field returns an awaitable and loads as before.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


def _loaded(loader: DataLoader[K, V], key: K) -> Future[V] | None:
    """The loader's future for `key` when it holds a row already."""
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception():
        return None
    return future


def from_loader(loader: DataLoader[K, V], key: K, convert: Callable[[V], R]) -> R | Awaitable[R]:
    """`convert` of the row for `key`: at once when loaded, else once loaded."""
    loaded = _loaded(loader, key)
    if loaded is not None:
        return convert(loaded.result())

    async def later() -> R:
        return convert(await loader.load(key))

    return later()


def many_from_loader(
    loader: DataLoader[K, V], keys: Sequence[K], convert: Callable[[list[V]], R]
) -> R | Awaitable[R]:
    """`convert` of the rows for `keys`, in order: at once when all are loaded."""
    loaded = [_loaded(loader, key) for key in keys]
    if all(future is not None for future in loaded):
        return convert([future.result() for future in loaded if future is not None])

    async def later() -> R:
        return convert(await loader.load_many(keys))

    return later()


def selected(info: Info[Any, Any], *path: str) -> set[str]:
    """The field names selected at `path` below the current field (fragments included),
    e.g. selected(info, "edges", "node") on a connection: what a page should load ahead."""
    # selected_fields holds the current field itself; its selections are the level below.
    level: list[Selection] = [
        child for field in _fields(list(info.selected_fields)) for child in field.selections
    ]
    for name in path:
        level = [
            child for field in _fields(level) if field.name == name for child in field.selections
        ]
    return {field.name for field in _fields(level)}


def _fields(selections: list[Selection]) -> list[SelectedField]:
    fields: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            fields.append(selection)
        else:  # a fragment spread or an inline fragment
            fields += _fields(selection.selections)
    return fields
