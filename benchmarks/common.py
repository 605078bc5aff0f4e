"""The one pattern every benchmark class follows.

A class measures one workload on every framework at once, interleaved, in ``setup_cache``
(harness.measure.compare): servers start once per environment and stop before it returns,
so asv's per-sample ``setup`` and teardown-less ``setup_cache`` never start or leak one.
Its ``track_*`` methods read that measurement, one value per framework. Every value grows
when things get worse, so asv's regression detection points the right way.
"""

from __future__ import annotations

import abc

import servers
from harness import measure


def require(row: dict, who: str) -> None:
    """Turn a measurement's outcome for ``who`` into asv's: a skip shows n/a, an error fails
    the benchmark with its cause."""
    if "skipped" in row:
        raise NotImplementedError(row["skipped"])
    if "error" in row:
        raise RuntimeError(f"{who} failed during the measurement: {row['error']}")


# The headline classes (benchmarks/headline.txt) measure longer than the rest: more rounds
# let the median ride over a round in which the host stole the generator's or the server's
# CPU; python -m harness.stability shows what these settings give between runs.
HEADLINE_RUN = {"rounds": 7, "window_s": 1.0, "warmup_s": 0.5}


class Comparison(abc.ABC):
    """One workload (``workload``), or a grid of them (``grid``: the params after framework
    -> workload; each workload compared across frameworks on its own, one after another)."""

    params = [list(servers.FRAMEWORKS)]  # the baseline first: the generator's ceiling
    param_names = ["framework"]
    timeout = 900  # covers setup_cache, which does the measuring
    workload: measure.Workload
    grid: dict[tuple, measure.Workload] = {}
    options: dict = {}

    @abc.abstractmethod
    def setup_cache(self) -> dict:
        """``return self.measure()``: asv keys the cache by the line that defines this
        method, so each class needs its own or they would all share one measurement."""

    def workloads(self) -> dict[tuple, measure.Workload]:
        return self.grid or {(): self.workload}

    def measure(self) -> dict:
        workloads = self.workloads()
        comparisons = measure.compare_each(list(workloads.values()), **self.options)
        return {key: comparisons[w.name] for key, w in workloads.items()}

    def result(self, comparison: dict, framework: str, *grid: object) -> dict:
        return comparison[grid]["results"][framework]

    def setup(self, comparison: dict, framework: str, *grid: object) -> None:
        require(self.result(comparison, framework, *grid), framework)

    def track_time_per_op(self, comparison: dict, framework: str, *grid: object) -> float:
        """Median over rounds of wall time per verified message or request."""
        return self.result(comparison, framework, *grid)["seconds_per_op"]

    track_time_per_op.unit = "seconds"

    def track_ratio_to_baseline(self, comparison: dict, framework: str, *grid: object) -> float:
        """Time per op relative to the baseline server in the same rounds: the drift-proof
        headline, and the generator's headroom over this server (x times its throughput)."""
        result = self.result(comparison, framework, *grid)
        if "ratio_to_baseline" not in result:
            baseline = self.result(comparison, "baseline", *grid)
            raise RuntimeError(f"no ratio: the baseline did not complete ({baseline})")
        return result["ratio_to_baseline"]

    track_ratio_to_baseline.unit = "x baseline"

    def track_server_cpu(self, comparison: dict, framework: str, *grid: object) -> float:
        """The server's CPU use during the windows, % of one core; below 90 it was not the
        bottleneck and the figure is client-bound."""
        return self.result(comparison, framework, *grid)["server_cpu_pct"]

    track_server_cpu.unit = "% of a core"

    def track_generator_cpu(self, comparison: dict, framework: str, *grid: object) -> float:
        """The load generator's CPU use, % of its cores: near 100 it was the limit."""
        return self.result(comparison, framework, *grid)["client_cpu_pct"]

    track_generator_cpu.unit = "% of a core"

    def track_latency_p99(self, comparison: dict, framework: str, *grid: object) -> float:
        """99th percentile round-trip time over all rounds (closed loop)."""
        return self.result(comparison, framework, *grid)["latency_p99_s"]

    track_latency_p99.unit = "seconds"


class EchoComparison(Comparison):
    """Adds the median round trip, which echo readers ask for beside the tail."""

    def track_latency_p50(self, comparison: dict, framework: str, *grid: object) -> float:
        """Median round-trip time over all rounds (closed loop)."""
        return self.result(comparison, framework, *grid)["latency_p50_s"]

    track_latency_p50.unit = "seconds"


class MemoryComparison(abc.ABC):
    """Server resident memory per open connection, at each of ``counts`` connections
    (harness.measure.memory_per_connection): a fresh server per framework and count."""

    params = [list(servers.FRAMEWORKS)]
    param_names = ["framework", "connections"]
    timeout = 900
    workload: measure.Workload
    counts: list[int]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if "counts" in cls.__dict__:
            cls.params = [list(servers.FRAMEWORKS), cls.counts]

    @abc.abstractmethod
    def setup_cache(self) -> dict:
        """``return self.measure()``, in each class (see Comparison.setup_cache)."""

    def measure(self) -> dict:
        return measure.memory_per_connection(self.workload, self.counts)

    def setup(self, memory: dict, framework: str, connections: int) -> None:
        require(memory["results"][framework][connections], framework)

    def track_bytes_per_connection(self, memory: dict, framework: str, connections: int) -> float:
        """Growth of the server's resident memory per open connection."""
        return memory["results"][framework][connections]["bytes_per_connection"]

    track_bytes_per_connection.unit = "bytes"
