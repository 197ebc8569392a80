"""interpreter: the pure engine vs SpiffWorkflow, running the same 30-node process in memory.

Flowdesk: bench/thirty_nodes.py's 30-node definition driven to its end by the Autopilot
(people answer, timers fire, services answer as the built-in `set` does, the carrier's message
arrives), with the called `shipping` child run by the interpreter too. Spiff: the same
process as BPMN (bench/order_fulfilment.bpmn), driven the same way: the same answers, timers
fired as soon as they wait, the same message; its script tasks run inline and its call
activity runs the shipping subprocess. Both parse once, outside the timing; a measured run
starts an instance and drives it to the end; runs alternate between the two.

A step is a node executed: the runs take the same path, so the ratio per step is the ratio
per run (each side's own node count is reported too).

Target: Flowdesk's interpreter >= 2x faster per step.

    python -m bench.interpreter [--runs 200] [--warmup 20]

SpiffWorkflow is a bench-only dependency: pip install -r bench/requirements.txt
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.thirty_nodes import (
    AT,
    INSTANCE_ID,
    THIRTY_NODE_START,
    Autopilot,
    shipping_definition,
    thirty_node_definition,
)
from engine.commands import StartChild, Transition
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus
from engine.events import ChildCompleted, Event, StartInstance
from engine.interpreter import handle, start
from engine.state import InstanceState
from engine.validation import parse_definition

BPMN = Path(__file__).resolve().parent / "order_fulfilment.bpmn"


class WithChildren(Autopilot):
    """The Autopilot, with the called `shipping` child run by the interpreter, not faked."""

    def __init__(self, shipping: Definition) -> None:
        super().__init__()
        self.shipping = shipping
        self.child_steps = 0

    def next_event(self, state: InstanceState, at: datetime) -> Event | None:
        event = super().next_event(state, at)
        if isinstance(event, ChildCompleted):
            command = self.work[event.child_id]
            assert isinstance(command, StartChild)
            return ChildCompleted(
                child_id=event.child_id, variables=self._run_child(command, at), at=at
            )
        return event

    def _run_child(self, command: StartChild, at: datetime) -> dict[str, Any]:
        pilot = Autopilot()
        transition = start(
            self.shipping,
            command.child_id,
            StartInstance(variables=command.variables, initiator="ann", at=at),
        )
        pilot.saw(transition)
        self.child_steps += _nodes(transition)
        while transition.state.status is InstanceStatus.RUNNING:
            event = pilot.next_event(transition.state, at)
            assert event is not None
            transition = handle(self.shipping, transition.state, event)
            pilot.saw(transition)
            self.child_steps += _nodes(transition)
        return transition.state.variables


def _nodes(transition: Transition) -> int:
    return sum(
        1 for c in transition.commands if getattr(c, "type", None) is HistoryEventType.NODE_ENTERED
    )


def run_flowdesk(parsed: Definition, shipping: Definition) -> tuple[int, dict[str, Any]]:
    """One run to the end; returns the nodes executed and the final variables."""
    pilot = WithChildren(shipping)
    transition = start(parsed, INSTANCE_ID, StartInstance(initiator="ann", at=AT))
    pilot.saw(transition)
    nodes = _nodes(transition)
    at = AT
    while transition.state.status is InstanceStatus.RUNNING:
        at += timedelta(minutes=1)
        event = pilot.next_event(transition.state, at)
        assert event is not None, "stuck"
        transition = handle(parsed, transition.state, event)
        pilot.saw(transition)
        nodes += _nodes(transition)
    assert transition.state.status is InstanceStatus.COMPLETED
    return nodes + pilot.child_steps, transition.state.variables


class SpiffRunner:
    """The BPMN parsed once; `run()` drives one workflow to its end as the Autopilot does."""

    def __init__(self) -> None:
        from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser

        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec("order_fulfilment")
        self.subprocesses = parser.get_subprocess_specs("order_fulfilment")

    def run(self) -> tuple[int, dict[str, Any]]:
        from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
        from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
        from SpiffWorkflow.bpmn.util.event import BpmnEvent
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState

        workflow = BpmnWorkflow(self.spec, self.subprocesses)
        workflow.do_engine_steps()
        merged = 0
        while not workflow.is_completed():
            # The Autopilot's order: timers, then people, then messages.
            timers = [
                t
                for t in workflow.get_tasks(state=TaskState.WAITING)
                if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
            ]
            if timers:
                for timer in timers:
                    timer._set_internal_data(event_fired=True)
                workflow.refresh_waiting_tasks()
                workflow.do_engine_steps()
                continue
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if ready:
                task = ready[0]
                name = task.task_spec.bpmn_id
                if name == "submit":
                    task.data.update(THIRTY_NODE_START)
                elif name == "review":
                    task.data["approved"] = task.data.get("round", 0) >= 1
                elif name == "survey":
                    merged += 1
                    index = task.internal_data.get("key_or_index", 0)
                    task.data["rating"] = {"score": 3 + index}
                    task.data["nrOfCompletedInstances"] = merged
                task.run()
                workflow.do_engine_steps()
                continue
            waiting = workflow.waiting_events()
            if waiting:
                workflow.catch(
                    BpmnEvent(MessageEventDefinition("carrier_arrived"), {"carrier": "DHL"})
                )
                workflow.do_engine_steps()
                continue
            raise AssertionError("Spiff is stuck")
        steps = sum(
            1
            for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if getattr(t.task_spec, "bpmn_id", None) is not None
        )
        return steps, dict(workflow.data)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.interpreter", description=__doc__)
    p.add_argument("--runs", type=int, default=200, help="measured runs per side")
    p.add_argument("--warmup", type=int, default=20, help="unmeasured runs per side")
    return p


def measure(args: argparse.Namespace) -> Any:
    from bench.report import Report, Summary

    parsed = parse_definition(thirty_node_definition())
    shipping = parse_definition(shipping_definition())
    spiff = SpiffRunner()
    ours_nodes, ours_vars = run_flowdesk(parsed, shipping)
    spiff_nodes, spiff_vars = spiff.run()
    for name in (
        "validated",
        "round",
        "charge_id",
        "reserved",
        "insured",
        "labelled",
        "invoiced",
        "approved",
        "carrier",
        "tracking",
    ):
        if ours_vars.get(name) != spiff_vars.get(name):
            raise AssertionError(f"{name}: {ours_vars.get(name)!r} vs {spiff_vars.get(name)!r}")
    for _ in range(args.warmup):
        run_flowdesk(parsed, shipping)
        spiff.run()
    ours: list[float] = []
    theirs: list[float] = []
    for i in range(args.runs):
        for side in (0, 1) if i % 2 == 0 else (1, 0):
            began = time.perf_counter()
            if side == 0:
                run_flowdesk(parsed, shipping)
                ours.append(time.perf_counter() - began)
            else:
                spiff.run()
                theirs.append(time.perf_counter() - began)
    report = Report(
        "interpreter",
        {
            "setting": "in memory, one process, no I/O; parse once, outside the timing",
            "flowdesk": f"engine.interpreter, {ours_nodes} nodes executed per run (child included)",
            "spiff": f"SpiffWorkflow {version('SpiffWorkflow')}, {spiff_nodes} BPMN tasks completed per run",
            "runs": f"{args.runs} per side after {args.warmup} warm-up, alternating",
        },
    )
    o, t = Summary.of(ours), Summary.of(theirs)
    report.add("one run to the end", o, t, ratio=t.p50 / o.p50)
    per_o = Summary.of([x / ours_nodes for x in ours])
    per_t = Summary.of([x / ours_nodes for x in theirs])
    speedup = per_t.p50 / per_o.p50
    report.add(
        f"per step ({ours_nodes} nodes; ratio = Spiff / Flowdesk)",
        per_o,
        per_t,
        ratio=speedup,
        target="Flowdesk >= 2x faster",
        met=speedup >= 2,
    )
    return report


def main(argv: Sequence[str] | None = None) -> None:
    report = measure(parser().parse_args(argv))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
