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


class Comparison(abc.ABC):
    params = [list(servers.FRAMEWORKS)]  # the baseline first: the generator's ceiling
    param_names = ["framework"]
    timeout = 900  # covers setup_cache, which does the measuring
    workload: measure.Workload
    options: dict = {}

    @abc.abstractmethod
    def setup_cache(self) -> dict:
        """``return self.measure()``: asv keys the cache by the line that defines this
        method, so each class needs its own or they would all share one measurement."""

    def measure(self) -> dict:
        return measure.compare(self.workload, **self.options)

    def setup(self, comparison: dict, framework: str) -> None:
        result = comparison["results"][framework]
        if "skipped" in result:
            raise NotImplementedError(result["skipped"])  # asv shows n/a
        if "error" in result:
            raise RuntimeError(f"{framework} failed during the measurement: {result['error']}")

    def track_time_per_op(self, comparison: dict, framework: str) -> float:
        """Median over rounds of wall time per verified message or request."""
        return comparison["results"][framework]["seconds_per_op"]

    track_time_per_op.unit = "seconds"

    def track_ratio_to_baseline(self, comparison: dict, framework: str) -> float:
        """Time per op relative to the baseline server in the same rounds: the drift-proof
        headline, and the generator's headroom over this server (x times its throughput)."""
        result = comparison["results"][framework]
        if "ratio_to_baseline" not in result:
            raise RuntimeError(f"no ratio: the baseline did not complete ({comparison['results']['baseline']})")
        return result["ratio_to_baseline"]

    track_ratio_to_baseline.unit = "x baseline"

    def track_server_cpu(self, comparison: dict, framework: str) -> float:
        """The server's CPU use during the windows, % of one core; below 90 it was not the
        bottleneck and the figure is client-bound."""
        return comparison["results"][framework]["server_cpu_pct"]

    track_server_cpu.unit = "% of a core"

    def track_generator_cpu(self, comparison: dict, framework: str) -> float:
        """The load generator's CPU use, % of its cores: near 100 it was the limit."""
        return comparison["results"][framework]["client_cpu_pct"]

    track_generator_cpu.unit = "% of a core"

    def track_latency_p99(self, comparison: dict, framework: str) -> float:
        """99th percentile round-trip time over all rounds (closed loop)."""
        return comparison["results"][framework]["latency_p99_s"]

    track_latency_p99.unit = "seconds"
