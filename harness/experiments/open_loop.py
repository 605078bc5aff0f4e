"""Latency at fixed request rates: GET /json sent open loop at fractions of the capacity
that the same server showed closed loop on the same connections in the same run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import servers
from harness import stats
from harness.compare import (
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
from harness.outcomes import Measurement
from harness.workloads import http_get
from servers import contract

CAPACITY_ROUNDS = Rounds(rounds=3, window_s=0.5, warmup_s=0.5)  # closed loop, before the open-loop windows


@dataclass(frozen=True)
class OpenWindow:
    """One open-loop window's latency percentiles, with what shows it was honest: the rate
    achieved and how late the generator itself was in sending."""

    rate_rps: float
    requests: int
    achieved_rps: float
    latency_p50_s: float
    latency_p99_s: float
    latency_p999_s: float
    schedule_lag_p99_s: float
    server_cpu_pct: float
    client_cpu_pct: float

    @staticmethod
    def of(measured: Round) -> OpenWindow:
        window = measured.window
        latencies = sorted(window.latencies_us)
        lags = sorted(window.schedule_lag_us or ())
        return OpenWindow(
            rate_rps=window.rate or 0.0,
            requests=window.ops,
            achieved_rps=measured.ops_per_second,
            latency_p50_s=stats.percentile(latencies, 50) / 1e6,
            latency_p99_s=stats.percentile(latencies, 99) / 1e6,
            latency_p999_s=stats.percentile(latencies, 99.9) / 1e6,
            schedule_lag_p99_s=stats.percentile(lags, 99) / 1e6,
            server_cpu_pct=measured.server_cpu_pct,
            client_cpu_pct=measured.client_cpu_pct,
        )


@dataclass(frozen=True)
class OpenLoopResult:
    framework: str
    version: str
    capacity_rps: float  # closed loop, median over the capacity rounds
    capacity_server_cpu_pct: float
    at: dict[str, OpenWindow]  # load fraction ("0.5") -> its window


def open_loop(
    frameworks: list[str] | None = None,
    *,
    fractions: tuple[float, ...] = (0.5, 0.8),
    connections: int = 64,
    capacity: Rounds = CAPACITY_ROUNDS,
    open_window_s: float = 2.0,
) -> Measurement[OpenLoopResult]:
    """Capacity closed loop, then each fraction of it open loop, frameworks interleaved.

    Latency counts from each request's intended send time (harness.loadgen.openloop).
    """
    if quick():
        capacity, open_window_s = Rounds(1, 0.2, 0.1), 0.3
    workload = http_get(contract.JSON, connections)
    open_rounds: dict[str, dict[float, Round]] = {}
    contenders: list[Contender] = []
    try:
        contenders = start_contenders(workload, list(frameworks or servers.FRAMEWORKS), capacity.warmup_s)
        for i in range(capacity.rounds):
            interleaved(contenders, i, lambda c: c.rounds.append(measure_round(c, capacity.window_s)))
        for i, fraction in enumerate(fractions):

            def at_fraction(c: Contender, fraction: float = fraction) -> None:
                rate = fraction * stats.median([r.ops_per_second for r in c.rounds])
                open_rounds.setdefault(c.framework, {})[fraction] = measure_round(c, open_window_s, rate=rate)

            interleaved(contenders, i, at_fraction)
    finally:
        close_all(contenders)

    def result(c: Contender) -> OpenLoopResult:
        return OpenLoopResult(
            framework=c.framework,
            version=servers.version(c.framework),
            capacity_rps=stats.median([r.ops_per_second for r in c.rounds]),
            capacity_server_cpu_pct=stats.median([r.server_cpu_pct for r in c.rounds]),
            at={str(f): OpenWindow.of(r) for f, r in open_rounds[c.framework].items()},
        )

    setup = setup_record(
        workload,
        capacity=dataclasses.asdict(capacity),
        open_window_s=open_window_s,
        fractions=fractions,
        quick=quick(),
    )
    return Measurement(
        f"http_get_json_open_loop_c{connections}", setup, {c.framework: c.outcome(result) for c in contenders}
    )
