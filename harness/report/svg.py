"""The frameworks page's charts as inline SVG, one element per data point with data-* attributes."""

from __future__ import annotations

import math

from harness.report.formatting import escape as _e
from harness.report.formatting import number
from harness.report.ladder import Ladder, Rung, step_instructions, step_us
from harness.report.results import BASELINE, BenchmarkCase, Run, throughput, usable
from harness.stats import client_bound
from servers import release_key

COLORS = {
    "baseline": "#8c8c8c",
    "aiohttp": "#2166ac",
    "tornado": "#d95f02",
    "websockets": "#7570b3",
    # One each for the frameworks the ladder brought in: twelve bars side by side stay
    # readable only if no two frameworks share a color.
    "picows": "#1b9e77",
    "uvicorn": "#e7298a",
    "starlette": "#66a61e",
    "fastapi": "#a6761d",
    "litestar": "#e6ab02",
    "blacksheep": "#3b3b3b",
    "sanic": "#b2182b",
    "granian": "#17becf",
}
PALETTE = ["#1b9e77", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]  # for frameworks added later
MACHINE_DASH = ["", "6 3", "2 3", "8 3 2 3"]


def color(framework: str) -> str:
    if framework in COLORS:
        return COLORS[framework]
    return PALETTE[sum(map(ord, framework)) % len(PALETTE)]


def nice_max(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= top:
            return step * magnitude
    return 10 * magnitude


def side_by_side(run: Run, workload: BenchmarkCase) -> str:
    """Horizontal throughput bars (1 / time per op), one per framework, baseline first.

    The scale is the frameworks': the baseline (the generator's ceiling, often several times
    faster than any of them) would squash their bars into slivers, so a baseline past the
    scale's end is drawn to it, broken, with its figure written beside it."""
    label_w, bar_w, note_w, row_h = 110, 330, 380, 26
    rows = []
    for framework in workload.frameworks:
        seconds = run.value(workload, "track_time_per_op", framework)
        rows.append((framework, seconds, throughput(seconds)))
    measured = [ops for _f, _s, ops in rows if ops]
    frameworks_only = [ops for f, _s, ops in rows if ops and f != BASELINE]
    top = nice_max(max(frameworks_only or measured, default=1.0))
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
        off_scale = ops > top
        length = bar_w if off_scale else max(1.0, bar_w * ops / top)
        ratio = run.value(workload, "track_ratio_to_baseline", framework)
        cpu = run.value(workload, "track_server_cpu", framework)
        marked = client_bound(cpu) is True
        parts.append(
            f'<rect class="bar{" off-scale" if off_scale else ""}" x="{label_w}" y="{y}" width="{length:.1f}" '
            f'height="{row_h - 8}" '
            f'fill="{color(framework)}" data-framework="{_e(framework)}" data-workload="{_e(workload.name)}" '
            f'data-machine="{_e(run.machine)}" data-ops-per-second="{ops:.6g}" data-ratio-to-baseline="{ratio}" '
            f'data-server-cpu="{cpu}" data-client-bound="{str(marked).lower()}">'
            f"<title>{_e(framework)}: {ops:,.0f} ops/s</title></rect>"
        )
        if off_scale:  # two white strokes across the bar's end: it is cut, not this long
            cut = label_w + bar_w - 14
            parts.append(
                f'<path class="scale-break" d="M{cut},{y - 1} l5,{row_h - 6} M{cut + 5},{y - 1} l5,{row_h - 6}" '
                'stroke="#fff" stroke-width="2"/>'
            )
        beyond = " ▸" if off_scale else ""  # the axis says what it means (the note column starts 80 px on)
        parts.append(f'<text x="{label_w + length + 4}" y="{y + 14}" class="value">{ops:,.0f}/s{beyond}</text>')
        cpu_note = f"CPU {number(cpu, digits=0, suffix='%')}"
        note = (
            f"generator ceiling · {cpu_note}"
            if framework == BASELINE
            else f"×{number(ratio, digits=2)} baseline · {cpu_note}"
        )
        parts.append(f'<text x="{label_w + bar_w + 80}" y="{y + 14}" class="note">{_e(note)}')
        if marked:
            parts.append('<tspan class="client-bound" dx="6">⚠ client-bound</tspan>')
        parts.append("</text>")
    axis_y = row_h * len(rows) + 16
    parts.append(f'<text x="{label_w}" y="{axis_y}" class="axis">0</text>')
    cut = " (▸ beyond it: cut)" if any(ops and ops > top for _f, _s, ops in rows) else ""
    parts.append(
        f'<text x="{label_w + bar_w}" y="{axis_y}" text-anchor="end" class="axis">{top:,.0f} ops/s{cut}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _step_attr(value: float | None, scale: float) -> str:
    # A bar's step as data: a number, "failed" or "n/a" (the step is broken there).
    return number(value) if not usable(value) else f"{value * scale:.6g}"


def ladder(lad: Ladder) -> str:
    """Horizontal throughput bars up the ladder (bottom first), each annotated with what its
    layer adds over the rung below; then, past a divider, the frameworks beside the ladder."""
    label_w, bar_w, note_w, row_h, gap = 110, 330, 480, 26, 30
    rows: list[tuple[Rung, float]] = []  # each rung and the y of its row
    bottom = 4.0
    for index, rung in enumerate((*lad.rungs, *lad.beside)):
        if index == len(lad.rungs) and lad.rungs:
            bottom += gap  # room for the divider: the stacks beside are not steps of the ladder
        rows.append((rung, bottom))
        bottom += row_h
    top = nice_max(max((ops for rung, _y in rows if (ops := rung.ops_per_second)), default=1.0))
    height = int(bottom) + 20
    width = label_w + bar_w + note_w
    costliest = lad.costliest
    workload, machine = _e(lad.workload.name), _e(lad.machine)
    parts = [
        f'<svg class="chart ladder" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'data-workload="{workload}" data-machine="{machine}">',
        f"<title>{_e(lad.title)}: throughput up the ladder on {machine}</title>",
    ]
    if lad.rungs and lad.beside:
        divider_y = rows[len(lad.rungs)][1] - gap / 2 - 2
        parts.append(
            f'<line class="ladder-divider" x1="8" y1="{divider_y:.1f}" x2="{width - 8}" y2="{divider_y:.1f}" '
            'stroke="#bbb" stroke-dasharray="4 3"/>'
        )
        parts.append(f'<text x="{label_w}" y="{divider_y + 12:.1f}" class="divider-label">beside the ladder</text>')
    for rung, y in rows:
        framework, kind = _e(rung.framework), rung.kind
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="label">{framework}</text>')
        ops = rung.ops_per_second
        if ops is None:
            state = "failed" if rung.seconds_per_op is None else "n/a"
            parts.append(
                f'<text x="{label_w + 4}" y="{y + 15}" class="missing" data-framework="{framework}" '
                f'data-workload="{workload}" data-rung="{kind}">{state}</text>'
            )
        else:
            length = max(1.0, bar_w * ops / top)
            step = rung.step
            parts.append(
                f'<rect class="rung" x="{label_w}" y="{y}" width="{length:.1f}" height="{row_h - 8}" '
                f'fill="{color(rung.framework)}" data-framework="{framework}" data-workload="{workload}" '
                f'data-machine="{machine}" data-rung="{kind}" data-ops-per-second="{ops:.6g}" '
                f'data-instructions-per-op="{_step_attr(rung.instructions_per_op, 1)}" '
                f'data-step-us="{_step_attr(step.seconds_per_op, 1e6) if step else ""}" '
                f'data-step-instructions="{_step_attr(step.instructions_per_op, 1) if step else ""}" '
                f'data-costliest="{str(rung is costliest).lower()}">'
                f"<title>{framework}: {ops:,.0f} ops/s</title></rect>"
            )
            parts.append(f'<text x="{label_w + length + 4}" y="{y + 14}" class="value">{ops:,.0f}/s</text>')
        if not rung.on_ladder:
            note = f"×{number(rung.ratio_to_baseline, digits=2)} baseline"
        elif rung.step is None:
            note = "the bottom rung"
        else:
            note = f"{step_us(rung)} µs/op · {step_instructions(rung)} instr/op over {rung.step.below}"
        parts.append(f'<text x="{label_w + bar_w + 80}" y="{y + 14}" class="note">{_e(note)}')
        if rung is costliest:
            parts.append('<tspan class="costliest" dx="6">◀ costs most</tspan>')
        parts.append("</text>")
    axis_y = int(bottom) + 12
    parts.append(f'<text x="{label_w}" y="{axis_y}" class="axis">0</text>')
    parts.append(f'<text x="{label_w + bar_w}" y="{axis_y}" text-anchor="end" class="axis">{top:,.0f} ops/s</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def trend(
    workload: BenchmarkCase,
    framework: str,
    series: dict[str, dict[str, float | None]],
    server_cpu: dict[str, dict[str, float | None]] | None = None,
) -> str:
    """Time per op (µs) against the framework's releases, one line per machine (``series``:
    machine -> release -> seconds per op; ``server_cpu`` the same way, the server's CPU %).

    A point whose server was not saturated (client-bound) is a bound, not the server's figure:
    it is drawn hollow and the line does not pass through it. On a busy host, aiohttp's GET
    /json line once zig-zagged between 114 and 244 µs across releases with server CPU between
    60 and 98 %, every point drawn alike."""
    # Ties (releases the key cannot tell apart) keep a fixed order, so the page is the same on every run.
    releases = sorted({r for points in series.values() for r in points}, key=lambda r: (release_key(r), r))
    width, height, left, right, top_pad, bottom = 320, 200, 52, 12, 24, 44
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    good = [v for points in series.values() for v in points.values() if usable(v)]
    top = nice_max(max(good, default=1e-6) * 1e6 * 1.05)

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
        f'<text x="{left + 10}" y="14" class="chart-title" fill="{color(framework)}">{_e(framework)}</text>',
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
        measured = [(r, v) for r in releases if usable(v := points.get(r, math.nan))]
        cpus = (server_cpu or {}).get(machine, {})
        bound = {r for r, _v in measured if client_bound(cpus.get(r)) is True}
        on_line = [(r, v) for r, v in measured if r not in bound]
        if len(on_line) > 1:
            dash = MACHINE_DASH[index % len(MACHINE_DASH)]
            line = " ".join(f"{x_of(r):.1f},{y_of(v):.1f}" for r, v in on_line)
            parts.append(
                f'<polyline points="{line}" fill="none" stroke="{color(framework)}" '
                f'stroke-width="1.5" stroke-dasharray="{dash}"/>'
            )
        for release, v in measured:
            hollow = release in bound
            paint = (
                f'fill="#fff" stroke="{color(framework)}" stroke-width="1.5"'
                if hollow
                else f'fill="{color(framework)}"'
            )
            why = f" (client-bound: server CPU {cpus.get(release):.0f} %, a bound)" if hollow else ""
            parts.append(
                f'<circle class="point" cx="{x_of(release):.1f}" cy="{y_of(v):.1f}" r="3.5" {paint} '
                f'data-workload="{_e(workload.name)}" data-framework="{_e(framework)}" data-release="{_e(release)}" '
                f'data-machine="{_e(machine)}" data-seconds-per-op="{v:.6g}" data-client-bound="{str(hollow).lower()}">'
                f"<title>{_e(framework)} {_e(release)} on {_e(machine)}: {v * 1e6:.1f} µs/op{_e(why)}</title></circle>"
            )
    parts.append("</svg>")
    return "\n".join(parts)
