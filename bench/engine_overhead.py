"""engine_overhead: Flowdesk vs bare Temporal doing the same durable work.

Flowdesk: N instances of a one-user-task process, each started through GraphQL
(`startProcess`, which answers once the first transition is written) and its task completed
through GraphQL (`completeTask`, which answers once the workflow applied it), by c concurrent
clients. Bare: a hand-written temporalio workflow (bench/bare.py) started with an
update-with-start that answers once its local activity inserted a row, then finished by an
update, by c concurrent temporalio clients. Same Temporal dev server, same sandboxed workflow
runner, workers in their own processes; rounds alternate ABBA so drift hits both sides.

Target: Flowdesk's throughput >= 0.6 of bare Temporal's.

    python -m bench.engine_overhead [-n 300] [-c 10] [--rounds 2] [--temporal memory|wal]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Sequence

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from api.temporal import connect_temporal
from bench.bare import UPDATE_FINISH, UPDATE_STARTED, WORKFLOW_NAME
from bench.cpu import MachineCpu
from bench.flows import Run, complete, concurrently, deploy, one_task_definition, start
from bench.http import Connection
from bench.profile import Profile, sampled
from bench.report import Report, Summary
from bench.stack import Stack

GROUP = "bench-workers"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.engine_overhead", description=__doc__)
    p.add_argument("-n", "--instances", type=int, default=300, help="instances per side")
    p.add_argument("-c", "--clients", type=int, default=10, help="concurrent clients")
    p.add_argument("--rounds", type=int, default=2, help="rounds per side, alternating ABBA")
    p.add_argument("--warmup", type=int, default=20, help="unmeasured instances per side")
    p.add_argument("--temporal", choices=["memory", "wal"], default="memory")
    p.add_argument("--profile", action="store_true", help="sample API and worker with py-spy")
    p.add_argument("--keep", action="store_true", help="keep the database and logs")
    return p


class FlowdeskSide:
    def __init__(self, stack: Stack, token: str, key: str, clients: int) -> None:
        self.stack = stack
        self.token = token
        self.key = key
        self.clients = clients

    async def run(self, count: int) -> Run:
        connections = [
            Connection("127.0.0.1", self.stack.settings.port, self.token)
            for _ in range(self.clients)
        ]
        for connection in connections:
            await connection.__aenter__()
        try:

            async def one(client: int, item: int) -> None:
                task_id = await start(connections[client], self.key)
                await complete(connections[client], task_id)

            return await concurrently(count, self.clients, one)
        finally:
            for connection in connections:
                await connection.__aexit__(None, None, None)


class BareSide:
    def __init__(self, client: Client, task_queue: str, clients: int) -> None:
        self.client = client
        self.task_queue = task_queue
        self.clients = clients

    async def run(self, count: int) -> Run:
        async def one(client: int, item: int) -> None:
            row_id = str(uuid.uuid4())
            operation: WithStartWorkflowOperation[object, str] = WithStartWorkflowOperation(
                WORKFLOW_NAME,
                row_id,
                id=f"bare-{row_id}",
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                result_type=str,
            )
            await self.client.execute_update_with_start_workflow(
                UPDATE_STARTED, start_workflow_operation=operation, result_type=str
            )
            handle = await operation.workflow_handle()
            await handle.execute_update(UPDATE_FINISH, result_type=str)

        return await concurrently(count, self.clients, one)


async def run(args: argparse.Namespace) -> Report:
    async with Stack(temporal=args.temporal, keep=args.keep) as stack:
        worker = await stack.start("worker")
        api = await stack.start("api")
        bare_worker = await stack.start("bare", task_queue=stack.settings.task_queue + "-bare")
        person = await stack.person(groups=[GROUP])
        async with Connection("127.0.0.1", stack.settings.port, person.token) as connection:
            key = await deploy(connection, one_task_definition(GROUP))
        flowdesk = FlowdeskSide(stack, person.token, key, args.clients)
        bare = BareSide(
            await connect_temporal(stack.settings),
            stack.settings.task_queue + "-bare",
            args.clients,
        )
        await flowdesk.run(args.warmup)
        await bare.run(args.warmup)

        per_round = max(1, args.instances // args.rounds)
        runs: dict[str, list[Run]] = {"flowdesk": [], "bare": []}
        machine = MachineCpu(
            {
                "api": api.process.pid,
                "worker": worker.process.pid,
                "bare worker": bare_worker.process.pid,
            }
        )
        cpu: dict[str, dict[str, float]] = {"flowdesk": {}, "bare": {}}
        profiles: dict[str, Profile] = {}
        order = [
            ("bare", "flowdesk") if r % 2 == 0 else ("flowdesk", "bare") for r in range(args.rounds)
        ]
        for pair in order:
            for side in pair:
                before = machine.snapshot()
                if side == "flowdesk":
                    with (
                        sampled(api.process.pid, "engine_overhead-api", enabled=args.profile) as a,
                        sampled(
                            worker.process.pid, "engine_overhead-worker", enabled=args.profile
                        ) as w,
                    ):
                        runs[side].append(await flowdesk.run(per_round))
                    profiles["api"], profiles["worker"] = a, w
                else:
                    runs[side].append(await bare.run(per_round))
                for group, seconds in machine.spent(before).items():
                    cpu[side][group] = cpu[side].get(group, 0.0) + seconds

        def merged(side: str) -> tuple[Summary, float, int]:
            latencies = [x for r in runs[side] for x in r.latencies]
            wall = sum(r.wall for r in runs[side])
            errors = sum(len(r.errors) for r in runs[side])
            return Summary.of(latencies), len(latencies) / wall, errors

        ours, ours_rate, ours_errors = merged("flowdesk")
        theirs, theirs_rate, theirs_errors = merged("bare")
        report = Report(
            "engine_overhead_profiled" if args.profile else "engine_overhead",
            {
                **stack.setting,
                "instances": f"{per_round * args.rounds} per side ({args.rounds} rounds ABBA, {args.warmup} warm-up)",
                "clients": args.clients,
                "flowdesk": "startProcess + completeTask over GraphQL/HTTP; API and worker processes",
                "bare": "update-with-start (local activity inserts a row) + finishing update; worker process",
            },
        )
        ratio = ours_rate / theirs_rate
        report.add(
            "throughput (instances/s)",
            ours_rate,
            theirs_rate,
            ratio=ratio,
            target="Flowdesk >= 0.6x bare",
            met=ratio >= 0.6,
            unit="/s",
        )
        report.add(
            "latency per instance (start + complete)", ours, theirs, ratio=ours.p50 / theirs.p50
        )
        count = per_round * args.rounds
        report.extra = {
            "errors": {"flowdesk": ours_errors, "bare": theirs_errors},
            "server CPU per instance (ms)": {
                "flowdesk api+worker": round(
                    (cpu["flowdesk"]["api"] + cpu["flowdesk"]["worker"]) / count * 1000, 2
                ),
                "bare worker": round(cpu["bare"]["bare worker"] / count * 1000, 2),
            },
            # Every process of the machine, per instance: on two cores the throughput
            # ratio is the inverse ratio of these totals.
            "machine CPU per instance (ms)": {
                side: {
                    group: round(seconds / count * 1000, 2)
                    for group, seconds in sorted(cpu[side].items(), key=lambda kv: -kv[1])
                    if seconds / count >= 0.0005
                }
                | {"total": round(sum(cpu[side].values()) / count * 1000, 2)}
                for side in cpu
            },
            "first errors": [e for r in runs["flowdesk"] + runs["bare"] for e in r.errors][:3],
        }
        for name, profile in profiles.items():
            if profile.summary:
                report.extra[f"profile of the {name} process (py-spy)"] = profile.summary
        return report


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
