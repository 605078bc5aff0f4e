"""The reader's page, written next to asv's site after ``asv publish``.

``python -m harness.site [--results results] [--html html]`` reads asv's results and
writes ``html/frameworks.html``: (a) the frameworks side by side per workload at their
latest releases (the default environment, newest commit per machine) with the generator's
headroom and the server's saturation, and (b) each workload's trend across the releases
of each framework (the release environments of asv.releases.json). Plots are inline SVG,
made here, one SVG element per data point with data attributes, beside plain tables.

asv's own index.html loads jQuery, flot and bootstrap from public CDNs; with no outside
network (CI) it would show nothing. ``--fetch-assets`` (run by scripts/setup.sh) packs
those exact releases from the npm registry into .asv-assets/; each publish then copies
them to html/vendor/ and points index.html at them.
"""

from __future__ import annotations

import argparse
import ast
import html
import itertools
import json
import math
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.regressions import headline
from harness.stats import SATURATED_CPU_PCT
from servers.contract import DEFAULT_BACKEND_MS

ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = ROOT / ".asv-assets"
BASELINE = "baseline"
LATEST = "latest"

# asv 0.6.6's index.html CDN files (by the URL's last part) -> (npm package, file in its tarball).
# The same releases asv pins, except stupidtable 1.0.1, which npm does not have (1.1.3 is).
ASV_ASSETS = {
    "jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js"),
    "jquery.flot.selection.min.js": ("flot@0.8.3", "jquery.flot.selection.js"),
    "jquery.flot.categories.min.js": ("flot@0.8.3", "jquery.flot.categories.js"),
    "jquery.flot.orderBars.js": ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "stupidtable.min.js": ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "bootstrap.min.css": ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}
CDN_TAG = re.compile(r'(src|href)="https://[^"]*/([^"/]+)"((?:\s+integrity="[^"]*")?)')

COLORS = {"baseline": "#8c8c8c", "aiohttp": "#2166ac", "tornado": "#d95f02", "websockets": "#7570b3"}
PALETTE = ["#1b9e77", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]
MACHINE_DASH = ["", "6 3", "2 3", "8 3 2 3"]


@dataclass
class Run:
    """One asv results file: one commit in one environment on one machine."""

    machine: str
    commit: str
    date: int  # commit date, ms since the epoch
    started_at: int
    env: str
    pins: dict[str, str]  # framework -> pinned release; empty in the default (latest) environment
    values: dict[str, dict[tuple, float | None]]  # benchmark -> {params: value}; NaN n/a, None failed


@dataclass
class Workload:
    """A benchmark class, or one combination of its non-framework parameters."""

    name: str  # the class, e.g. bench_http.GetJson, plus any other parameters
    cls: str
    variant: tuple
    frameworks: list[str]


def _unquote(param: str) -> str:
    try:
        return str(ast.literal_eval(param))
    except (ValueError, SyntaxError):
        return param


def load_runs(results_dir: Path) -> list[Run]:
    """Every results file under ``results_dir/<machine>/``."""
    runs = []
    for path in sorted(results_dir.glob("*/*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        if "results" not in data or "result_columns" not in data:
            continue
        columns = data["result_columns"]
        values: dict[str, dict[tuple, float | None]] = {}
        started = 0
        for name, row in data["results"].items():
            column = dict(zip(columns, row, strict=False))
            params = [[_unquote(p) for p in axis] for axis in column.get("params") or []]
            combos = list(itertools.product(*params))
            result = column.get("result") or [None] * len(combos)
            values[name] = dict(zip(combos, result, strict=False))
            started = max(started, column.get("started_at") or 0)
        requirements = data.get("requirements") or {}
        runs.append(
            Run(
                machine=data["params"].get("machine", path.parent.name),
                commit=data["commit_hash"],
                date=data.get("date") or 0,
                started_at=started,
                env=data.get("env_name", ""),
                pins={k: v for k, v in requirements.items() if v},
                values=values,
            )
        )
    return runs


def workloads(runs: list[Run]) -> dict[str, Workload]:
    """Benchmark classes found in the results, split by their non-framework parameters."""
    found: dict[str, Workload] = {}
    for run in runs:
        for name, by_params in run.values.items():
            cls = name.rsplit(".", 1)[0]
            for combo in by_params:
                axis = _framework_axis(by_params)
                variant = tuple(v for i, v in enumerate(combo) if i != axis)
                label = cls + "".join(f" · {v}" for v in variant)
                workload = found.setdefault(label, Workload(label, cls, variant, []))
                if combo[axis] not in workload.frameworks:
                    workload.frameworks.append(combo[axis])
    return dict(sorted(found.items()))


def _framework_axis(by_params: dict[tuple, float | None]) -> int:
    """The parameter axis naming frameworks: the one holding the baseline (else the first)."""
    for combo in by_params:
        if BASELINE in combo:
            return combo.index(BASELINE)
    return 0


def value(run: Run, workload: Workload, method: str, framework: str) -> float | None:
    """A tracked value; NaN when n/a (skipped, or absent from this run), None when it failed."""
    by_params = run.values.get(f"{workload.cls}.{method}")
    if not by_params:
        return math.nan
    axis = _framework_axis(by_params)
    combo = list(workload.variant)
    combo.insert(axis, framework)
    return by_params.get(tuple(combo), math.nan)


def _ok(v: float | None) -> bool:
    return v is not None and not math.isnan(v)


def latest_runs(runs: list[Run]) -> dict[str, Run]:
    """The default environment's newest commit per machine."""
    newest: dict[str, Run] = {}
    for run in runs:
        if run.pins:
            continue
        best = newest.get(run.machine)
        if best is None or (run.date, run.started_at) > (best.date, best.started_at):
            newest[run.machine] = run
    return dict(sorted(newest.items()))


def release_runs(runs: list[Run]) -> dict[tuple[str, str, str], Run]:
    """(machine, framework, release) -> the newest run of that release environment."""
    newest: dict[tuple[str, str, str], Run] = {}
    for run in runs:
        if len(run.pins) != 1:
            continue  # the default environment, or a cross product this suite never makes
        ((framework, release),) = run.pins.items()
        key = (run.machine, framework, release)
        best = newest.get(key)
        if best is None or (run.date, run.started_at) > (best.date, best.started_at):
            newest[key] = run
    return newest


def version_key(release: str) -> tuple:
    """Sorts 3.9.5 before 3.10.11 (numbers compared as numbers)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.\-+]", release))


# --- formatting -------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt_value(v: float | None, scale: float = 1.0, digits: int = 1, suffix: str = "") -> str:
    if v is None:
        return "failed"
    if math.isnan(v):
        return "n/a"
    return f"{v * scale:,.{digits}f}{suffix}"


def _color(framework: str) -> str:
    if framework in COLORS:
        return COLORS[framework]
    return PALETTE[sum(map(ord, framework)) % len(PALETTE)]


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def _nice_max(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= top:
            return step * magnitude
    return 10 * magnitude


# --- (a) side by side ---------------------------------------------------------------------


def side_by_side_svg(run: Run, workload: Workload) -> str:
    """Horizontal throughput bars (1 / time per op), one per framework, baseline first."""
    label_w, bar_w, note_w, row_h = 110, 330, 380, 26
    rows = []
    for framework in workload.frameworks:
        seconds = value(run, workload, "track_time_per_op", framework)
        rows.append((framework, seconds, 1 / seconds if _ok(seconds) and seconds > 0 else None))
    top = _nice_max(max((ops for _f, _s, ops in rows if ops), default=1.0))
    height = row_h * len(rows) + 24
    width = label_w + bar_w + note_w
    parts = [
        f'<svg class="chart side-by-side" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-workload="{_e(workload.name)}" data-machine="{_e(run.machine)}">',
        f"<title>{_e(workload.name)}: throughput at the latest releases on {_e(run.machine)}</title>",
    ]
    for i, (framework, seconds, ops) in enumerate(rows):
        y = i * row_h + 4
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="label">{_e(framework)}</text>')
        if ops is None:
            state = "failed" if seconds is None else "n/a"
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}" class="missing" data-framework="{_e(framework)}">')
            parts.append(f"{state}</text>")
            continue
        length = max(1.0, bar_w * ops / top)
        ratio = value(run, workload, "track_ratio_to_baseline", framework)
        cpu = value(run, workload, "track_server_cpu", framework)
        client_bound = _ok(cpu) and cpu < SATURATED_CPU_PCT
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y}" width="{length:.1f}" height="{row_h - 8}" '
            f'fill="{_color(framework)}" data-framework="{_e(framework)}" data-workload="{_e(workload.name)}" '
            f'data-machine="{_e(run.machine)}" data-ops-per-second="{ops:.6g}" data-ratio-to-baseline="{ratio}" '
            f'data-server-cpu="{cpu}" data-client-bound="{str(client_bound).lower()}">'
            f"<title>{_e(framework)}: {ops:,.0f} ops/s</title></rect>"
        )
        parts.append(f'<text x="{label_w + length + 4}" y="{y + 14}" class="value">{ops:,.0f}/s</text>')
        cpu_note = f"CPU {_fmt_value(cpu, digits=0, suffix='%')}"
        note = (
            f"generator ceiling · {cpu_note}"
            if framework == BASELINE
            else f"×{_fmt_value(ratio, digits=2)} baseline · {cpu_note}"
        )
        parts.append(f'<text x="{label_w + bar_w + 80}" y="{y + 14}" class="note">{_e(note)}')
        if client_bound:
            parts.append('<tspan class="client-bound" dx="6">⚠ client-bound</tspan>')
        parts.append("</text>")
    axis_y = row_h * len(rows) + 16
    parts.append(f'<text x="{label_w}" y="{axis_y}" class="axis">0</text>')
    parts.append(f'<text x="{label_w + bar_w}" y="{axis_y}" text-anchor="end" class="axis">{top:,.0f} ops/s</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def side_by_side_table(run: Run, workload: Workload) -> str:
    rows = [
        "<table><thead><tr><th>framework</th><th>ops/s</th><th>time per op</th><th>× baseline</th>"
        "<th>server CPU</th><th>generator CPU</th><th>p99 latency</th><th>bound by</th></tr></thead><tbody>"
    ]
    for framework in workload.frameworks:
        seconds = value(run, workload, "track_time_per_op", framework)
        cpu = value(run, workload, "track_server_cpu", framework)
        ops = f"{1 / seconds:,.0f}" if _ok(seconds) and seconds > 0 else _fmt_value(seconds)
        if not _ok(cpu):
            bound = ""
        elif cpu < SATURATED_CPU_PCT:
            bound = '<span class="client-bound">client</span>'
        else:
            bound = "server"
        rows.append(
            f"<tr><td>{_e(framework)}</td><td>{ops}</td>"
            f"<td>{_fmt_value(seconds, 1e6, 1, ' µs')}</td>"
            f"<td>{_fmt_value(value(run, workload, 'track_ratio_to_baseline', framework), digits=2)}</td>"
            f"<td>{_fmt_value(cpu, digits=0, suffix=' %')}</td>"
            f"<td>{_fmt_value(value(run, workload, 'track_generator_cpu', framework), digits=0, suffix=' %')}</td>"
            f"<td>{_fmt_value(value(run, workload, 'track_latency_p99', framework), 1e3, 2, ' ms')}</td>"
            f"<td>{bound}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


# --- (b) trends across releases -----------------------------------------------------------


def trend_svg(workload: Workload, framework: str, series: dict[str, dict[str, float | None]]) -> str:
    """Time per op (µs) against the framework's releases, one line per machine."""
    releases = sorted({r for points in series.values() for r in points}, key=version_key)
    width, height, left, right, top_pad, bottom = 320, 200, 52, 12, 24, 44
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    good = [v for points in series.values() for v in points.values() if _ok(v)]
    top = _nice_max(max(good, default=1e-6) * 1e6 * 1.05)

    def x_of(release: str) -> float:
        if len(releases) == 1:
            return left + plot_w / 2
        return left + plot_w * releases.index(release) / (len(releases) - 1)

    def y_of(seconds: float) -> float:
        return top_pad + plot_h * (1 - seconds * 1e6 / top)

    parts = [
        f'<svg class="chart trend" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'data-workload="{_e(workload.name)}" data-framework="{_e(framework)}">',
        f"<title>{_e(workload.name)}: {_e(framework)} time per op across releases</title>",
        f'<text x="{left + 10}" y="14" class="chart-title" fill="{_color(framework)}">{_e(framework)}</text>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" class="axis-line"/>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" class="axis-line"/>',
    ]
    for fraction in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - fraction)
        parts.append(f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" class="axis">{top * fraction:g}</text>')
    parts.append(f'<text x="{left - 4}" y="{top_pad - 8}" text-anchor="end" class="axis">µs/op</text>')
    for release in releases:
        x = x_of(release)
        parts.append(
            f'<text x="{x:.1f}" y="{top_pad + plot_h + 14}" text-anchor="end" class="axis" '
            f'transform="rotate(-30 {x:.1f} {top_pad + plot_h + 14})">{_e(release)}</text>'
        )
    for index, (machine, points) in enumerate(sorted(series.items())):
        dash = MACHINE_DASH[index % len(MACHINE_DASH)]
        line = [f"{x_of(r):.1f},{y_of(v):.1f}" for r in releases if _ok(v := points.get(r, math.nan))]
        if len(line) > 1:
            parts.append(
                f'<polyline points="{" ".join(line)}" fill="none" stroke="{_color(framework)}" '
                f'stroke-width="1.5" stroke-dasharray="{dash}"/>'
            )
        for release in releases:
            v = points.get(release, math.nan)
            if not _ok(v):
                continue
            parts.append(
                f'<circle class="point" cx="{x_of(release):.1f}" cy="{y_of(v):.1f}" r="3.5" '
                f'fill="{_color(framework)}" data-workload="{_e(workload.name)}" data-framework="{_e(framework)}" '
                f'data-release="{_e(release)}" data-machine="{_e(machine)}" data-seconds-per-op="{v:.6g}">'
                f"<title>{_e(framework)} {_e(release)} on {_e(machine)}: {v * 1e6:.1f} µs/op</title></circle>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def trend_table(workload: Workload, framework: str, releases: dict[tuple[str, str, str], Run]) -> str:
    rows = [
        "<table><thead><tr><th>release</th><th>machine</th><th>time per op</th><th>× baseline</th>"
        "<th>server CPU</th><th>commit</th></tr></thead><tbody>"
    ]
    keys = sorted((k for k in releases if k[1] == framework), key=lambda k: (version_key(k[2]), k[0]))
    for machine, _framework, release in keys:
        run = releases[(machine, framework, release)]
        rows.append(
            f"<tr><td>{_e(release)}</td><td>{_e(machine)}</td>"
            f"<td>{_fmt_value(value(run, workload, 'track_time_per_op', framework), 1e6, 1, ' µs')}</td>"
            f"<td>{_fmt_value(value(run, workload, 'track_ratio_to_baseline', framework), digits=2)}</td>"
            f"<td>{_fmt_value(value(run, workload, 'track_server_cpu', framework), digits=0, suffix=' %')}</td>"
            f"<td><code>{_e(run.commit[:8])}</code></td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


# --- the page -----------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0 auto;
       max-width: 1080px; padding: 1em 1.5em 3em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { margin: 1.6em 0 .3em; font-size: 1.1em; } h3 small, .meta { color: #666; font-weight: normal; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg text { font: 12px system-ui, sans-serif; fill: #333; } svg .axis { fill: #777; font-size: 11px; }
svg .note { fill: #555; } svg .missing { fill: #999; font-style: italic; }
svg .chart-title { font-weight: bold; font-size: 13px; } .axis-line { stroke: #bbb; }
.client-bound { color: #b35900; fill: #b35900; font-weight: bold; }
.trends { display: flex; flex-wrap: wrap; gap: 12px 28px; } .trend-box { flex: 0 0 auto; }
.trend-box table { font-size: 12px; } .trend-box th, .trend-box td { padding: 2px 6px; }
.empty { background: #fff8e5; border: 1px solid #f0d98c; padding: .6em 1em; }
nav a { margin-right: 1em; }
"""


def render(runs: list[Run]) -> str:
    found = workloads(runs)
    latest = latest_runs(runs)
    releases = release_runs(runs)
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Frameworks side by side and across releases</title>',
        f"<style>{CSS}</style></head><body>",
        '<nav><a href="index.html">← asv graphs</a><a href="#side-by-side">Side by side</a>'
        '<a href="#releases">Across releases</a></nav>',
        "<h1>Frameworks side by side and across releases</h1>",
        '<p class="meta">Throughput is 1 / time per op (larger is better). The baseline is a bare asyncio '
        "server: its bar is the load generator's ceiling, and × baseline is how many times slower a framework "
        f"is in the same rounds. A server below {SATURATED_CPU_PCT:.0f} % of its core was not the bottleneck: its "
        f'figure is marked <span class="client-bound">⚠ client-bound</span>. {CLIENT_BOUND_MEANS} n/a: the '
        "framework lacks the endpoint or is not installed there; failed: the measurement failed (see asv's log).</p>",
        '<h2 id="side-by-side">Side by side at the latest releases</h2>',
    ]
    if not latest:
        out.append('<p class="empty">No results from the default environment (latest releases) yet.</p>')
    for machine, run in latest.items():
        out.append(
            f'<section class="machine" data-machine="{_e(machine)}"><h3>Machine <code>{_e(machine)}</code> '
            f"<small>commit <code>{_e(run.commit[:8])}</code> of {_date(run.date)}</small></h3>"
        )
        for workload in found.values():
            if not any(f"{workload.cls}.track_time_per_op" == name for name in run.values):
                continue
            out.append(f'<h3 class="workload">{_e(workload.name)} <small>on {_e(machine)}</small></h3>')
            out.append(side_by_side_svg(run, workload))
            out.append(side_by_side_table(run, workload))
        out.append("</section>")

    out.append('<h2 id="releases">Across releases</h2>')
    if not releases:
        out.append(
            '<p class="empty" id="no-releases">No release environments have results yet: run the release '
            "history (asv.releases.json, one environment per framework release) and publish again.</p>"
        )
    else:
        out.append(
            '<p class="meta">Time per op (µs, lower is better) of each framework at each of its releases, '
            "newest commit of each release environment; one line per machine (dashed: further machines).</p>"
        )
    frameworks_with_releases = sorted({framework for _m, framework, _r in releases})
    for workload in found.values() if releases else []:
        out.append(f'<h3 class="workload">{_e(workload.name)}</h3><div class="trends">')
        for framework in frameworks_with_releases:
            if framework not in workload.frameworks:
                continue
            series: dict[str, dict[str, float | None]] = {}
            for (machine, fw, release), run in releases.items():
                if fw == framework:
                    series.setdefault(machine, {})[release] = value(run, workload, "track_time_per_op", framework)
            out.append('<div class="trend-box">')
            out.append(trend_svg(workload, framework, series))
            out.append(trend_table(workload, framework, releases))
            out.append("</div>")
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


CLIENT_BOUND_MEANS = (
    "A client-bound figure is a lower bound for that server: at one connection it waits on each round trip, "
    f"in Uncached on the {DEFAULT_BACKEND_MS:.0f} ms backend, elsewhere on the load generator."
)
SUMMARY_HEADER = ("workload", "framework", "ops/s", "x baseline", "server CPU", "generator CPU", "bound by")
SUMMARY_ROW = "  {:<34} {:<11} {:>9} {:>10} {:>10} {:>13}  {}"


def summary(runs: list[Run], headline_classes: list[str]) -> str:
    """The default run's figures in words, for the terminal: per machine, the headline
    workloads' throughput, × baseline (the generator's headroom) and server CPU, and every
    framework figure, headline or not, whose server was not saturated."""
    found = workloads(runs)
    lines = []
    for machine, run in latest_runs(runs).items():
        lines.append(f"Machine {machine}, commit {run.commit[:8]} (latest releases):")
        lines.append(SUMMARY_ROW.format(*SUMMARY_HEADER))
        client_bound = []
        for workload in found.values():
            if f"{workload.cls}.track_time_per_op" not in run.values:
                continue
            for framework in workload.frameworks:
                seconds = value(run, workload, "track_time_per_op", framework)
                cpu = value(run, workload, "track_server_cpu", framework)
                bound = "" if not _ok(cpu) else "server" if cpu >= SATURATED_CPU_PCT else "client"
                if bound == "client" and framework != BASELINE:
                    client_bound.append(f"{workload.name} [{framework}] {cpu:.0f} %")
                if workload.cls not in headline_classes:
                    continue
                ops = f"{1 / seconds:,.0f}" if _ok(seconds) and seconds > 0 else _fmt_value(seconds)
                ratio = _fmt_value(value(run, workload, "track_ratio_to_baseline", framework), digits=2)
                cpu_text = _fmt_value(cpu, digits=0, suffix=" %")
                generator = _fmt_value(value(run, workload, "track_generator_cpu", framework), digits=0, suffix=" %")
                lines.append(SUMMARY_ROW.format(workload.name, framework, ops, ratio, cpu_text, generator, bound))
        lines.append(
            "  The baseline row is the load generator's ceiling; x baseline is the headroom over each framework."
        )
        if client_bound:
            lines.append(f"  Client-bound framework figures (server below {SATURATED_CPU_PCT:.0f} % CPU):")
            lines.extend(f"    {item}" for item in client_bound)
            lines.append(f"  {CLIENT_BOUND_MEANS}")
        else:
            lines.append(f"  Every framework figure with a CPU reading was server-bound (>= {SATURATED_CPU_PCT:.0f} %)")
    return "\n".join(lines) if lines else "No results from the default environment (latest releases) yet."


NAV_LINK = '<li id="nav-li-frameworks"><a href="frameworks.html">Frameworks &amp; releases</a></li>'


def link_from_index(index: Path) -> None:
    """Add a nav link to frameworks.html in asv's index.html, once."""
    text = index.read_text()
    if 'id="nav-li-frameworks"' in text:
        return
    anchor = '<li id="nav-li-regressions">'
    if anchor not in text:
        raise RuntimeError(f"{index}: asv's navigation changed; cannot find {anchor}")
    index.write_text(text.replace(anchor, NAV_LINK + "\n\t" + anchor, 1))


def vendor_assets(html_dir: Path, assets_dir: Path = ASSETS_DIR) -> bool:
    """Serve asv's CDN scripts from html/vendor/ (copies from ``assets_dir``). False if absent."""
    index = html_dir / "index.html"
    text = index.read_text()
    wanted = {name for _attr, name, _integrity in CDN_TAG.findall(text) if name in ASV_ASSETS}
    if not all((assets_dir / name).is_file() for name in wanted):
        return False
    (html_dir / "vendor").mkdir(exist_ok=True)
    for name in wanted:
        shutil.copyfile(assets_dir / name, html_dir / "vendor" / name)

    def local(match: re.Match) -> str:
        attr, name, _integrity = match.groups()
        return f'{attr}="vendor/{name}"' if name in ASV_ASSETS else match.group(0)

    index.write_text(CDN_TAG.sub(local, text))
    return True


def fetch_assets(assets_dir: Path = ASSETS_DIR) -> None:
    """Pack asv's web libraries from the npm registry into ``assets_dir`` (once)."""
    if all((assets_dir / name).is_file() for name in ASV_ASSETS):
        return
    assets_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        packages = sorted({package for package, _file in ASV_ASSETS.values()})
        subprocess.run(["npm", "pack", "--silent", *packages], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        for name, (package, member) in ASV_ASSETS.items():
            base, version = package.rsplit("@", 1)
            with tarfile.open(Path(tmp) / f"{base}-{version}.tgz") as tar:
                source = tar.extractfile(f"package/{member}")
                if source is None:
                    raise RuntimeError(f"{package} has no {member}")
                (assets_dir / name).write_bytes(source.read())


def build(results_dir: Path, html_dir: Path, assets_dir: Path = ASSETS_DIR) -> Path:
    """Write html/frameworks.html, link it from asv's index.html, vendor asv's scripts."""
    page = html_dir / "frameworks.html"
    page.write_text(render(load_runs(results_dir)))
    link_from_index(html_dir / "index.html")
    if not vendor_assets(html_dir, assets_dir):
        print(
            f"site: {assets_dir} lacks asv's web libraries (scripts/setup.sh fetches them); "
            "index.html keeps loading them from public CDNs",
            file=sys.stderr,
        )
    return page


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="asv's results_dir")
    parser.add_argument("--html", type=Path, default=Path("html"), help="asv's html_dir, after asv publish")
    parser.add_argument("--assets", type=Path, default=ASSETS_DIR, help="local copies of asv's web libraries")
    parser.add_argument("--fetch-assets", action="store_true", help="only fetch those libraries with npm")
    args = parser.parse_args(argv)
    if args.fetch_assets:
        fetch_assets(args.assets)
        return
    page = build(args.results, args.html, args.assets)
    print(summary(load_runs(args.results), headline()))
    print(f"site: wrote {page}")


if __name__ == "__main__":
    main()
