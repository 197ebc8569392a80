"""The worker process: runs `ProcessWorkflow` and its activities on the task queue."""

from __future__ import annotations

import contextlib
import py_compile
from collections.abc import Mapping
from types import ModuleType

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from api.db import SessionMaker
from api.events import EventBus
from api.heap import freeze_startup_objects
from api.settings import Settings
from workers import workflow
from workers.actions import Action
from workers.activities import ProcessActivities
from workers.workflow import ProcessWorkflow

# The pure core and its native and modelling libraries are deterministic: loading them
# once, outside the sandbox, saves re-importing them for every workflow run.
# opentelemetry: the tracing interceptor's workflow half makes its spans inside the sandbox.
PASSTHROUGH_MODULES = ("engine", "cel", "pydantic", "pydantic_core", "opentelemetry")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def cache_bytecode(module: ModuleType) -> None:
    """The sandbox imports a workflow's module afresh for every workflow it runs. Without
    its bytecode on disk (PYTHONDONTWRITEBYTECODE, a fresh checkout) each of those imports
    compiles the source again, ~3 ms of the worker's CPU per workflow; write it once here.
    A read-only tree keeps compiling, as before."""
    if module.__file__ is None:
        return
    with contextlib.suppress(OSError, py_compile.PyCompileError):
        py_compile.compile(module.__file__, doraise=True)


def build_worker(
    client: Client,
    settings: Settings,
    sessions: SessionMaker,
    bus: EventBus,
    actions: Mapping[str, Action],
) -> Worker:
    cache_bytecode(workflow)
    activities = ProcessActivities(sessions, bus, actions)
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ProcessWorkflow],
        activities=[
            activities.apply_transition,
            activities.run_action,
            activities.resolve_definition,
        ],
        workflow_runner=workflow_runner(),
        max_cached_workflows=settings.worker_cached_workflows,
    )
    freeze_startup_objects()
    return worker
