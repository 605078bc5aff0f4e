"""What a measurement returns: per framework (or other key) a result, a skip with its
reason, or a failure with its cause, inside one Measurement record that benchmarks read.

These cross from the measuring code to asv (setup_cache pickles them), so they are plain
frozen dataclasses; every experiment's result type is one too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from harness import stats

Result = TypeVar("Result")


@dataclass(frozen=True)
class Skipped:
    """This framework cannot run this workload here (asv shows n/a)."""

    reason: str


@dataclass(frozen=True)
class Failed:
    """The measurement failed; the cause names what went wrong (asv shows a failure)."""

    cause: str


class NotMeasured(Exception):
    """Asked for a result that was skipped or failed; ``outcome`` says which."""

    def __init__(self, key: object, outcome: Skipped | Failed) -> None:
        self.outcome = outcome
        text = outcome.reason if isinstance(outcome, Skipped) else outcome.cause
        super().__init__(f"{key}: {text}")


@dataclass(frozen=True)
class Measurement(Generic[Result]):
    """One experiment's record: its name, how it was set up, and an outcome per key
    (a framework, or a tuple such as (framework, connections))."""

    name: str
    setup: dict[str, Any]
    outcomes: dict[Any, Result | Skipped | Failed] = field(default_factory=dict)

    def result(self, key: object) -> Result:
        """The result for ``key``; NotMeasured if it was skipped or failed."""
        outcome = self.outcomes[key]
        if isinstance(outcome, Skipped | Failed):
            raise NotMeasured(key, outcome)
        return outcome

    def failures(self) -> dict[Any, Failed]:
        return {key: o for key, o in self.outcomes.items() if isinstance(o, Failed)}


@dataclass(frozen=True)
class Summary:
    """A closed-loop comparison's statistics for one framework, over its rounds."""

    framework: str
    version: str
    rounds: int
    ops: int
    seconds_per_op: float  # median over rounds of wall time per verified op
    iqr_pct: float  # interquartile range of the rounds' time per op, % of the median
    ops_per_second: float
    server_cpu_pct: float  # median over rounds, % of one core
    client_cpu_pct: float  # the generator's, % of its cores
    latency_p50_s: float
    latency_p99_s: float
    latency_p999_s: float
    connect_s: float
    # Connections that negotiated permessage-deflate, out of those opened (by the
    # generator before the rounds, or inside them for fixed jobs like the article's).
    deflate_connections: int
    ratio_to_baseline: float | None  # None when the baseline did not complete
    response_bytes: float | None = None  # per response on the wire, head and body (HTTP only)
    server_cpus: int = 1  # the CPUs its processes were pinned to: saturation is per CPU
    tls: str | None = None  # over TLS, what the connections negotiated: "TLSv1.3 TLS_AES_256_GCM_SHA384"

    @property
    def client_bound(self) -> bool:
        return bool(stats.client_bound(self.server_cpu_pct / max(1, self.server_cpus)))
