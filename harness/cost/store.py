"""Where a benchmark run keeps its cost records and flame graphs: beside asv's results, in
the folder of the run's machine, commit and environment (records.run_dir).

asv tells a benchmark its commit and environment (ASV_COMMIT, ASV_ENV_NAME) in its own
virtualenvs, but not its machine or results folder: ``python -m harness.asv_run`` passes
those (RESULTS_ENV, MACHINE_ENV); asv run by hand falls back on asv's defaults, ``results``
beside the config and the host's name. asv run --python=same names neither commit nor
environment, and outside asv (a test, an interactive call) there are none: nothing is
saved then, and the figures are recorded without their profiles.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from harness.cost.records import CostRecord, flamegraph_path, record_path, run_dir
from harness.outcomes import Measurement

RESULTS_ENV = "BENCH_RESULTS_DIR"
MACHINE_ENV = "BENCH_MACHINE"


def location() -> tuple[Path, str, str, str] | None:
    """(results dir, machine, commit, environment) of the asv run this process serves, or None."""
    commit, env = os.environ.get("ASV_COMMIT"), os.environ.get("ASV_ENV_NAME")
    results = os.environ.get(RESULTS_ENV)
    if not results and os.environ.get("ASV_CONF_DIR"):
        results = str(Path(os.environ["ASV_CONF_DIR"]) / "results")
    if not commit or not env or not results:  # never relative to whatever folder asv runs us in
        return None
    return Path(results), os.environ.get(MACHINE_ENV) or platform.node(), commit, env


def save_records(measured: Measurement) -> Path | None:
    """Write every CostRecord of ``measured``; the run's profile folder, or None outside asv."""
    where = location()
    if where is None:
        return None
    for outcome in measured.outcomes.values():
        if isinstance(outcome, CostRecord):
            outcome.dump(record_path(*where, outcome.case, outcome.framework))
    return run_dir(*where)


def flamegraph_file(workload: str, framework: str) -> Path | None:
    """Where this run's flame graph of ``framework`` on ``workload`` goes, or None outside asv."""
    where = location()
    return None if where is None else flamegraph_path(*where, workload, framework)
