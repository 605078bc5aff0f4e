"""The one reader of asv's results files, and the selections the reports make from them."""

from __future__ import annotations

import ast
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from harness.interpreters import LATEST_RELEASES_ENV
from harness.process import ROOT
from servers import SELECTION_ENV

BASELINE = "baseline"
# A quick pass (scripts/bench.sh --quick: one short window per figure) records under the
# host's machine name with this suffix, so that its figures never join a full run's history.
QUICK_SUFFIX = "-quick"
HEADLINE_FILE = ROOT / "benchmarks" / "headline.txt"

Values = Mapping[tuple[str, ...], float | None]  # parameter combination -> value; NaN n/a, None failed


@dataclass(frozen=True)
class BenchmarkCase:
    """A benchmark class, or one combination of its non-framework parameters."""

    name: str  # the class, e.g. bench_http.GetJson, plus any other parameters
    cls: str
    variant: tuple[str, ...]
    frameworks: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """One asv results file: one commit in one environment on one machine."""

    machine: str
    commit: str
    date: int  # commit date, ms since the epoch
    started_at: int
    env: str
    pins: Mapping[str, str]  # package -> pinned release; empty in the default (latest) environment
    values: Mapping[str, Values]  # benchmark -> its values
    env_vars: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )  # asv's env_nobuild variables of the environment
    python: str = ""  # the interpreter's MAJOR.MINOR ("" in results that do not say)

    @property
    def release(self) -> tuple[str, str] | None:
        """(framework, release) a release environment measures, or None. An environment pins
        its framework alone, or also the stack it runs on (servers.Framework.stack) and then
        names the framework it measures in BENCH_FRAMEWORKS (asv.releases.json)."""
        selected = [name for name in self.env_vars.get(SELECTION_ENV, "").split(",") if name.strip()]
        if len(selected) == 1 and selected[0].strip() in self.pins:
            framework = selected[0].strip()
            return framework, self.pins[framework]
        if len(self.pins) == 1:
            return next(iter(self.pins.items()))
        return None  # the default environment, or a cross product this suite never makes

    @property
    def recency(self) -> tuple[int, int]:
        """Orders runs oldest to newest: by commit date, then by when they ran."""
        return self.date, self.started_at

    def measured(self, workload: BenchmarkCase, method: str = "track_time_per_op") -> bool:
        return f"{workload.cls}.{method}" in self.values

    def value(self, workload: BenchmarkCase, method: str, framework: str) -> float | None:
        """A tracked value; NaN when n/a (skipped, or absent from this run), None when it failed."""
        by_params = self.values.get(f"{workload.cls}.{method}")
        if not by_params:
            return math.nan
        combo = list(workload.variant)
        combo.insert(_framework_axis(by_params), framework)
        return by_params.get(tuple(combo), math.nan)


def _unquote(param: str) -> str:
    # asv stores each parameter value as its repr: "'aiohttp'", "32".
    try:
        return str(ast.literal_eval(param))
    except (ValueError, SyntaxError):
        return param


def _read(path: Path) -> Run | None:
    data = json.loads(path.read_text())
    if "results" not in data or "result_columns" not in data:
        return None  # not a results file in asv 0.6's format
    columns = data["result_columns"]
    values = {}
    started = 0
    for name, row in data["results"].items():
        column = dict(zip(columns, row, strict=False))
        params = [[_unquote(p) for p in axis] for axis in column.get("params") or []]
        combos = list(itertools.product(*params))
        # A benchmark that failed as a whole has no result list: every combination failed.
        result = column.get("result") or [None] * len(combos)
        values[name] = MappingProxyType(dict(zip(combos, result, strict=False)))
        started = max(started, column.get("started_at") or 0)
    requirements = data.get("requirements") or {}
    return Run(
        machine=(data.get("params") or {}).get("machine") or path.parent.name,
        commit=data["commit_hash"],
        date=data.get("date") or 0,
        started_at=started,
        env=data.get("env_name", ""),
        pins=MappingProxyType({k: v for k, v in requirements.items() if v}),
        values=MappingProxyType(values),
        env_vars=MappingProxyType(dict(data.get("env_vars") or {})),
        python=str(data.get("python") or (data.get("params") or {}).get("python") or ""),
    )


def load_runs(results_dir: Path) -> list[Run]:
    """Every results file under ``results_dir/<machine>/``."""
    runs = (_read(path) for path in sorted(results_dir.glob("*/*.json")) if path.name != "machine.json")
    return [run for run in runs if run is not None]


def is_quick(machine: str) -> bool:
    """Whether a machine's results come from quick passes (QUICK_SUFFIX)."""
    return machine.endswith(QUICK_SUFFIX)


def machines(runs: Iterable[Run]) -> list[str]:
    return sorted({run.machine for run in runs})


def configured_pythons() -> list[str]:
    """asv.conf.json's ``pythons``: the first is the primary interpreter, where every benchmark
    runs; the others run the headline only (harness/interpreters.py)."""
    from asv.util import load_json  # the reports run where asv is, the benchmarks need not

    return [str(p) for p in load_json(str(ROOT / "asv.conf.json"), js_comments=True)["pythons"]]


def primary_python() -> str:
    return configured_pythons()[0]


def on_primary(run: Run, primary: str | None = None) -> bool:
    """Whether ``run`` is on the primary interpreter (a run that does not say is, as the
    suite's results were before it had other interpreters; so is a quick pass's)."""
    return not run.python or run.python == (primary or primary_python()) or is_quick(run.machine)


def latest_runs(runs: Iterable[Run], python: str | None = None) -> dict[str, Run]:
    """The default environment's newest commit per machine, on ``python`` (default: the primary
    interpreter, where every benchmark runs)."""
    wanted = python or primary_python()
    newest: dict[str, Run] = {}
    for run in runs:
        if not run.pins and (run.python == wanted or (python is None and on_primary(run, wanted))):
            newest[run.machine] = max(newest.get(run.machine, run), run, key=lambda r: r.recency)
    return dict(sorted(newest.items()))


def interpreter_runs(runs: Iterable[Run]) -> dict[tuple[str, str], Run]:
    """(machine, python) -> the newest run of every framework's latest release on that
    interpreter: the default environment's, or the release history's (LATEST_RELEASES_ENV)."""
    newest: dict[tuple[str, str], Run] = {}
    for run in runs:
        if (not run.pins or run.env_vars.get(LATEST_RELEASES_ENV) == "1") and run.python:
            key = (run.machine, run.python)
            newest[key] = max(newest.get(key, run), run, key=lambda r: r.recency)
    return dict(sorted(newest.items()))


def release_runs(runs: Iterable[Run]) -> dict[tuple[str, str, str], Run]:
    """(machine, framework, release) -> the newest run of that release environment."""
    newest: dict[tuple[str, str, str], Run] = {}
    for run in runs:
        if run.release is None:
            continue
        framework, release = run.release
        key = (run.machine, framework, release)
        newest[key] = max(newest.get(key, run), run, key=lambda r: r.recency)
    return newest


def newest_run(runs: Iterable[Run], machine: str, *, commit: str | None = None, env: str | None = None) -> Run | None:
    """The newest run on ``machine`` matching a commit prefix and/or an environment name."""
    matches = [
        run
        for run in runs
        if run.machine == machine and (not commit or run.commit.startswith(commit)) and (not env or run.env == env)
    ]
    return max(matches, key=lambda r: r.recency, default=None)


def _framework_axis(by_params: Values) -> int:
    """The parameter axis naming frameworks: the one holding the baseline (else the first)."""
    for combo in by_params:
        if BASELINE in combo:
            return combo.index(BASELINE)
    return 0


def workloads(runs: Iterable[Run]) -> dict[str, BenchmarkCase]:
    """Benchmark classes found in the results, split by their non-framework parameters."""
    found: dict[str, tuple[str, tuple[str, ...], list[str]]] = {}
    for run in runs:
        for name, by_params in run.values.items():
            cls = name.rsplit(".", 1)[0]
            axis = _framework_axis(by_params)
            for combo in by_params:
                variant = tuple(v for i, v in enumerate(combo) if i != axis)
                label = cls + "".join(f" · {v}" for v in variant)
                frameworks = found.setdefault(label, (cls, variant, []))[2]
                if combo[axis] not in frameworks:
                    frameworks.append(combo[axis])
    return {
        label: BenchmarkCase(label, cls, variant, tuple(frameworks))
        for label, (cls, variant, frameworks) in sorted(found.items())
    }


def case_of(cls: str, *variant: str) -> BenchmarkCase:
    """A class's case with these non-framework parameters, named as workloads() names it
    (its frameworks left empty: Run.value does not need them)."""
    return BenchmarkCase(cls + "".join(f" · {v}" for v in variant), cls, variant, ())


def usable(value: float | None) -> bool:
    """Whether a value was measured: neither failed (None) nor n/a (NaN)."""
    return value is not None and not math.isnan(value)


def throughput(seconds_per_op: float | None) -> float | None:
    """Operations per second, or None when there is no positive time to invert."""
    return 1 / seconds_per_op if usable(seconds_per_op) and seconds_per_op > 0 else None


def headline_classes() -> list[str]:
    """The headline benchmark classes (benchmarks/headline.txt), as module.Class."""
    return [line.strip() for line in HEADLINE_FILE.read_text().splitlines() if line.strip()]
