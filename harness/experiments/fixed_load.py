"""The cost to serve a fixed load: every framework offered the same rates, open loop, so
that what differs between them is what serving that load costs, not how much load each
could take.

The rates: 25 %, 50 % and 80 % of the slowest framework's capacity in this run (every
framework measured closed loop first, interleaved, the slowest taken among them), and one
absolute rate per workload that every framework sustains on a 2-core machine with room to
spare. Operations go out at intended times whatever the server does, and latency counts
from those times (harness.loadgen.openloop: no coordinated omission). At each rate, per
framework: the server's CPU per 1,000 operations, its resident memory at the window's end
and its peak during the window, and latency p50, p90, p99 and p99.9. The baseline's row
is the floor these figures have on this machine: the generator's own latency and a
minimal server's CPU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import servers
from harness import stats
from harness.compare import (
    QUICK_WINDOW_S,
    Contender,
    Round,
    Rounds,
    close_all,
    interleaved,
    measure_round,
    quick,
    setup_record,
    start_contenders,
)
from harness.outcomes import Measurement, Skipped
from harness.workloads import Workload

CAPACITY_RUN = Rounds(rounds=2, window_s=0.4, warmup_s=0.3)  # closed loop, before the open-loop windows
SHARES_OF_SLOWEST = {"25%": 0.25, "50%": 0.5, "80%": 0.8}
# A window lasts long enough for MIN_SAMPLES latencies (p99.9 is then the second-largest
# of 2,000 at least), within WINDOW_BOUNDS_S: at the slowest framework's 25 % on GET /json
# (~860/s here) that is 2.3 s, at the echo's rates the lower bound.
MIN_SAMPLES = 2000
WINDOW_BOUNDS_S = (1.0, 2.5)
# An offered rate above this share of a framework's own closed-loop capacity is not a load
# it can serve: that point is n/a with the reason, instead of a queue growing for seconds.
MAX_SHARE_OF_CAPACITY = 0.95


@dataclass(frozen=True)
class LoadPoint:
    """One framework at one offered rate: what serving it cost, and how honest the window was
    (the rate achieved, how late the generator itself noticed operations were due)."""

    framework: str
    version: str
    capacity_rps: float  # closed loop, median of the capacity rounds
    offered_rps: float
    achieved_rps: float
    operations: int
    server_cpu_ms_per_1000_ops: float
    server_cpu_pct: float
    client_cpu_pct: float
    rss_bytes: int  # at the window's end, its connections still open
    peak_rss_bytes: int  # the highest during the window (VmHWM, reset before it)
    latency_p50_s: float
    latency_p90_s: float
    latency_p99_s: float
    latency_p999_s: float
    schedule_lag_p99_s: float

    @property
    def share_of_capacity(self) -> float:
        return self.offered_rps / self.capacity_rps


def window_seconds(rate: float) -> float:
    low, high = WINDOW_BOUNDS_S
    return min(high, max(low, MIN_SAMPLES / rate))


def measure_point(c: Contender, rate: float, seconds: float) -> tuple[Round, int, int]:
    """One open-loop window on ``c``'s server at ``rate``: the round, and the server's
    resident memory at the window's end and at its peak during it."""
    c.server.reset_peak_rss()
    measured = measure_round(c, seconds, rate=rate)
    return measured, c.server.rss_bytes(), c.server.peak_rss_bytes()


def point(c: Contender, capacity: float, measured: Round, rss: int, peak: int) -> LoadPoint:
    window = measured.window
    latencies = sorted(window.latencies_us)
    lags = sorted(window.schedule_lag_us or ())
    return LoadPoint(
        framework=c.framework,
        version=servers.version(c.framework),
        capacity_rps=capacity,
        offered_rps=window.rate or 0.0,
        achieved_rps=measured.ops_per_second,
        operations=window.ops,
        server_cpu_ms_per_1000_ops=measured.server_cpu_s / window.ops * 1e6,
        server_cpu_pct=measured.server_cpu_pct,
        client_cpu_pct=measured.client_cpu_pct,
        rss_bytes=rss,
        peak_rss_bytes=peak,
        latency_p50_s=stats.percentile(latencies, 50) / 1e6,
        latency_p90_s=stats.percentile(latencies, 90) / 1e6,
        latency_p99_s=stats.percentile(latencies, 99) / 1e6,
        latency_p999_s=stats.percentile(latencies, 99.9) / 1e6,
        schedule_lag_p99_s=stats.percentile(lags, 99) / 1e6,
    )


def slowest(capacities: dict[str, float]) -> tuple[str, float]:
    """The framework with the least capacity; the baseline only when it is alone."""
    frameworks = {name: rate for name, rate in capacities.items() if name != "baseline"} or capacities
    name = min(frameworks, key=frameworks.__getitem__)
    return name, frameworks[name]


def fixed_load(
    workload: Workload,
    fixed_rate: float,
    frameworks: list[str] | None = None,
    *,
    capacity: Rounds = CAPACITY_RUN,
) -> Measurement[LoadPoint]:
    """Capacity closed loop, then each offered rate open loop, frameworks interleaved.

    The outcomes are keyed (framework, load), load being "25%", "50%", "80%" (of the slowest
    framework's capacity) or the fixed rate's label ("1000/s").
    """
    capacity = capacity.for_this_run()
    fixed_label = f"{fixed_rate:.0f}/s"
    contenders: list[Contender] = []
    outcomes: dict[tuple[str, str], object] = {}
    measured: dict[tuple[str, str], tuple[Round, int, int]] = {}
    rates: dict[str, float] = {}
    capacities: dict[str, float] = {}
    try:
        contenders = start_contenders(workload, list(frameworks or servers.FRAMEWORKS), capacity.warmup_s)
        for i in range(capacity.rounds):
            interleaved(contenders, i, lambda c: c.rounds.append(measure_round(c, capacity.window_s)))
        capacities = {c.framework: stats.median([r.ops_per_second for r in c.rounds]) for c in contenders if c.live}
        if capacities:
            slowest_name, slowest_rps = slowest(capacities)
            rates = {label: share * slowest_rps for label, share in SHARES_OF_SLOWEST.items()}
            rates[fixed_label] = fixed_rate
        for i, (label, rate) in enumerate(rates.items()):
            seconds = QUICK_WINDOW_S if quick() else window_seconds(rate)

            def at_rate(c: Contender, label: str = label, rate: float = rate, seconds: float = seconds) -> None:
                if rate > MAX_SHARE_OF_CAPACITY * capacities[c.framework]:
                    outcomes[c.framework, label] = Skipped(
                        f"{rate:,.0f}/s is beyond what {c.framework} serves here "
                        f"({capacities[c.framework]:,.0f}/s closed loop)"
                    )
                    return
                measured[c.framework, label] = measure_point(c, rate, seconds)

            interleaved(contenders, i, at_rate)
    finally:
        close_all(contenders)

    no_rate = Skipped("no offered rate: no framework's capacity was measured")
    for c in contenders:
        for label in [*SHARES_OF_SLOWEST, fixed_label]:
            if (c.framework, label) in measured:
                outcomes[c.framework, label] = point(c, capacities[c.framework], *measured[c.framework, label])
            elif (c.framework, label) not in outcomes:  # failed or skipped as a whole, or no rates
                outcomes[c.framework, label] = c.outcome(lambda c: no_rate)
    setup = setup_record(
        workload,
        capacity=dataclasses.asdict(capacity),
        offered_rps=rates,
        slowest=slowest_name if capacities else None,
        min_samples=MIN_SAMPLES,
        quick=quick(),
    )
    return Measurement(f"{workload.name}_fixed_load", setup, outcomes)
