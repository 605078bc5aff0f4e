"""Measurements that several benchmark classes take alike, taken once per environment of a run.

The headline echo (32 B text, 100 open connections) in SHORT_RUN's rounds is the plain half of
bench_tls.EchoTLS, a cell of bench_websocket.EchoGrid, the tuned half of EchoAllocator and the
asyncio half of EchoEventLoop; the handshake is in Handshakes and the plain half of
HandshakesTLS. asv runs each class's setup_cache in a process of its own, so each took that
measurement again: the same workload, rounds and frameworks, ~15 s each of the default run's 30
minutes. Likewise HeadlineCost's cases start the same servers as WorkloadCost's
(benchmarks/bench_cost.py). A class whose variants must share their rounds (``together``, such
as plain and TLS, or one worker and two) measures all of them itself, and leaves them for others.

``python -m harness.asv_run`` gives each of its asv runs a folder (SHARE_ENV), deleted when the
run ends. The first class to take a measurement leaves it there under a key made of everything
that decides it (the workload, its rounds, the frameworks, the smoke flag, the commit and the
environment asv names, the topology); a later class with the same key reads it instead of
measuring. Without the folder (asv run by hand, a test,
harness.stability) every class measures its own, as before.

What is shared is one measurement, read by several classes: their figures for it are equal, and
its setup record names the class that took it (``measured_for``). Half of a comparison measured
together (harness.compare.compare_together) is a measurement of that workload in those rounds,
taken beside more servers, each idle outside its own windows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.outcomes import Measurement

SHARE_ENV = "BENCH_SHARE_DIR"
SELECTED_ENV = "BENCH_SELECTED"  # asv's --bench patterns for the run, as JSON ([]: every benchmark)
# What else decides a measurement besides its workload and rounds: which frameworks run
# (BENCH_FRAMEWORKS), where (BENCH_TOPOLOGY), a smoke run's short windows (BENCH_QUICK), and
# which commit in which of asv's environments (asv names both).
DECIDING_ENV = ("BENCH_FRAMEWORKS", "BENCH_TOPOLOGY", "BENCH_QUICK", "ASV_COMMIT", "ASV_ENV_NAME")


def folder() -> Path | None:
    """This run's share folder, or None when measurements are not shared."""
    where = os.environ.get(SHARE_ENV)
    return Path(where) if where and Path(where).is_dir() else None


def key(*parts: object) -> str:
    """The share key of a measurement decided by ``parts`` (records with a stable repr, such as
    a Workload and its Rounds) in this process's interpreter, environment and settings."""
    deciding = (sys.prefix, sys.version, *(os.environ.get(name, "") for name in DECIDING_ENV), *parts)
    return hashlib.sha256(repr(deciding).encode()).hexdigest()


def load(share_key: str) -> object | None:
    """The measurement another class of this run left under ``share_key``, or None."""
    where = folder()
    path = where / f"{share_key}.pickle" if where else None
    if path is None or not path.exists():
        return None
    with path.open("rb") as f:
        return pickle.load(f)


def save(share_key: str, value: object) -> None:
    """Leave ``value`` for the run's later classes (nothing when not sharing). Written to a
    temporary name and renamed, so a reader never sees half of it."""
    where = folder()
    if where is None:
        return
    with tempfile.NamedTemporaryFile(dir=where, suffix=".partial", delete=False) as f:
        pickle.dump(value, f)
    os.replace(f.name, where / f"{share_key}.pickle")


def measured_for(measurement: Measurement, taker: str) -> Measurement:
    """``measurement`` with its setup record naming the class that took it."""
    return dataclasses.replace(measurement, setup={**measurement.setup, "measured_for": taker})


def selected(benchmark_class: str, methods: tuple[str, ...], unknown: bool = False) -> bool:
    """Whether this asv run selects any of ``methods`` of ``benchmark_class`` (such as
    "bench_cost.WorkloadCost"), matching its --bench patterns as asv does; ``unknown`` when the
    run did not say (SELECTED_ENV). A pattern that selects only some parameters is not seen
    here: the class is then taken as not selected."""
    raw = os.environ.get(SELECTED_ENV)
    if raw is None:
        return unknown
    patterns = json.loads(raw)
    names = [f"{benchmark_class}.{method}" for method in methods]
    return not patterns or any(re.search(p, name) for p in patterns for name in names)


def bench_patterns(asv_args: list[str]) -> list[str]:
    """The --bench (-b) patterns among asv run's arguments."""
    patterns, args = [], iter(asv_args)
    for arg in args:
        if arg in ("-b", "--bench"):
            patterns.append(next(args, ""))
        elif arg.startswith("--bench="):
            patterns.append(arg.removeprefix("--bench="))
        elif arg.startswith("-b") and not arg.startswith("--"):
            patterns.append(arg.removeprefix("-b"))
    return patterns


@contextmanager
def sharing(asv_args: list[str]) -> Iterator[dict[str, str]]:
    """A share folder for one asv run with ``asv_args``, deleted with what it holds when the run
    ends: the variables that tell the run's benchmarks (SHARE_ENV, SELECTED_ENV)."""
    with tempfile.TemporaryDirectory(prefix="asyncweb-bench-share-") as where:
        yield {SHARE_ENV: where, SELECTED_ENV: json.dumps(bench_patterns(asv_args))}
