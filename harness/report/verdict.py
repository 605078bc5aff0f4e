"""The verdict: which framework is faster for a workload, and by how much, on one screen.

A row per workload family, a column per framework, each cell the framework's figure relative
to a reference framework's in the same run (aiohttp unless the reader picks another): its
throughput over the reference's (for memory, the reference's bytes per connection over the
framework's), so above 1 is better; beside it its instructions per operation over the
reference's (the cost family, larger is costlier); the range of the ratio over the
machine's recent runs; and a mark where either figure was client-bound (the ratio is then a
bound, not a measurement of the server). Same-run ratios because the host's speed drifts
between runs (README, "Why the numbers can be trusted").

Records only: frameworks.html (harness/report/page.py) and the terminal summary
(harness/report/summary.py) draw them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.report.formatting import escape as _e
from harness.report.results import BenchmarkCase, Run, case_of, usable
from harness.stats import SATURATED_CPU_PCT, client_bound
from servers import FRAMEWORKS_UNDER_TEST

REFERENCE = "aiohttp"
RECENT_RUNS = 5  # the range is taken over this machine's last runs of the default environment
HEADLINE_COST = "bench_cost.HeadlineCost"
WORKLOAD_COST = "bench_cost.WorkloadCost"


@dataclass(frozen=True)
class Family:
    """One row: the benchmark (as harness.report.results.workloads names it) that stands for a
    workload family, the figure read from it, and the cost case that replays its operation."""

    key: str  # for links and tests
    title: str
    workload: str
    cost: tuple[str, str] | None  # (cost class, case), or None: no instruction count
    metric: str = "track_time_per_op"  # smaller is better; the ratio is reference / framework
    quantity: str = "the throughput"  # what the ratio compares, for readers

    def cost_case(self) -> BenchmarkCase | None:
        if self.cost is None:
            return None
        return case_of(*self.cost)


# The families (issue 15), each by the benchmark that measures it at its heaviest
# ordinary load; tests/test_verdict.py holds every name to the benchmark classes and cost cases.
FAMILIES: tuple[Family, ...] = (
    Family("ws_echo_small", "WebSocket echo, 32 B", "bench_websocket.EchoText32B", (HEADLINE_COST, "ws_echo_text_32B")),
    Family(
        "ws_echo_large",
        "WebSocket echo, 64 KiB",
        "bench_websocket.EchoGrid · 65536 · 100 · text",
        (WORKLOAD_COST, "ws_echo_text_64KiB"),
    ),
    Family("ws_handshake", "WebSocket handshakes", "bench_websocket.Handshakes", (WORKLOAD_COST, "ws_handshake")),
    Family(
        "ws_broadcast",
        "Broadcast to 100",
        "bench_websocket.Broadcast · 100",
        (WORKLOAD_COST, "ws_broadcast_32B_to_100"),
    ),
    Family(
        "ws_memory",
        "Memory per connection",
        "bench_websocket.MemoryPerIdleConnection · 5000",
        None,
        metric="track_bytes_per_connection",
        quantity="the connections per MB",
    ),
    Family("http_get", "GET /json", "bench_http.GetJson", (HEADLINE_COST, "http_get_json")),
    Family(
        "http_post_small",
        "JSON POST, 1 KB",
        "bench_http.PostJsonEcho · 1KB · stdlib",
        (WORKLOAD_COST, "http_post_json_echo_1KB"),
    ),
    Family(
        "http_post_large",
        "JSON POST, 1 MB (orjson)",
        # orjson: with the stdlib's codec a 1 MB body is nearly all json module, the same for every
        # framework (and the cost family no longer measures it: harness/cost/cases.py).
        "bench_http.PostJsonEcho · 1MB · orjson",
        (WORKLOAD_COST, "http_post_json_echo_1MB_orjson"),
    ),
    Family("cache_hit", "Cache hit (memory)", "bench_cache.CacheHitMemory", (WORKLOAD_COST, "http_get_cache_memory")),
    Family("etag", "ETag, 304", "bench_cache.EtagNotModified", (WORKLOAD_COST, "http_get_cache_etag_304")),
)


@dataclass(frozen=True)
class Cell:
    """One framework on one family, against the reference (None: no figure to compare)."""

    framework: str
    ratio: float | None  # the framework's throughput over the reference's; above 1 is better
    instructions_ratio: float | None  # its instructions per op over the reference's; below 1 is cheaper
    low: float | None  # the ratio's range over the machine's recent runs (None with one run)
    high: float | None
    client_bound: bool  # the framework's or the reference's server was below SATURATED_CPU_PCT
    why: str  # why there is no ratio: "n/a" or "failed", or "" when there is one


@dataclass(frozen=True)
class Row:
    family: Family
    workload: BenchmarkCase
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Verdict:
    machine: str
    commit: str
    reference: str
    runs: int  # how many runs the ranges are taken over
    rows: tuple[Row, ...]  # only the families this machine's latest run measured
    frameworks: tuple[str, ...]


def _ratio(reference: float | None, framework: float | None) -> float | None:
    if not (usable(reference) and usable(framework)) or reference <= 0 or framework <= 0:
        return None
    return reference / framework


def _why(value: float | None) -> str:
    return "failed" if value is None else "n/a"


def cell(runs: Sequence[Run], family: Family, workload: BenchmarkCase, framework: str, reference: str) -> Cell:
    """The cell of ``framework`` from ``runs`` (newest first: the first is the one shown)."""
    run = runs[0]
    mine = run.value(workload, family.metric, framework)
    ratio = _ratio(run.value(workload, family.metric, reference), mine)
    theirs = run.value(workload, family.metric, reference)
    why = "" if ratio is not None else _why(mine) if not usable(mine) else f"{reference} {_why(theirs)}"
    cost = family.cost_case()
    instructions = None
    if cost is not None:  # the framework's over the reference's: the ratio the other way round
        count = "track_instructions_per_op"
        instructions = _ratio(run.value(cost, count, framework), run.value(cost, count, reference))
    bound = family.metric == "track_time_per_op" and any(
        client_bound(run.value(workload, "track_server_cpu", name)) for name in (framework, reference)
    )
    history = [r for r in runs if r.measured(workload, family.metric)]
    ratios = [
        x
        for r in history
        if (x := _ratio(r.value(workload, family.metric, reference), r.value(workload, family.metric, framework)))
    ]
    low, high = (min(ratios), max(ratios)) if len(ratios) > 1 else (None, None)
    return Cell(framework, ratio, instructions, low, high, bound, why)


def verdict(runs: Sequence[Run], found: Mapping[str, BenchmarkCase], reference: str = REFERENCE) -> Verdict | None:
    """The verdict from one machine's default-environment ``runs``, newest first; None without runs."""
    if not runs:
        return None
    recent = list(runs[:RECENT_RUNS])
    frameworks = tuple(f for f in FRAMEWORKS_UNDER_TEST if any(f in w.frameworks for w in found.values()))
    rows = []
    for family in FAMILIES:
        workload = found.get(family.workload)
        if workload is None or not recent[0].measured(workload, family.metric):
            continue
        rows.append(Row(family, workload, tuple(cell(recent, family, workload, f, reference) for f in frameworks)))
    return Verdict(recent[0].machine, recent[0].commit, reference, len(recent), tuple(rows), frameworks)


def default_runs(runs: Sequence[Run], machine: str) -> list[Run]:
    """``machine``'s runs of the default environment, newest first."""
    return sorted((r for r in runs if r.machine == machine and not r.pins), key=lambda r: r.recency, reverse=True)


def slug(text: str) -> str:
    """An HTML id from a workload's or machine's name."""
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


def detail_id(machine: str, workload: BenchmarkCase) -> str:
    """The id of a workload's detail on frameworks.html (its side-by-side heading)."""
    return f"w-{slug(machine)}-{slug(workload.name)}"


def ratio_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def colour(ratio: float | None) -> str:
    """A background from red (slower than the reference) through white to green (faster): the
    hue's strength follows log2 of the ratio, full at 4× either way."""
    if ratio is None:
        return "#f4f4f4"
    strength = min(abs(math.log2(ratio)) / 2, 1.0)
    hue = 130 if ratio >= 1 else 5
    return f"hsl({hue}, 60%, {97 - 30 * strength:.0f}%)"


def html_table(v: Verdict, hidden: bool = False) -> str:
    """The verdict as an HTML table; each cell links to its workload's detail."""
    head = "".join(f"<th>{_e(f)}{' (ref.)' if f == v.reference else ''}</th>" for f in v.frameworks)
    out = [
        f'<table class="verdict" data-machine="{_e(v.machine)}" data-reference="{_e(v.reference)}"'
        f"{' hidden' if hidden else ''}><thead><tr><th>workload</th>{head}</tr></thead><tbody>"
    ]
    for row in v.rows:
        target = detail_id(v.machine, row.workload)
        cells = []
        for c in row.cells:
            mark = ' <span class="bound-mark" title="client-bound">⚠</span>' if c.client_bound else ""
            spread = f"{c.low:.2f}–{c.high:.2f}" if c.low is not None else ""
            instr = f"instr {ratio_text(c.instructions_ratio)}" if c.instructions_ratio is not None else ""
            main = ratio_text(c.ratio) if c.ratio is not None else c.why
            title = (
                f"{c.framework} on {row.family.title}: "
                + (f"{main} {row.family.quantity} of {v.reference}" if c.ratio is not None else main)
                + (f" (runs: {spread})" if spread else "")
                + (f"; {instr} per op" if instr else "")
            )
            cells.append(
                f'<td class="cell" data-framework="{_e(c.framework)}" style="background:{colour(c.ratio)}" '
                f'title="{_e(title)}"><a href="#{target}"><b>{_e(main)}</b>{mark}'
                f"<small>{_e(spread)}</small><small>{_e(instr)}</small></a></td>"
            )
        out.append(
            f'<tr data-family="{row.family.key}"><th><a href="#{target}">{_e(row.family.title)}</a></th>'
            + "".join(cells)
            + "</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def terminal_block(v: Verdict) -> list[str]:
    """The verdict in plain text: ratios only, '!' where client-bound."""
    width = max(len(f) for f in v.frameworks) + 1
    lines = [
        f"  Verdict: throughput relative to {v.reference} in the same run (above 1 is faster; memory: fewer bytes),"
        f" '!' where client-bound:",
        "    " + f"{'workload':<24}" + "".join(f"{f:>{width}}" for f in v.frameworks),
    ]
    for row in v.rows:
        values = [
            (f"{c.ratio:.2f}" if c.ratio is not None else c.why.split()[-1]) + ("!" if c.client_bound else "")
            for c in row.cells
        ]
        lines.append("    " + f"{row.family.title:<24}" + "".join(f"{x:>{width}}" for x in values))
    return lines


MEANING = (
    "Each cell: the framework's throughput over {reference}'s in the same run (above 1: faster; for memory, "
    "fewer bytes per connection), coloured green when faster and red when slower; under it {range} and the "
    "instructions per operation over {reference}'s (below 1: cheaper). "
    f"⚠: a server below {SATURATED_CPU_PCT:.0f} % CPU, so the ratio is a bound, not the server's figure. "
    "A cell opens the workload's detail below."
)


def meaning(v: Verdict) -> str:
    """What a cell says, for the page."""
    spread = (
        f"the ratio's range over this machine's last {v.runs} runs"
        if v.runs > 1
        else f"the ratio's range over this machine's recent runs (up to {RECENT_RUNS}; it has one so far)"
    )
    return MEANING.format(reference="the reference", range=spread)
