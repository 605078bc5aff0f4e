"""The cost to serve a fixed load (benchmarks/bench_fixed_load.py) for readers: per workload,
a table with the frameworks side by side at each offered rate, a chart of what the fixed
rate cost each server, and the same table in plain text for the terminal.

The results hold no offered rate of their own (asv tracks what grows when things get
worse); the rates are the fixed one named by its load label ("1000/s") and, for the
shares of the slowest framework, the fixed rate scaled by each framework's share of its
own capacity at both loads (track_share_of_capacity).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from harness import stats
from harness.report.formatting import escape as _e
from harness.report.formatting import number
from harness.report.results import BASELINE, BenchmarkCase, Run, usable
from harness.report.svg import color, nice_max

WORKLOADS = {
    "bench_fixed_load.FixedLoadEcho": "WebSocket echo of 32 B text on 100 connections",
    "bench_fixed_load.FixedLoadGetJson": "GET /json on 64 connections",
}
# (method, heading, scale, digits, suffix): the table's columns after the framework's name.
COLUMNS = (
    ("track_share_of_capacity", "of its capacity", 1, 0, " %"),
    ("track_server_cpu_per_1000_ops", "CPU ms / 1,000 ops", 1, 1, ""),
    ("track_rss", "RSS MiB", 1 / 2**20, 1, ""),
    ("track_peak_rss", "peak MiB", 1 / 2**20, 1, ""),
    ("track_latency_p50", "p50 ms", 1e3, 2, ""),
    ("track_latency_p90", "p90 ms", 1e3, 2, ""),
    ("track_latency_p99", "p99 ms", 1e3, 2, ""),
    ("track_latency_p999", "p99.9 ms", 1e3, 2, ""),
)
FIXED_LABEL = re.compile(r"^(\d+(?:\.\d+)?)/s$")


@dataclass(frozen=True)
class LoadGroup:
    """Every framework at one offered rate."""

    label: str  # "25%" (of the slowest framework's capacity) or the fixed rate, "1000/s"
    offered_rps: float | None
    values: Mapping[str, Mapping[str, float | None]]  # framework -> method -> value

    @property
    def fixed(self) -> bool:
        return FIXED_LABEL.match(self.label) is not None

    @property
    def heading(self) -> str:
        rate = f"{self.offered_rps:,.0f}/s" if self.offered_rps else "rate unknown"
        return f"fixed rate: {rate}" if self.fixed else f"{self.label} of the slowest's capacity: {rate}"


@dataclass(frozen=True)
class FixedLoadTable:
    cls: str
    title: str
    frameworks: tuple[str, ...]
    slowest: str | None
    groups: tuple[LoadGroup, ...]

    @property
    def fixed_group(self) -> LoadGroup | None:
        return next((g for g in self.groups if g.fixed), None)


def _offered_rates(labels: list[str], share: Mapping[str, Mapping[str, float | None]]) -> dict[str, float | None]:
    """label -> offered rate: the fixed label's own, the others through each framework's
    capacity (fixed rate / its share at the fixed rate), the median over frameworks."""
    fixed = next((label for label in labels if FIXED_LABEL.match(label)), None)
    rates: dict[str, float | None] = {label: None for label in labels}
    if fixed is None:
        return rates
    fixed_rps = float(FIXED_LABEL.match(fixed).group(1))
    rates[fixed] = fixed_rps
    for label in labels:
        if label == fixed:
            continue
        estimates = [
            shares[label] / shares[fixed] * fixed_rps
            for shares in share.values()
            if usable(shares.get(label)) and usable(shares.get(fixed)) and shares[fixed] > 0
        ]
        rates[label] = stats.median(estimates) if estimates else None
    return rates


def table(run: Run, cases: list[BenchmarkCase]) -> FixedLoadTable | None:
    """One fixed-load class's table from its cases (one per load), or None if not measured."""
    if not cases or not run.measured(cases[0], "track_server_cpu_per_1000_ops"):
        return None
    frameworks = tuple(dict.fromkeys(f for case in cases for f in case.frameworks))
    labels = [case.variant[0] for case in cases]
    by_label = {
        case.variant[0]: {f: {m: run.value(case, m, f) for m, *_ in COLUMNS} for f in frameworks} for case in cases
    }
    share = {f: {label: by_label[label][f]["track_share_of_capacity"] for label in labels} for f in frameworks}
    rates = _offered_rates(labels, share)
    first_share = next((label for label in labels if not FIXED_LABEL.match(label)), None)
    candidates = {f: v for f in frameworks if f != BASELINE and first_share and usable(v := share[f][first_share])}
    slowest = max(candidates, key=candidates.__getitem__) if candidates else None
    groups = tuple(LoadGroup(label, rates[label], by_label[label]) for label in labels)
    return FixedLoadTable(cases[0].cls, WORKLOADS.get(cases[0].cls, cases[0].cls), frameworks, slowest, groups)


def tables(run: Run, found: Mapping[str, BenchmarkCase]) -> list[FixedLoadTable]:
    out = []
    for cls in WORKLOADS:
        cases = [case for case in found.values() if case.cls == cls and len(case.variant) == 1]
        cases.sort(key=lambda case: (FIXED_LABEL.match(case.variant[0]) is not None, case.variant[0]))
        if (made := table(run, cases)) is not None:
            out.append(made)
    return out


def html_table(t: FixedLoadTable) -> str:
    head = "".join(f"<th>{_e(heading)}</th>" for _m, heading, *_ in COLUMNS)
    rows = [
        f'<table class="fixed-load" data-workload="{_e(t.cls)}"><thead><tr><th>framework</th>{head}</tr></thead><tbody>'
    ]
    for group in t.groups:
        rows.append(
            f'<tr class="load-head" data-load="{_e(group.label)}"><th colspan="{len(COLUMNS) + 1}">'
            f"{_e(group.heading)}</th></tr>"
        )
        for framework in t.frameworks:
            values = group.values[framework]
            cells = "".join(f"<td>{number(values[m], *fmt)}</td>" for m, _h, *fmt in COLUMNS)
            name = f"{_e(framework)} (slowest)" if framework == t.slowest else _e(framework)
            rows.append(
                f'<tr data-framework="{_e(framework)}" data-load="{_e(group.label)}"><td>{name}</td>{cells}</tr>'
            )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def chart(t: FixedLoadTable) -> str:
    """Horizontal bars: each server's CPU per 1,000 operations at the fixed rate (what
    serving the same load costs it), p99 and peak memory written beside."""
    group = t.fixed_group
    if group is None:
        return ""
    label_w, bar_w, note_w, row_h = 110, 330, 300, 24
    cpu = {f: group.values[f]["track_server_cpu_per_1000_ops"] for f in t.frameworks}
    top = nice_max(max((v for v in cpu.values() if usable(v)), default=1.0) * 1.05)
    height = 34 + row_h * len(t.frameworks) + 20
    width = label_w + bar_w + note_w
    parts = [
        f'<svg class="chart fixed-load" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'data-workload="{_e(t.cls)}" data-load="{_e(group.label)}">',
        f"<title>{_e(t.title)}: server CPU per 1,000 operations at {_e(group.heading)}</title>",
        f'<text x="0" y="14" class="chart-title">Server CPU per 1,000 operations, {_e(group.heading)}</text>',
    ]
    for i, framework in enumerate(t.frameworks):
        y = 28 + i * row_h
        value = cpu[framework]
        values = group.values[framework]
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(framework)}</text>')
        if not usable(value):
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}" class="missing">{_e(number(value))}</text>')
            continue
        w = max(1.0, bar_w * value / top)
        p99 = number(values["track_latency_p99"], 1e3, 2, " ms")
        peak = number(values["track_peak_rss"], 1 / 2**20, 0, " MiB")
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{color(framework)}" data-framework="{_e(framework)}" data-cpu-ms-per-1000="{value:.4g}">'
            f"<title>{_e(framework)}: {value:.1f} ms CPU per 1,000 ops, p99 {p99}, peak {peak}</title></rect>"
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="note">{value:.1f} ms · p99 {p99} · peak {peak}</text>'
        )
    axis_y = 28 + row_h * len(t.frameworks) + 14
    parts.append(f'<text x="{label_w}" y="{axis_y}" class="axis">0</text>')
    parts.append(f'<text x="{label_w + bar_w}" y="{axis_y}" text-anchor="end" class="axis">{top:g} ms</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def terminal_block(t: FixedLoadTable) -> list[str]:
    """The fixed rate's row per framework, for the summary at the end of a default run."""
    group = t.fixed_group
    if group is None:
        return []
    row = "    {:<11} {:>12} {:>16} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9}"
    lines = [
        f"  Cost at a fixed load: {t.title} ({t.cls}), {group.heading}:",
        row.format(
            "framework",
            "of capacity",
            "CPU ms/1000 ops",
            "RSS MiB",
            "peak MiB",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
        ),
    ]
    for framework in t.frameworks:
        v = group.values[framework]
        lines.append(
            row.format(
                framework,
                *(number(v[m], *fmt) for m, _h, *fmt in COLUMNS),
            )
        )
    return lines
