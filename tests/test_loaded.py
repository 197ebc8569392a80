"""schema/loaded.py: what a page's selection asks for, and relations that resolve at once
once loaded ahead."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import strawberry
from strawberry.dataloader import DataLoader

from schema.common import Ctx
from schema.loaded import from_loader, many_from_loader, selected

seen: list[set[str]] = []


@strawberry.type
class Leaf:
    a: int = 1
    b: int = 2


@strawberry.type
class Edge:
    node: Leaf = strawberry.field(default_factory=Leaf)
    cursor: str = "c"


@strawberry.type
class Query:
    @strawberry.field
    def page(self, info: Ctx) -> list[Edge]:
        seen.append(selected(info, "node"))
        return [Edge()]


SCHEMA = strawberry.Schema(query=Query)


async def test_selected_reads_fields_fragments_and_inline_fragments() -> None:
    seen.clear()
    result = await SCHEMA.execute(
        "fragment B on Leaf { b } { page { cursor node { a ...B ... on Leaf { a } } } }"
    )
    assert result.errors is None
    assert seen == [{"a", "b"}]


async def test_selected_is_empty_where_nothing_is_asked_below() -> None:
    seen.clear()
    assert (await SCHEMA.execute("{ page { cursor } }")).errors is None
    assert seen == [set()]


async def _double(keys: Sequence[int]) -> list[int]:
    return [k * 2 for k in keys]


async def test_a_loaded_relation_resolves_without_an_await() -> None:
    loader: DataLoader[int, int] = DataLoader(_double)
    await loader.load_many([1, 2])
    assert from_loader(loader, 1, str) == "2"
    assert many_from_loader(loader, [1, 2], sum) == 6


async def test_a_relation_not_loaded_yet_loads_when_awaited() -> None:
    loader: DataLoader[int, int] = DataLoader(_double)
    later = from_loader(loader, 3, str)
    assert inspect.isawaitable(later)
    assert await later == "6"
    many = many_from_loader(loader, [3, 4], sum)  # 3 is loaded, 4 is not
    assert inspect.isawaitable(many)
    assert await many == 14
