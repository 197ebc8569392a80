"""Figures: percentiles, the printed table and the JSON result of a scenario."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank on the sorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Summary:
    """Latencies in milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Summary:
        ms = [s * 1000 for s in seconds]
        return cls(
            n=len(ms),
            p50=statistics.median(ms) if ms else math.nan,
            p95=percentile(ms, 95),
            p99=percentile(ms, 99),
            mean=statistics.fmean(ms) if ms else math.nan,
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "n": self.n,
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
            "mean_ms": round(self.mean, 3),
        }


@dataclass
class Row:
    """One line of a table: what is compared, both sides, their ratio and the target."""

    name: str
    ours: Summary | float
    theirs: Summary | float | None
    ratio: float | None
    target: str = ""
    met: bool | None = None
    unit: str = "ms"


@dataclass
class Report:
    scenario: str
    setting: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def add(
        self,
        name: str,
        ours: Summary | float,
        theirs: Summary | float | None = None,
        *,
        ratio: float | None = None,
        target: str = "",
        met: bool | None = None,
        unit: str = "ms",
    ) -> None:
        self.rows.append(Row(name, ours, theirs, ratio, target, met, unit))

    def print(self) -> None:
        print(f"\n== {self.scenario} ==")
        for key, value in self.setting.items():
            print(f"  {key}: {value}")
        header = (
            f"  {'measure':<46} {'ours p50':>9} {'p95':>8} {'p99':>8}"
            f" {'theirs p50':>10} {'p95':>8} {'p99':>8} {'ratio':>7}  target"
        )
        print(header)
        print("  " + "-" * (len(header) + 10))
        for row in self.rows:
            print(
                f"  {row.name:<46} {_cell(row.ours, 'p50', row.unit):>9}"
                f" {_cell(row.ours, 'p95', row.unit):>8} {_cell(row.ours, 'p99', row.unit):>8}"
                f" {_cell(row.theirs, 'p50', row.unit):>10} {_cell(row.theirs, 'p95', row.unit):>8}"
                f" {_cell(row.theirs, 'p99', row.unit):>8} {_ratio(row.ratio):>7}  {row.target}{_verdict(row.met)}"
            )
        for key, value in self.extra.items():
            print(f"  {key}: {value}")

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.scenario}.json"
        document = {
            "scenario": self.scenario,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "machine": machine(),
            "setting": self.setting,
            "rows": [_row_json(row) for row in self.rows],
            "extra": self.extra,
        }
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        print(f"  -> {path.relative_to(RESULTS.parent.parent)}")
        return path


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        # Other sessions share these cores; a high load average means noisy absolute figures.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
    }


def _cell(value: Summary | float | None, which: str, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, Summary):
        return f"{getattr(value, which):.2f}"
    if which != "p50":
        return ""
    return f"{value:.2f}" if unit == "ms" else f"{value:.1f}{unit}"


def _ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def _verdict(met: bool | None) -> str:
    return "" if met is None else ("  MET" if met else "  MISSED")


def _side(value: Summary | float | None) -> Any:
    if isinstance(value, Summary):
        return value.as_dict()
    return value


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "unit": row.unit,
        "ours": _side(row.ours),
        "theirs": _side(row.theirs),
        "ratio": None if row.ratio is None else round(row.ratio, 3),
        "target": row.target,
        "met": row.met,
    }
