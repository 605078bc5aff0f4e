"""The one pattern every benchmark class follows.

A class measures one workload, or a grid of them, on every framework at once, interleaved,
in ``setup_cache`` (harness.compare.compare): servers start once per environment and stop
before it returns, so asv's per-sample ``setup`` and teardown-less ``setup_cache`` never
start or leak one. Its ``track_*`` methods read that measurement, one value per framework.
Every value grows when things get worse, so asv's regression detection points the right way.

asv's benchmark version is a hash of the source of a track method, ``setup`` and
``setup_cache``; results recorded under another version drop out of the graphs. The method
bodies below are therefore kept as they were written first (they read a result as a
mapping), and ``tracked`` leaves its own line out of that source: a history restarts only
when what a method measures changes.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import textwrap
import types
from collections.abc import Callable, Mapping
from typing import TypeVar

import servers
from harness import shared
from harness.compare import Contender, Rounds, compare_each, compare_together, on_primary_interpreter
from harness.experiments.memory import memory_per_connection
from harness.outcomes import Failed, Measurement, Skipped
from harness.workloads import Workload

Method = TypeVar("Method", bound=Callable)

# The headline classes (benchmarks/headline.txt) measure longer than the rest: more rounds
# let the median ride over a round in which the host stole the generator's or the server's
# CPU; python -m harness.stability shows what these settings give between runs.
HEADLINE_RUN = Rounds(rounds=7, window_s=1.0, warmup_s=0.5)
# The headline on the other interpreters (harness/interpreters.py): SHORT_RUN's windows (below).
# HEADLINE_RUN there would add ~3 minutes to a default run already at its 30; across
# interpreters the figures come from different runs anyway, so the host's drift, not the
# windows, bounds that comparison (the cost family's instructions are its exact measure).
OTHER_INTERPRETER_RUN = Rounds(rounds=3, window_s=0.25, warmup_s=0.05)
# Every other comparison: three windows of 0.25 s, about the least that gives a median and a
# spread (iqr_pct in each summary says whether they were long enough). Twelve frameworks each
# get a warm-up and three windows per workload, and the default run has 30 minutes on two
# cores: 0.5 s windows, and 5 of 1 s for the caches, took 49 minutes with the rest of the
# suite, and 0.3 s after 0.1 s of warm-up 32-37 minutes once the interpreter and TLS axes had
# joined it. Here, on a noisy hour, the spread between rounds was the host's either way: the
# median iqr_pct of twelve frameworks on a 1 KiB echo and GET /plaintext was 4-17 % with these
# windows and 6-22 % with 0.3 s (two runs each), their ratios to the baseline alike.
# The warm-up runs on connections already open, on a server that a grid's earlier workloads
# may have warmed already: 0.05 s is a hundred operations or more at most workloads' rates,
# past the first-use paths; at the slowest, the 1 MB document with orjson, two requests on
# each of its two connections (the stdlib's has its own rounds, bench_http.LARGE_DOCUMENT_RUN).
SHORT_RUN = Rounds(rounds=3, window_s=0.25, warmup_s=0.05)


def headline_rounds() -> Rounds:
    """The headline classes' rounds on this interpreter."""
    return HEADLINE_RUN if on_primary_interpreter() else OTHER_INTERPRETER_RUN


def tracked(unit: str) -> Callable[[Method], Method]:
    """Mark a track_* method with the unit asv shows beside its values."""

    def mark(method: Method) -> Method:
        method.unit = unit
        lines = inspect.getsourcelines(method)[0]
        while lines and lines[0].lstrip().startswith("@"):  # the decorator is no part of the measurement
            lines = lines[1:]
        method.pretty_source = textwrap.dedent("\n".join(line.rstrip() for line in lines))
        return method

    return mark


def benchmark_class(benchmark: object) -> str:
    """A benchmark's class as asv names it (module.Class, e.g. bench_tls.EchoTLS)."""
    return f"{type(benchmark).__module__.rsplit('.', 1)[-1]}.{type(benchmark).__name__}"


def methods_tracked(cls: type) -> tuple[str, ...]:
    """The names of a benchmark class's track methods, as harness.shared.selected takes them."""
    return tuple(name for name in dir(cls) if name.startswith("track_"))


def together_key(workloads: list[Workload], rounds: Rounds) -> str:
    """The share key (harness.shared) of ``workloads`` measured in the same rounds, as a set."""
    return shared.key("together", tuple(workloads), rounds)


def require(row: object, who: str) -> None:
    """Turn a measurement's outcome for ``who`` into asv's: a skip shows n/a, a failure
    fails the benchmark with its cause."""
    if isinstance(row, Skipped):
        raise NotImplementedError(row.reason)
    if isinstance(row, Failed):
        raise RuntimeError(f"{who} failed during the measurement: {row.cause}")


def as_row(outcome: object) -> object:
    """A result record as the read-only mapping the track methods read (fields that have no
    value, such as a ratio without a baseline, left out); skips and failures as they are."""
    if isinstance(outcome, Skipped | Failed):
        return outcome
    fields = {k: v for k, v in dataclasses.asdict(outcome).items() if v is not None}
    return types.MappingProxyType(fields)


class Comparison(abc.ABC):
    """One workload (``workload``), or a grid of them (``grid``: the params after framework
    -> workload; each workload compared across frameworks on its own, one after another)."""

    params = [list(servers.FRAMEWORKS)]  # the baseline first: the generator's ceiling
    param_names = ["framework"]
    timeout = 900  # covers setup_cache, which does the measuring
    workload: Workload
    grid: dict[tuple, Workload] = {}
    rounds: Rounds = SHORT_RUN
    # True: the grid's workloads are variants of one, measured in the same rounds
    # (harness.compare.compare_together) so that their ratios carry no drift between them.
    together: bool = False
    # A ``together`` class that asv runs after this one (by name) and whose workloads include
    # one of this class's: when the run shares measurements and selects it, its workloads join
    # this class's rounds and it reads them (harness.shared). bench_tls's plain half is the
    # one-worker half of bench_workers: measured apart, the headline echo and GET /json took
    # each framework's one-worker figure twice, ~30 s of the default run.
    measures_together_with: type[Comparison] | None = None

    @abc.abstractmethod
    def setup_cache(self) -> dict:
        """``return self.measure()``: asv keys the cache by the line that defines this
        method, so each class needs its own or they would all share one measurement."""

    def workloads(self) -> dict[tuple, Workload]:
        return self.grid or {(): self.workload}

    def rounds_for(self, key: tuple) -> Rounds:
        """The rounds of the grid's workload at ``key``: ``rounds`` unless a class says otherwise."""
        return self.rounds

    def measure(self) -> dict[tuple, Measurement]:
        """Each workload's Measurement, by grid key: read from another class of this asv run
        that measured it alike (harness.shared), or measured here and left for the others."""
        workloads = self.workloads()
        taker = benchmark_class(self)
        if self.together:  # only all together, in the same rounds, or the ratios between them drift
            measured = shared.load(together_key(list(workloads.values()), self.rounds))  # by an earlier class
            if measured is None:
                later = self.later_together()
                union = list({w.name: w for w in [*workloads.values(), *later]}.values())
                together = compare_together(union, rounds=self.rounds)
                measured = {w.name: shared.measured_for(together[w.name], taker) for w in union}
                for w in union:
                    shared.save(shared.key(w, self.rounds), measured[w.name])
                if later:
                    shared.save(together_key(later, self.rounds), {w.name: measured[w.name] for w in later})
            return {key: measured[w.name] for key, w in workloads.items()}
        own = {w.name: self.rounds_for(key) for key, w in workloads.items()}
        share_keys = {w.name: shared.key(w, own[w.name]) for w in workloads.values()}
        measured = {name: found for name, k in share_keys.items() if (found := shared.load(k)) is not None}
        missing = [w for w in workloads.values() if w.name not in measured]
        if missing:
            chosen = compare_each(missing, rounds=self.rounds, rounds_by_name=own, before_rounds=self.before_rounds)
            for name, m in chosen.items():
                measured[name] = shared.measured_for(m, taker)
                shared.save(share_keys[name], measured[name])
        return {key: measured[w.name] for key, w in workloads.items()}

    def before_rounds(self, workload: Workload) -> Callable[[Contender], None] | None:
        """What to do on each contender of ``workload`` after its warm-up, before the rounds
        (harness.compare.start_contenders): nothing, but for the headline classes' flame graphs."""
        return None

    def later_together(self) -> list[Workload]:
        """``measures_together_with``'s workloads, when this run shares measurements, selects that
        class and measures it in this class's rounds; else none."""
        later = self.measures_together_with
        if later is None or shared.folder() is None or not later.together or later.rounds != self.rounds:
            return []
        if not shared.selected(benchmark_class(later()), methods_tracked(later)):
            return []
        return list(later().workloads().values())

    def result(self, comparison: dict, framework: str, *grid: object) -> Mapping:
        return as_row(comparison[grid].outcomes[framework])

    def setup(self, comparison: dict, framework: str, *grid: object) -> None:
        require(self.result(comparison, framework, *grid), framework)

    @tracked("seconds")
    def track_time_per_op(self, comparison: dict, framework: str, *grid: object) -> float:
        """Median over rounds of wall time per verified message or request."""
        return self.result(comparison, framework, *grid)["seconds_per_op"]

    @tracked("x baseline")
    def track_ratio_to_baseline(self, comparison: dict, framework: str, *grid: object) -> float:
        """Time per op relative to the baseline server in the same rounds: the drift-proof
        headline, and the generator's headroom over this server (x times its throughput)."""
        result = self.result(comparison, framework, *grid)
        if "ratio_to_baseline" not in result:
            baseline = self.result(comparison, "baseline", *grid)
            raise RuntimeError(f"no ratio: the baseline did not complete ({baseline})")
        return result["ratio_to_baseline"]

    @tracked("% of a core")
    def track_server_cpu(self, comparison: dict, framework: str, *grid: object) -> float:
        """The server's CPU use during the windows, % of one core; below 90 it was not the
        bottleneck and the figure is client-bound."""
        return self.result(comparison, framework, *grid)["server_cpu_pct"]

    @tracked("% of a core")
    def track_generator_cpu(self, comparison: dict, framework: str, *grid: object) -> float:
        """The load generator's CPU use, % of its cores: near 100 it was the limit."""
        return self.result(comparison, framework, *grid)["client_cpu_pct"]

    @tracked("seconds")
    def track_latency_p99(self, comparison: dict, framework: str, *grid: object) -> float:
        """99th percentile round-trip time over all rounds (closed loop)."""
        return self.result(comparison, framework, *grid)["latency_p99_s"]


class EchoComparison(Comparison):
    """Adds the median round trip, which echo readers ask for beside the tail."""

    @tracked("seconds")
    def track_latency_p50(self, comparison: dict, framework: str, *grid: object) -> float:
        """Median round-trip time over all rounds (closed loop)."""
        return self.result(comparison, framework, *grid)["latency_p50_s"]


class MemoryComparison(abc.ABC):
    """Server resident memory per open connection, at each of ``counts`` connections
    (harness.experiments.memory): one server per framework, connections added count by count."""

    params = [list(servers.FRAMEWORKS)]
    param_names = ["framework", "connections"]
    timeout = 900
    workload: Workload
    counts: list[int]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if "counts" in cls.__dict__:
            cls.params = [list(servers.FRAMEWORKS), cls.counts]

    @abc.abstractmethod
    def setup_cache(self) -> Measurement:
        """``return self.measure()``, in each class (see Comparison.setup_cache)."""

    def measure(self) -> Measurement:
        return memory_per_connection(self.workload, self.counts)

    def setup(self, memory: Measurement, framework: str, connections: int) -> None:
        require(memory.outcomes[framework, connections], framework)

    @tracked("bytes")
    def track_bytes_per_connection(self, memory: Measurement, framework: str, connections: int) -> float:
        """Growth of the server's resident memory per open connection."""
        return memory.result((framework, connections)).bytes_per_connection


class Experiment(abc.ABC):
    """A class whose setup_cache runs one harness experiment (a Measurement keyed by
    ``key(*params)``); its track methods read ``self.result(measurement, *params)``."""

    timeout = 900

    @abc.abstractmethod
    def setup_cache(self) -> Measurement:
        """Run the experiment, in each class (see Comparison.setup_cache)."""

    def key(self, *params: object) -> object:
        return params[0] if len(params) == 1 else params

    def setup(self, measurement: Measurement, *params: object) -> None:
        require(measurement.outcomes[self.key(*params)], str(params[0]))

    def result(self, measurement: Measurement, *params: object):
        return measurement.result(self.key(*params))
