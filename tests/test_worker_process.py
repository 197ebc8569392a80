"""`flowdesk worker` as operators run it: metrics on its own port, a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from api.embedded import free_port
from api.settings import Settings


async def test_the_worker_serves_metrics_and_stops_cleanly_on_sigterm(settings: Settings) -> None:
    port = free_port()
    env = {
        **os.environ,
        "FLOWDESK_DATABASE_URL": settings.database_url,
        "FLOWDESK_REDIS_URL": settings.redis_url,
        "FLOWDESK_TEMPORAL_ADDRESS": settings.temporal_address,
        "FLOWDESK_TASK_QUEUE": f"{settings.task_queue}-process",
        "FLOWDESK_WORKER_METRICS_PORT": str(port),
    }
    worker = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "flowdesk"),
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as http, asyncio.timeout(60):
            while True:
                try:
                    metrics = await http.get(f"http://127.0.0.1:{port}/metrics")
                    # The backlog comes once the worker has asked Temporal for it.
                    if "flowdesk_task_queue_backlog{" in metrics.text:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        assert "flowdesk_transitions_total" in metrics.text
        queue = env["FLOWDESK_TASK_QUEUE"]
        assert f'flowdesk_task_queue_backlog{{task_queue="{queue}",type="workflow"}} 0.0' in (
            metrics.text
        )
        assert "flowdesk_db_pool_max_connections 20.0" in metrics.text
    finally:
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.wait(), 30)
    assert worker.stderr is not None
    errors = (await worker.stderr.read()).decode()
    assert code == 0, errors
    assert "Traceback" not in errors
