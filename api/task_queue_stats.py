"""The Temporal task queue's backlog, as the server estimates it, for the worker's
/metrics: what an autoscaler needs (tasks waiting for a worker, and for how long).

The server reports it (DescribeTaskQueue with `report_stats`, Temporal 1.25 and later)
per queue type; the worker asks every `FLOWDESK_TASK_QUEUE_STATS_SECONDS`. Every worker of
a queue reports the same figure: aggregate with `max`, not `sum`."""

from __future__ import annotations

import asyncio
import logging

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from api.metrics import TASK_QUEUE_BACKLOG, TASK_QUEUE_BACKLOG_AGE

log = logging.getLogger(__name__)

_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


async def refresh_backlog(client: Client, task_queue: str) -> bool:
    """Set the backlog gauges of `task_queue`; False when the server reports no stats."""
    for kind, queue_type in _TYPES.items():
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=queue_type,
                report_stats=True,
            )
        )
        if not response.HasField("stats"):
            return False
        stats = response.stats
        TASK_QUEUE_BACKLOG.labels(task_queue, kind).set(stats.approximate_backlog_count)
        age = stats.approximate_backlog_age.ToTimedelta().total_seconds()
        TASK_QUEUE_BACKLOG_AGE.labels(task_queue, kind).set(age)
    return True


async def watch_backlog(client: Client, task_queue: str, every: float) -> None:
    """Refresh the backlog gauges every `every` seconds, for as long as the worker runs."""
    while True:
        try:
            if not await refresh_backlog(client, task_queue):
                log.warning("the Temporal server reports no task queue stats; backlog not exported")
                return
        except RPCError as exc:
            log.info("task queue stats unavailable (%s); retrying in %.0fs", exc, every)
        await asyncio.sleep(every)
