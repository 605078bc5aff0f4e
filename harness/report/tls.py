"""The cost of TLS (benchmarks/bench_tls.py, bench_cost.TlsCost) for readers: per workload,
each framework's throughput plain and over TLS from the same rounds, their ratio (TLS time
per op over plain: how much longer an operation takes), what bounded each figure, and the
instructions per operation plain and over TLS, which the host cannot move."""

from __future__ import annotations

from dataclasses import dataclass

from harness.report.formatting import bound_by, number
from harness.report.formatting import escape as _e
from harness.report.results import Run, case_of, throughput, usable

# wall-clock class -> (title, plain cost (class, case), TLS cost case of bench_cost.TlsCost)
WORKLOADS = {
    "bench_tls.EchoTLS": (
        "WebSocket echo of 32 B text on 100 connections",
        ("bench_cost.HeadlineCost", "ws_echo_text_32B"),
        "ws_echo_text_32B_tls",
    ),
    "bench_tls.HandshakesTLS": (
        "WebSocket open and close, 10 at a time (over TLS: a full handshake each)",
        ("bench_cost.WorkloadCost", "ws_handshake"),
        "ws_handshake_tls",
    ),
    "bench_tls.GetJsonTLS": (
        "GET /json on 64 connections",
        ("bench_cost.HeadlineCost", "http_get_json"),
        "http_get_json_tls",
    ),
}
TLS_COST_CLASS = "bench_cost.TlsCost"


@dataclass(frozen=True)
class Row:
    framework: str
    plain_per_s: float | None
    tls_per_s: float | None
    time_ratio: float | None  # TLS time per op / plain, same rounds
    plain_bound: str  # "server", "client" or ""
    tls_bound: str
    plain_instructions: float | None  # NaN n/a, None failed
    tls_instructions: float | None

    @property
    def instruction_ratio(self) -> float | None:
        if usable(self.plain_instructions) and usable(self.tls_instructions) and self.plain_instructions:
            return self.tls_instructions / self.plain_instructions
        return None


@dataclass(frozen=True)
class TlsTable:
    cls: str
    title: str
    rows: tuple[Row, ...]


def table(run: Run, cls: str) -> TlsTable | None:
    """One class's table from the latest run, or None if it was not measured there."""
    plain, over_tls = case_of(cls, "plain"), case_of(cls, "tls")
    if not run.measured(over_tls):
        return None
    title, (plain_cost_cls, plain_case), tls_case = WORKLOADS[cls]
    by_params = run.values.get(f"{cls}.track_time_per_op", {})
    frameworks = list(dict.fromkeys(combo[0] for combo in by_params))
    rows = []
    for framework in frameworks:
        plain_s = run.value(plain, "track_time_per_op", framework)
        tls_s = run.value(over_tls, "track_time_per_op", framework)
        if not usable(plain_s) and not usable(tls_s):
            continue  # n/a on both (no such endpoint): left out, as elsewhere on the page
        rows.append(
            Row(
                framework,
                throughput(plain_s),
                throughput(tls_s),
                tls_s / plain_s if usable(plain_s) and usable(tls_s) and plain_s else None,
                bound_by(run.value(plain, "track_server_cpu", framework)),
                bound_by(run.value(over_tls, "track_server_cpu", framework)),
                run.value(case_of(plain_cost_cls, plain_case), "track_instructions_per_op", framework),
                run.value(case_of(TLS_COST_CLASS, tls_case), "track_instructions_per_op", framework),
            )
        )
    return TlsTable(cls, title, tuple(rows)) if rows else None


def tables(run: Run) -> list[TlsTable]:
    return [t for cls in WORKLOADS if (t := table(run, cls)) is not None]


def _rate(value: float | None, bound: str) -> str:
    mark = ' <span class="bound-mark" title="client-bound: the server was not saturated">⚠</span>'
    return f"{number(value, digits=0)}/s{mark if bound == 'client' else ''}" if value else "n/a"


def html_table(t: TlsTable) -> str:
    rows = [
        f'<table class="tls" data-workload="{_e(t.cls)}"><thead><tr><th>framework</th><th>plain</th><th>TLS</th>'
        "<th>TLS time / plain</th><th>instr./op plain</th><th>instr./op TLS</th><th>TLS / plain</th></tr>"
        "</thead><tbody>"
    ]
    for r in t.rows:
        ratio = number(r.instruction_ratio, digits=2, suffix=" x") if r.instruction_ratio else "n/a"
        rows.append(
            f'<tr data-framework="{_e(r.framework)}"><td>{_e(r.framework)}</td>'
            f"<td>{_rate(r.plain_per_s, r.plain_bound)}</td><td>{_rate(r.tls_per_s, r.tls_bound)}</td>"
            f"<td>{number(r.time_ratio, digits=2, suffix=' x')}</td>"
            f"<td>{number(r.plain_instructions, digits=0)}</td><td>{number(r.tls_instructions, digits=0)}</td>"
            f"<td>{ratio}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def terminal_block(t: TlsTable) -> list[str]:
    """Per framework: plain and TLS throughput, their time ratio, instructions per op both ways."""
    lines = [f"  The cost of TLS: {t.title} ({t.cls}): plain -> TLS, same rounds; instructions per op:"]
    for r in t.rows:
        client = " (client-bound)" if "client" in (r.plain_bound, r.tls_bound) else ""
        instructions = f"{number(r.plain_instructions, digits=0)} -> {number(r.tls_instructions, digits=0)}" + (
            f" ({number(r.instruction_ratio, digits=2)}x)" if r.instruction_ratio else ""
        )
        lines.append(
            f"    {r.framework:<11} {number(r.plain_per_s, digits=0)}/s -> {number(r.tls_per_s, digits=0)}/s "
            f"= {number(r.time_ratio, digits=2)}x the time{client}; {instructions}"
        )
    return lines
