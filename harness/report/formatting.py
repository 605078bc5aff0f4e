"""How the reports write values for readers: numbers, n/a and failed, what bound a figure, dates."""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone

from harness.report.results import throughput
from harness.stats import client_bound
from servers.contract import DEFAULT_BACKEND_MS

CLIENT_BOUND_MEANS = (
    "A client-bound figure is a lower bound for that server: at one connection it waits on each round trip, "
    f"in Uncached on the {DEFAULT_BACKEND_MS:.0f} ms backend, elsewhere on the load generator."
)


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def number(value: float | None, scale: float = 1.0, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "failed"
    if math.isnan(value):
        return "n/a"
    return f"{value * scale:,.{digits}f}{suffix}"


def ops_per_second(seconds_per_op: float | None) -> str:
    ops = throughput(seconds_per_op)
    return number(seconds_per_op) if ops is None else f"{ops:,.0f}"


def bound_by(server_cpu_pct: float | None) -> str:
    """'client' or 'server', or '' without a CPU reading."""
    bound = client_bound(server_cpu_pct)
    return "" if bound is None else "client" if bound else "server"


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
