"""The bare Temporal side of engine_overhead: the same durable work written by hand.

One local activity inserts a row (Flowdesk's transitions are local activities too), an update
reports once it is written (as `startProcess` waits for its first transition) and a second
update finishes the workflow (as `completeTask` does). Imports only temporalio, so the sandbox
treats it like Flowdesk's workflow module.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

WORKFLOW_NAME = "BareWorkflow"
INSERT_ROW = "bare_insert_row"
UPDATE_STARTED = "started"
UPDATE_FINISH = "finish"
TABLE = "bench_bare_rows"

# The same timeout and retry policy as Flowdesk's transition writes.
_WRITE_TIMEOUT = timedelta(seconds=30)
_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)


@workflow.defn(name=WORKFLOW_NAME)
class BareWorkflow:
    def __init__(self) -> None:
        self._inserted = False
        self._done = False

    @workflow.run
    async def run(self, row_id: str) -> str:
        await workflow.execute_local_activity(
            INSERT_ROW, row_id, start_to_close_timeout=_WRITE_TIMEOUT, retry_policy=_WRITE_RETRY
        )
        self._inserted = True
        await workflow.wait_condition(lambda: self._done and workflow.all_handlers_finished())
        return "COMPLETED"

    @workflow.update(name=UPDATE_STARTED)
    async def started(self) -> str:
        await workflow.wait_condition(lambda: self._inserted)
        return "RUNNING"

    @workflow.update(name=UPDATE_FINISH)
    async def finish(self) -> str:
        self._done = True
        return "COMPLETED"
