"""definition_size: what validating a definition costs as it grows, and how long the event
loop stalls meanwhile, inline vs in a thread (as DefinitionService does it). No services
needed: the checks are pure CPU.

A ticker on the loop wakes every 10 ms; its longest gap while one validation runs is the
stall every other request of the process would see.

    python -m bench.definition_size [--nodes 50,100,200,300]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Sequence
from typing import Any

from api.services.definitions import MAX_NODES, examine


def chain(nodes: int) -> dict[str, Any]:
    tasks = [
        {"id": f"t{i}", "type": "userTask", "candidateGroups": ["g"], "assignee": "=initiator"}
        for i in range(nodes - 2)
    ]
    ids = ["start", *(t["id"] for t in tasks), "end"]
    return {
        "key": "size",
        "name": "size",
        "nodes": [{"id": "start", "type": "startEvent"}, *tasks, {"id": "end", "type": "endEvent"}],
        "flows": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)],
    }


async def stall(work: Any) -> tuple[float, float]:
    """(seconds the work took, longest gap between ticks of the loop meanwhile)."""
    gaps: list[float] = []
    running = True

    async def ticker() -> None:
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last - 0.01)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await work()
    took = time.perf_counter() - started
    running = False
    await tick
    return took, max(gaps)


async def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.definition_size", description=__doc__)
    p.add_argument("--nodes", default="50,100,200,300")
    args = p.parse_args(argv)
    print(f"definitions above {MAX_NODES} nodes are refused before validation")
    print("nodes  validation_s  inline_stall_s  thread_stall_s")
    for n in (int(x) for x in args.nodes.split(",")):
        raw = chain(n)

        async def inline(raw: dict[str, Any] = raw) -> None:
            examine(raw)

        async def threaded(raw: dict[str, Any] = raw) -> None:
            await asyncio.to_thread(examine, raw)

        took, inline_stall = await stall(inline)
        _, thread_stall = await stall(threaded)
        print(f"{n:5d}  {took:12.3f}  {inline_stall:14.3f}  {thread_stall:14.3f}")


if __name__ == "__main__":
    asyncio.run(main())
