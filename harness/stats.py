"""Statistics over measurement rounds: medians, spread, percentiles."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

SATURATED_CPU_PCT = 90.0  # a server below this share of its core was not the bottleneck


def client_bound(server_cpu_pct: float | None) -> bool | None:
    """Whether a figure is client-bound: its server stayed below SATURATED_CPU_PCT of its
    core, so something else (round trips, a backend, the generator) set the pace. None when
    there is no CPU reading (n/a or failed)."""
    if server_cpu_pct is None or math.isnan(server_cpu_pct):
        return None
    return server_cpu_pct < SATURATED_CPU_PCT


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def iqr_pct(values: Sequence[float]) -> float:
    """Interquartile range as a percentage of the median (0 for fewer than two values): the
    spread of one run's rounds, which a single odd round does not move."""
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (q3 - q1) / statistics.median(values) * 100


def range_pct(values: Sequence[float]) -> float:
    """(max - min) as a percentage of the median: the spread between a few runs' medians,
    where every run counts."""
    return (max(values) - min(values)) / statistics.median(values) * 100


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan
