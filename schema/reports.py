"""GraphQL types of reports over history."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from api.services import reports
from schema.ids import encode_id


@strawberry.type(description="Percentiles of durations, in seconds.")
class Percentiles:
    p50: float = strawberry.field(description="The median.")
    p90: float = strawberry.field(description="90% took at most this long.")
    p99: float = strawberry.field(description="99% took at most this long.")

    @classmethod
    def of(cls, value: reports.Percentiles | None) -> Self | None:
        return None if value is None else cls(p50=value.p50, p90=value.p90, p99=value.p99)


@strawberry.type(description="Where the instances' time went at one node.")
class NodeStats:
    node_id: str = strawberry.field(description="The definition node.")
    passes: int = strawberry.field(description="How often an instance went through it.")
    duration: Percentiles = strawberry.field(description="From entering the node to leaving it.")
    waiting: Percentiles | None = strawberry.field(
        description="User tasks: from created until someone claimed it or was assigned it."
    )
    working: Percentiles | None = strawberry.field(
        description="User tasks: from claimed or assigned until completed."
    )
    sla_breaches: int = strawberry.field(description="User tasks completed after their due date.")


@strawberry.type(description="One slow pass through a node.")
class SlowStep:
    instance_id: strawberry.ID = strawberry.field(description="The instance (global id).")
    node_id: str = strawberry.field(description="The definition node.")
    seconds: float = strawberry.field(description="From entering the node to leaving it.")


@strawberry.type(
    description="How the instances started in a window fared: each count says what became "
    "of them by now, so the counts add up to `started`."
)
class DefinitionStats:
    started: int = strawberry.field(description="Instances started in the window.")
    completed: int = strawberry.field(description="Of them, completed.")
    cancelled: int = strawberry.field(description="Of them, cancelled.")
    terminated: int = strawberry.field(description="Of them, terminated.")
    running: int = strawberry.field(description="Of them, still running or suspended.")
    incidents: int = strawberry.field(description="Of them, stopped at an incident.")
    duration: Percentiles | None = strawberry.field(
        description="Start to end of the completed ones; null when none completed."
    )
    nodes: list[NodeStats] = strawberry.field(description="Per node, by node id.")
    slowest: list[SlowStep] = strawberry.field(description="The slowest passes, slowest first.")

    @classmethod
    def of(cls, stats: reports.DefinitionStats) -> Self:
        return cls(
            started=stats.started,
            completed=stats.completed,
            cancelled=stats.cancelled,
            terminated=stats.terminated,
            running=stats.running,
            incidents=stats.incidents,
            duration=Percentiles.of(stats.duration),
            nodes=[
                NodeStats(
                    node_id=node.node_id,
                    passes=node.passes,
                    duration=Percentiles(
                        p50=node.duration.p50, p90=node.duration.p90, p99=node.duration.p99
                    ),
                    waiting=Percentiles.of(node.waiting),
                    working=Percentiles.of(node.working),
                    sla_breaches=node.sla_breaches,
                )
                for node in stats.nodes
            ],
            slowest=[
                SlowStep(
                    instance_id=strawberry.ID(encode_id("ProcessInstance", step.instance_id)),
                    node_id=step.node_id,
                    seconds=step.seconds,
                )
                for step in stats.slowest
            ],
        )


@strawberry.type(description="Instances started and completed in one interval.")
class ThroughputPoint:
    at: datetime = strawberry.field(description="Where the interval begins.")
    started: int = strawberry.field(description="Instances started in it.")
    completed: int = strawberry.field(description="Instances completed in it.")
