"""Where a side's CPU went, machine-wide: the processes it names, the shared services
(Temporal dev server, PostgreSQL, Redis) found by name, and the rest of the machine.

On two cores a throughput ratio is a ratio of CPU per instance over every process involved,
so this is the table that says which process to make cheaper."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

# Shared services, recognised by their process name.
SERVICES = {"temporal": "temporal", "postgres": "postgres", "redis": "redis-server"}
_BUSY = ("user", "system", "nice", "irq", "softirq", "steal")


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in _BUSY)


def _process_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return float(times.user + times.system)


@dataclass
class Snapshot:
    busy: float
    by_group: dict[str, float]


class MachineCpu:
    """`before = cpu.snapshot()`, run, `cpu.spent(before)`: seconds per group."""

    def __init__(self, named: Mapping[str, int]) -> None:
        self._named = {name: psutil.Process(pid) for name, pid in named.items()}
        self._named.setdefault("bench client", psutil.Process(os.getpid()))

    def snapshot(self) -> Snapshot:
        groups = {name: _process_seconds(p) for name, p in self._named.items()}
        for group in SERVICES:
            groups[group] = 0.0
        for process in psutil.process_iter(["name"]):
            for group, name in SERVICES.items():
                if (process.info["name"] or "").startswith(name):
                    groups[group] += _process_seconds(process)
        return Snapshot(_busy_seconds(), groups)

    def spent(self, before: Snapshot) -> dict[str, float]:
        now = self.snapshot()
        spent = {g: now.by_group[g] - before.by_group.get(g, 0.0) for g in now.by_group}
        # Processes that ended meanwhile (and the kernel's own work) land here.
        spent["rest of the machine"] = max(0.0, now.busy - before.busy - sum(spent.values()))
        return spent
