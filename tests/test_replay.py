"""Recorded Temporal histories replay on today's `ProcessWorkflow` without nondeterminism.

tests/histories/ holds the history of every instance tests/test_instances_templates.py
runs (one or more per template, children of call activities too), recorded by
tests/histories/record.py. A change to the workflow or the interpreter that makes a
running instance take a different step breaks a replay here: guard it with
`workflow.patched` instead of recording again.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.factories import TEMPLATES
from workers.worker import workflow_runner
from workers.workflow import ProcessWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
RECORDED = sorted(HISTORIES.glob("*.json"))


def replayer() -> Replayer:
    # As the worker runs it: the same sandbox passthroughs and the pydantic converter.
    return Replayer(
        workflows=[ProcessWorkflow],
        workflow_runner=workflow_runner(),
        data_converter=pydantic_data_converter,
    )


def read(path: Path) -> dict[str, Any]:
    history: dict[str, Any] = json.loads(path.read_text())
    return history


def history_of(path: Path, document: dict[str, Any] | None = None) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, document or read(path))


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
async def test_recorded_history_replays_without_nondeterminism(path: Path) -> None:
    result = await replayer().replay_workflow(history_of(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_every_template_has_a_recorded_run_that_completed() -> None:
    recorded = {path.stem.split("-")[0] for path in RECORDED}
    assert recorded == {path.stem for path in TEMPLATES.glob("*.json")}
    for path in RECORDED:
        events = read(path)["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        assert started["workflowType"]["name"] == "ProcessWorkflow", path.name
        assert events[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED", path.name


def test_call_activities_have_their_child_histories_recorded() -> None:
    parents = {p.stem for p in RECORDED if "." not in p.stem and "vendor_onboarding" in p.stem}
    assert parents
    for parent in parents:
        assert (HISTORIES / f"{parent}.due_diligence.json").exists(), parent


async def test_replay_fails_when_the_workflow_would_take_another_step() -> None:
    """The replay test has teeth: the same history, started with a definition lacking the
    SLA timer that fired in it, is nondeterministic."""
    path = HISTORIES / "customer_complaint-escalated_past_the_sla.json"
    document = read(path)
    payload = document["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][
        0
    ]
    start = json.loads(base64.b64decode(payload["data"]))
    dropped = {"sla_breached", "escalate", "escalation_handled"}
    spec = start["spec"]
    spec["nodes"] = [node for node in spec["nodes"] if node["id"] not in dropped]
    spec["flows"] = [
        flow for flow in spec["flows"] if flow["from"] not in dropped and flow["to"] not in dropped
    ]
    # Another definition: a deployed version never changes, and workers keep the model of
    # each one by its id.
    start["definition_id"] = str(uuid.uuid4())
    payload["data"] = base64.b64encode(json.dumps(start).encode()).decode()

    result = await replayer().replay_workflow(
        history_of(path, document), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, NondeterminismError)
    assert "TimerStarted" in str(result.replay_failure)
