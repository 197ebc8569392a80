"""Profiling a server process while a scenario measures it: py-spy (a bench-only tool, see
bench/requirements.txt) samples the child by pid, writes collapsed stacks next to the
results, and the summary names the functions that hold the most samples."""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Profile:
    path: Path
    summary: dict[str, object] = field(default_factory=dict)


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def sampled(pid: int, name: str, *, enabled: bool = True, rate: int = 250) -> Iterator[Profile]:
    """Sample `pid` for the duration of the block (nothing when disabled or py-spy is absent)."""
    # Collapsed stacks go to the temp dir (only bench/results/*.json is git-ignored); the
    # summary lands in the scenario's JSON.
    profile = Profile(Path(tempfile.gettempdir()) / f"flowdesk-bench-{name}.collapsed.txt")
    binary = _py_spy()
    if not enabled or binary is None:
        yield profile
        return
    process = subprocess.Popen(
        [
            binary,
            "record",
            "--nonblocking",
            "--nolineno",
            "-p",
            str(pid),
            "-r",
            str(rate),
            "-f",
            "raw",
            "-o",
            str(profile.path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield profile
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if profile.path.exists():
        profile.summary = summarize(profile.path)


def summarize(path: Path, top: int = 12) -> dict[str, object]:
    """Share of samples per function (inclusive) and per leaf function (self), in percent."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    modules: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for frame in stack.split(";"):
            short = _short(frame)
            _PACKAGES.setdefault(short, (_where(frame)[1] or ["?"])[0])
            frames.append(short)
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
        for module in {_module(frame) for frame in frames}:
            modules[module] += count
    if total == 0:
        return {}

    def share(counter: collections.Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in counter.most_common(top)}

    return {
        "samples": total,
        "inclusive %": share(inclusive),
        "self %": share(own),
        "by package (inclusive %)": share(modules),
    }


def _where(frame: str) -> tuple[str, list[str]]:
    """`func (/.../site-packages/pkg/mod.py)` -> ("func", ["pkg", "mod.py"])."""
    name, _, where = frame.partition(" (")
    parts = list(Path(where.rstrip(")").rsplit(":", 1)[0]).parts)
    for anchor in ("site-packages", "main", "python3.11"):
        if anchor in parts:
            return name, parts[len(parts) - parts[::-1].index(anchor) :]
    return name, parts[-2:]


def _short(frame: str) -> str:
    name, parts = _where(frame)
    return f"{name} ({'/'.join(parts[-2:])})"


def _module(frame: str) -> str:
    """The top-level package of a frame (as _short left it, so re-read from the name)."""
    return _PACKAGES.get(frame, "?")


_PACKAGES: dict[str, str] = {}
