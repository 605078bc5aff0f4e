"""html/cost.html and its pages: instructions and system calls per operation, per framework and release.

Reads the cost family's asv values (``bench_cost.*.track_instructions_per_op`` and
``track_syscalls_per_op``, parameters framework and case) through harness.report.results,
and the CostRecord and flame-graph files harness/cost/records.py lays out beside them:

- ``cost.html``: per case (headline cases first) a chart per framework of instructions per op
  across its releases (each point a link to its profile page) with a table under it, and the
  latest default-environment run per machine as a table;
- ``cost/<machine>/<commit[:12]>/<env>/<case>/<framework>.html``: one run's profile (system
  calls, the top functions by self instructions, the flame graph in speedscope);
- ``….diff.html`` beside it: that profile against the previous release's, function by function.

The records and flame graphs those pages link are copied under html/cost/, so the site
needs nothing outside html/.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness.cost import records
from harness.cost.records import CostRecord
from harness.report import speedscope, svg
from harness.report.formatting import day, number
from harness.report.formatting import escape as _e
from harness.report.page import CSS, link_from_index
from harness.report.results import BenchmarkCase, Run, latest_runs, release_runs, usable, workloads
from servers import release_key

PAGE = "cost.html"
COST_DIR = "cost"  # under html/: the profile and diff pages, and copies of what they link
FAMILY = "bench_cost."
HEADLINE_CLASS = "bench_cost.HeadlineCost"
INSTRUCTIONS = "track_instructions_per_op"
SYSCALLS = "track_syscalls_per_op"
TOP_FUNCTIONS = 40
README_LINK = "README.md#cost-per-operation"  # site.build copies README.md into html/
NAV_LINK = '<li id="nav-li-cost"><a href="cost.html">Cost per operation</a></li>'
NO_PROFILE = "no profile recorded"

COST_CSS = """
.headline-tag { font-size: 12px; color: #fff; background: #555; border-radius: 3px; padding: 1px 6px; }
svg a:hover circle { stroke: #000; stroke-width: 2; } th.fn, td.fn { text-align: left; }
td.fn { font-family: monospace; } td.fn small { color: #777; } .up { color: #b2182b; } .down { color: #1a7837; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; } dl.facts dt { color: #666; }
dl.facts dd { margin: 0; }
.figures { font-size: 1.15em; } .no-profile { color: #777; font-style: italic; }
"""


@dataclass(frozen=True)
class Point:
    """One framework's cost in one run: asv's tracked values and, where one was written, its record."""

    run: Run
    case: BenchmarkCase  # a cost class at one case
    framework: str
    instructions: float | None  # per op; NaN n/a, None failed
    syscalls: float | None
    record: CostRecord | None
    problem: str  # why there is no record: NO_PROFILE, or that the file could not be read
    flamegraphs: tuple[tuple[str, Path], ...]  # (workload, speedscope file under results_dir)

    @property
    def release(self) -> str:
        """The release environment's pin, else the release the record saw installed ('' if neither)."""
        return self.run.pins.get(self.framework) or (self.record.release if self.record else "")

    @property
    def case_name(self) -> str:
        return case_name(self.case)


def case_name(case: BenchmarkCase) -> str:
    """The cost case (the class's one parameter besides the framework), e.g. ws_echo_text_32B."""
    return "-".join(case.variant)


def _component(text: str) -> str:
    # Path parts come from results files: keep them to one harmless folder or file name each.
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", text)
    return "_" if safe in ("", ".", "..") else safe


def _run_dir(html_dir: Path, run: Run) -> Path:
    return html_dir / COST_DIR / _component(run.machine) / _component(run.commit[:12]) / _component(run.env)


def profile_page(html_dir: Path, point: Point) -> Path:
    """html/cost/<machine>/<commit[:12]>/<env>/<case>/<framework>.html"""
    return _run_dir(html_dir, point.run) / _component(point.case_name) / f"{_component(point.framework)}.html"


def diff_page(html_dir: Path, point: Point) -> Path:
    return profile_page(html_dir, point).with_suffix(".diff.html")


def _href(from_page: Path, target: Path) -> str:
    return urllib.parse.quote(Path(os.path.relpath(target, from_page.parent)).as_posix())


def cost_cases(runs: list[Run]) -> list[BenchmarkCase]:
    """The cost family's cases found in the results: the headline class's first, each class's in
    the order its newest run declares them (the benchmark's own order), then any others by name."""
    declared: dict[tuple[str, str], int] = {}
    for run in sorted(runs, key=lambda r: r.recency, reverse=True):
        for name, by_params in run.values.items():
            for combo in by_params:
                for value in combo:
                    declared.setdefault((name.rsplit(".", 1)[0], value), len(declared))
    found = [w for w in workloads(runs).values() if w.cls.startswith(FAMILY)]
    return sorted(
        found,
        key=lambda w: (w.cls != HEADLINE_CLASS, w.cls, declared.get((w.cls, case_name(w)), len(declared)), w.name),
    )


def measured(run: Run, case: BenchmarkCase) -> bool:
    """Whether ``run`` tracked this case at all (a value, n/a or failed)."""
    by_params = run.values.get(f"{case.cls}.{INSTRUCTIONS}") or {}
    return any(set(case.variant) <= set(combo) for combo in by_params)


def _flamegraphs(results_dir: Path, run: Run, case: BenchmarkCase, framework: str) -> tuple[tuple[str, Path], ...]:
    # Flame graphs are filed by workload (e.g. ws_echo_text_32B_c100): the case's name, then its load.
    folder = records.run_dir(results_dir, run.machine, run.commit, run.env) / "flamegraphs"
    wanted = re.compile(re.escape(case_name(case)) + r"(_c\d+\w*)?")
    return tuple(
        (path.parent.name, path)
        for path in sorted(folder.glob(f"*/{framework}.speedscope.json"))
        if wanted.fullmatch(path.parent.name)
    )


def read_point(results_dir: Path, run: Run, case: BenchmarkCase, framework: str) -> Point:
    path = records.record_path(results_dir, run.machine, run.commit, run.env, case_name(case), framework)
    record, problem = None, NO_PROFILE
    if path.is_file():
        try:
            record = CostRecord.load(path)
            problem = ""
        except (ValueError, KeyError, TypeError) as exc:  # another schema, or a truncated file
            problem = f"profile unreadable ({exc})"
    return Point(
        run=run,
        case=case,
        framework=framework,
        instructions=run.value(case, INSTRUCTIONS, framework),
        syscalls=run.value(case, SYSCALLS, framework),
        record=record,
        problem=problem,
        flamegraphs=_flamegraphs(results_dir, run, case, framework),
    )


@dataclass
class CostSite:
    """Everything one build writes: cost.html, then each linked profile and diff page once."""

    runs: list[Run]
    results_dir: Path
    html_dir: Path
    viewer: bool  # speedscope is vendored under html/: flame graphs open in it

    def __post_init__(self) -> None:
        self.pages: dict[Path, Point] = {}  # profile pages to write
        self.diffs: dict[Path, tuple[Point, Point]] = {}  # diff page -> (previous release, this)
        self._releases: dict[str, dict[tuple[str, str, str], Run]] = {}
        self._points: dict[tuple[str, ...], Point] = {}

    def point(self, run: Run, case: BenchmarkCase, framework: str) -> Point:
        """read_point, once per run, case and framework (a chart, its table and the pages all ask)."""
        key = (run.machine, run.commit, run.env, case.name, framework)
        if key not in self._points:
            self._points[key] = read_point(self.results_dir, run, case, framework)
        return self._points[key]

    def releases(self, case: BenchmarkCase) -> dict[tuple[str, str, str], Run]:
        """(machine, framework, release) -> the newest release-environment run that tracked this case."""
        if case.name not in self._releases:
            self._releases[case.name] = release_runs(run for run in self.runs if measured(run, case))
        return self._releases[case.name]

    def previous(self, point: Point) -> Point | None:
        """The same framework and case at the release before this point's, on the same machine."""
        key = release_key(point.release)
        if not key:
            return None
        earlier = [
            (release_key(release), release, run)
            for (machine, framework, release), run in self.releases(point.case).items()
            if machine == point.run.machine and framework == point.framework and () < release_key(release) < key
        ]
        if not earlier:
            return None
        _key, _release, run = max(earlier, key=lambda e: (e[0], e[1]))
        return self.point(run, point.case, point.framework)

    # -- links, each registering the page it points at ---------------------------------------

    def profile_link(self, from_page: Path, point: Point, text: str = "profile") -> str:
        if point.record is None:
            return f'<span class="no-profile">{_e(point.problem)}</span>'
        target = profile_page(self.html_dir, point)
        self.pages[target] = point
        return f'<a class="profile-link" href="{_href(from_page, target)}">{_e(text)}</a>'

    def diff_link(self, from_page: Path, point: Point) -> str:
        previous = self.previous(point) if point.record else None
        if previous is None:
            return ""
        if previous.record is None:
            return f'<span class="no-profile">{_e(previous.release)}: {_e(previous.problem)}</span>'
        target = diff_page(self.html_dir, point)
        self.diffs[target] = (previous, point)
        self.pages[profile_page(self.html_dir, point)] = point
        self.pages[profile_page(self.html_dir, previous)] = previous
        return f'<a class="diff-link" href="{_href(from_page, target)}">diff vs {_e(previous.release)}</a>'

    def flamegraph_links(self, from_page: Path, point: Point) -> list[str]:
        links = []
        for workload, source in point.flamegraphs:
            copy = _run_dir(self.html_dir, point.run) / "flamegraphs" / _component(workload) / source.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
            title = f"{point.framework} {point.release} {workload}".replace("  ", " ")
            if self.viewer:
                href = speedscope.viewer_link(from_page, copy, self.html_dir, title)
                links.append(
                    f'<a class="flamegraph-link" href="{_e(href)}">flame graph</a> <small>{_e(workload)}</small>'
                )
            else:
                links.append(
                    f'<a class="flamegraph-link" href="{_href(from_page, copy)}">flame graph (speedscope JSON)</a> '
                    f"<small>{_e(workload)}; the viewer is not vendored (scripts/setup.sh installs it)</small>"
                )
        return links

    # -- cost.html ---------------------------------------------------------------------------

    def _chart(self, from_page: Path, case: BenchmarkCase, framework: str) -> str:
        """Instructions per op against the framework's releases, one line per machine; every point a link."""
        releases = self.releases(case)
        points = {
            (machine, release): self.point(run, case, framework)
            for (machine, fw, release), run in releases.items()
            if fw == framework
        }
        order = sorted({release for _m, release in points}, key=lambda r: (release_key(r), r))
        width, height, left, right, top_pad, bottom = 340, 210, 58, 14, 24, 46
        plot_w, plot_h = width - left - right, height - top_pad - bottom
        top = svg.nice_max(max((p.instructions for p in points.values() if usable(p.instructions)), default=1) * 1.05)

        def x_of(release: str) -> float:
            return left + (plot_w / 2 if len(order) == 1 else plot_w * order.index(release) / (len(order) - 1))

        def y_of(value: float) -> float:
            return top_pad + plot_h * (1 - value / top)

        name = case_name(case)
        parts = [
            f'<svg class="chart cost-trend" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" data-case="{_e(name)}" data-framework="{_e(framework)}">',
            f"<title>{_e(name)}: {_e(framework)} instructions per op across releases</title>",
            f'<text x="{left + 10}" y="14" class="chart-title" fill="{svg.color(framework)}">{_e(framework)}</text>',
            f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" class="axis-line"/>',
            f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" '
            'class="axis-line"/>',
            f'<text x="{left - 4}" y="{top_pad - 8}" text-anchor="end" class="axis">instr/op</text>',
        ]
        for fraction in (0, 0.5, 1):
            y = top_pad + plot_h * (1 - fraction)
            parts.append(
                f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" class="axis">{_short(top * fraction)}</text>'
            )
        for release in order:
            x, y = x_of(release), top_pad + plot_h + 14
            parts.append(
                f'<text x="{x:.1f}" y="{y}" text-anchor="end" class="axis" transform="rotate(-30 {x:.1f} {y})">'
                f"{_e(release)}</text>"
            )
        machines = sorted({machine for machine, _r in points})
        for index, machine in enumerate(machines):
            line = [(r, p) for r in order if (p := points.get((machine, r))) and usable(p.instructions)]
            if len(line) > 1:
                coords = " ".join(f"{x_of(r):.1f},{y_of(p.instructions):.1f}" for r, p in line)
                parts.append(
                    f'<polyline points="{coords}" fill="none" stroke="{svg.color(framework)}" stroke-width="1.5" '
                    f'stroke-dasharray="{svg.MACHINE_DASH[index % len(svg.MACHINE_DASH)]}"/>'
                )
            for release, point in line:
                label = f"{framework} {release} on {machine}: {point.instructions:,.0f} instructions/op"
                circle = (
                    f'<circle class="point" cx="{x_of(release):.1f}" cy="{y_of(point.instructions):.1f}" r="4" '
                    f'fill="{svg.color(framework)}" data-case="{_e(name)}" data-framework="{_e(framework)}" '
                    f'data-release="{_e(release)}" data-machine="{_e(machine)}" '
                    f'data-instructions-per-op="{point.instructions:.6g}" '
                    f'data-syscalls-per-op="{_e(number(point.syscalls, digits=2))}">'
                )
                if point.record is None:
                    parts.append(f"{circle}<title>{_e(label)} ({_e(point.problem)})</title></circle>")
                    continue
                target = profile_page(self.html_dir, point)
                self.pages[target] = point
                parts.append(
                    f'<a class="point-link" href="{_href(from_page, target)}">{circle}'
                    f"<title>{_e(label)}: open its profile</title></circle></a>"
                )
        parts.append("</svg>")
        return "\n".join(parts)

    def _chart_table(self, from_page: Path, case: BenchmarkCase, framework: str) -> str:
        rows = [
            "<table><thead><tr><th>release</th><th>machine</th><th>instructions/op</th><th>syscalls/op</th>"
            "<th>profile</th><th>change</th></tr></thead><tbody>"
        ]
        releases = self.releases(case)
        keys = sorted((k for k in releases if k[1] == framework), key=lambda k: (release_key(k[2]), k[2], k[0]))
        for machine, _framework, release in keys:
            point = self.point(releases[(machine, framework, release)], case, framework)
            rows.append(
                f'<tr data-release="{_e(release)}"><td>{_e(release)}</td><td>{_e(machine)}</td>'
                f"<td>{number(point.instructions, digits=0)}</td><td>{number(point.syscalls, digits=2)}</td>"
                f"<td>{self.profile_link(from_page, point)}</td><td>{self.diff_link(from_page, point)}</td></tr>"
            )
        rows.append("</tbody></table>")
        return "\n".join(rows)

    def _latest_table(self, from_page: Path, run: Run, case: BenchmarkCase) -> str:
        rows = [
            f'<table class="latest" data-machine="{_e(run.machine)}" data-case="{_e(case_name(case))}">'
            f"<caption>Machine <code>{_e(run.machine)}</code>, commit <code>{_e(run.commit[:8])}</code> of "
            f"{day(run.date)}, default environment</caption>"
            "<thead><tr><th>framework</th><th>release</th><th>instructions/op</th><th>syscalls/op</th>"
            "<th>profile</th><th>flame graph</th><th>change</th></tr></thead><tbody>"
        ]
        for framework in case.frameworks:
            point = self.point(run, case, framework)
            has_value = usable(point.instructions) or usable(point.syscalls)
            profile = self.profile_link(from_page, point) if point.record or has_value else ""
            flames = self.flamegraph_links(from_page, point)  # sampled apart from the record: shown either way
            rows.append(
                f'<tr data-framework="{_e(framework)}"><td>{_e(framework)}</td><td>{_e(point.release or "—")}</td>'
                f"<td>{number(point.instructions, digits=0)}</td><td>{number(point.syscalls, digits=2)}</td>"
                f"<td>{profile}</td><td>{'<br>'.join(flames)}</td><td>{self.diff_link(from_page, point)}</td></tr>"
            )
        rows.append("</tbody></table>")
        return "\n".join(rows)

    def _case_section(self, from_page: Path, case: BenchmarkCase) -> list[str]:
        name = case_name(case)
        headline = case.cls == HEADLINE_CLASS
        tag = ' <span class="headline-tag">headline</span>' if headline else ""
        out = [
            f'<section class="case" id="case-{_e(_component(name))}" data-case="{_e(name)}">',
            f'<h2>{_e(name)}{tag} <small class="meta">{_e(case.cls)}</small></h2>',
            "<h3>Latest releases</h3>",
        ]
        latest = latest_runs(run for run in self.runs if measured(run, case))
        if not latest:
            out.append('<p class="empty">No default-environment run has measured this case yet.</p>')
        for run in latest.values():
            out.append(self._latest_table(from_page, run, case))
        out.append("<h3>Across releases</h3>")
        releases = self.releases(case)
        if not releases:
            out.append(
                '<p class="empty no-releases">No release environments have measured this case: '
                + (
                    "<code>scripts/releases.sh</code> records the headline cases in one environment per release."
                    if headline
                    else "only the headline cases run in the release history."
                )
                + "</p>"
            )
        else:
            out.append('<div class="trends">')
            for framework in sorted({framework for _m, framework, _r in releases}):
                out.append('<div class="trend-box">')
                out.append(self._chart(from_page, case, framework))
                out.append(self._chart_table(from_page, case, framework))
                out.append("</div>")
            out.append("</div>")
        out.append("</section>")
        return out

    def render_index(self) -> str:
        from_page = self.html_dir / PAGE
        cases = cost_cases(self.runs)
        body: list[str] = []
        if not cases:
            body.append(
                '<p class="empty" id="no-cost">No cost results recorded yet. <code>scripts/bench.sh</code> records '
                "them (the <code>bench_cost</code> benchmarks, with the rest of the default suite); "
                "<code>scripts/releases.sh</code> adds the headline cases across framework releases. "
                "Then publish the site again.</p>"
            )
        for case in cases:
            body.extend(self._case_section(from_page, case))
        nav = "".join(f'<a href="#case-{_e(_component(case_name(c)))}">{_e(case_name(c))}</a>' for c in cases)
        return _document(
            "Cost per operation",
            [
                f'<nav><a href="index.html">← asv graphs</a><a href="frameworks.html">Frameworks &amp; releases</a>'
                f"{nav}</nav>",
                "<h1>Cost per operation</h1>",
                '<p class="meta" id="what">What one operation costs each server, counted rather than timed: '
                "<b>instructions per op</b> are the user-space instructions the server process executed per "
                "verified operation, counted by valgrind over a fixed replay with one operation in flight; "
                "<b>syscalls per op</b> are the system calls it made per operation, counted by strace in a native "
                "run of the same replay. Both are deterministic: unlike the wall-clock pages they do not move "
                "with the host's speed, so a change between releases or commits comes from the code, not the "
                "host. Larger is worse. Each point and row opens its profile: the system calls and the functions "
                "that spent the instructions, and, for headline workloads, a flame graph sampled under load. See "
                "README's "
                f'section <a href="{README_LINK}">Cost per operation</a>. n/a: not measured there; failed: the '
                "measurement failed (see asv's log).</p>",
                *body,
            ],
        )

    # -- profile and diff pages --------------------------------------------------------------

    def render_profile(self, path: Path, point: Point) -> str:
        record = point.record
        assert record is not None  # only points with a record get a page
        total = record.instructions_per_op
        record_copy = path.with_suffix(".json")
        shutil.copyfile(
            records.record_path(
                self.results_dir, point.run.machine, point.run.commit, point.run.env, point.case_name, point.framework
            ),
            record_copy,
        )
        links = self.flamegraph_links(path, point) or ['<span class="no-profile">no flame graph recorded</span>']
        if diff := self.diff_link(path, point):
            links.append(diff)
        links.append(f'<a href="{_href(path, record_copy)}">record (JSON)</a>')
        syscall_rows = [
            f"<tr><td>{_e(name)}</td><td>{per_op:,.2f}</td></tr>"
            for name, per_op in sorted(record.syscalls.items(), key=lambda item: (-item[1], item[0]))
        ]
        if record.syscalls_unavailable or not record.syscall_ops:
            syscall_table = f'<p class="no-profile">Not counted: {_e(record.syscalls_unavailable or "no window")}</p>'
        else:
            syscall_table = (
                '<table class="syscalls"><thead><tr><th>system call</th><th>per op</th></tr></thead>'
                f"<tbody>{''.join(syscall_rows)}</tbody></table>"
            )
        function_rows = [
            f'<tr data-function="{_e(f.function)}"><td>{rank}</td><td class="fn">{_e(f.function)} '
            f"<small>{_e(f.obj)}</small></td><td>{f.per_op:,.1f}</td><td>{_percent(f.per_op, total)}</td></tr>"
            for rank, f in enumerate(sorted(record.functions, key=lambda f: -f.per_op)[:TOP_FUNCTIONS], 1)
        ]
        shown = sum(f.per_op for f in sorted(record.functions, key=lambda f: -f.per_op)[:TOP_FUNCTIONS])
        title = f"{point.framework} {point.release} · {point.case_name}".replace("  ", " ")
        return _document(
            f"Cost profile: {title}",
            [
                f'<nav><a href="{_href(path, self.html_dir / PAGE)}">← Cost per operation</a></nav>',
                f"<h1>{_e(title)}</h1>",
                _facts(point),
                f'<p class="links">{" · ".join(links)}</p>',
                f'<p class="figures"><b id="instructions-per-op">{total:,.0f}</b> instructions/op · '
                f'<b id="syscalls-per-op">{number(record.syscalls_per_op, digits=2)}</b> syscalls/op</p>',
                f'<p class="meta">Instructions over a window of {record.ops:,} verified operations; system calls '
                f"over a window of {record.syscall_ops:,} in a native run, less an empty window's. "
                f"asv tracked {number(point.instructions, digits=0)} instructions/op and "
                f"{number(point.syscalls, digits=2)} syscalls/op for this run.</p>",
                "<h2>System calls per op</h2>",
                syscall_table,
                f"<h2>Top {TOP_FUNCTIONS} functions by self instructions</h2>",
                '<p class="meta">Instructions each function executed itself (callees excluded) per operation, as '
                f"valgrind names them; these {len(function_rows)} account for {_percent(shown, total)} of the "
                "total. All functions' own counts add up to "
                f"{_percent(record.profiled / record.ops if record.profiled else total, total)} of it: callgrind "
                "also charges them for calls that were open when its counters were zeroed (README, "
                '<a href="' + _href(path, self.html_dir / README_LINK.split("#")[0]) + '#cost-per-operation">'
                "Cost per operation</a>).</p>",
                f'<table class="functions" data-framework="{_e(point.framework)}"><thead><tr><th>#</th>'
                '<th class="fn">function <small>(object)</small></th><th>instructions/op</th><th>% of total</th>'
                "</tr></thead>"
                f"<tbody>{''.join(function_rows)}</tbody></table>",
            ],
        )

    def render_diff(self, path: Path, previous: Point, point: Point) -> str:
        old, new = previous.record, point.record
        assert old is not None and new is not None
        title = f"{point.framework} · {point.case_name}: {previous.release} → {point.release}"
        totals = [
            _change_row("instructions/op", old.instructions_per_op, new.instructions_per_op, 0),
            _change_row("syscalls/op", old.syscalls_per_op, new.syscalls_per_op, 2),
        ]
        syscalls = sorted(old.syscalls.keys() | new.syscalls.keys())
        syscall_rows = [
            _change_row(name, old.syscalls.get(name, 0.0), new.syscalls.get(name, 0.0), 2) for name in syscalls
        ]
        old_total = old.instructions_per_op
        changes = [c for c in records.diff(old, new) if c.delta][:TOP_FUNCTIONS]
        function_rows = [
            f'<tr data-function="{_e(c.key)}"><td>{rank}</td><td class="fn">{_e(c.key)}</td><td>{c.old:,.1f}</td>'
            f'<td>{c.new:,.1f}</td><td class="{_direction(c.delta)}">{c.delta:+,.1f}</td>'
            f"<td>{_signed_percent(c.delta, old_total)}</td></tr>"
            for rank, c in enumerate(changes, 1)
        ]
        links = [
            f'<a href="{_href(path, self.html_dir / PAGE)}">← Cost per operation</a>',
            self.profile_link(path, previous, f"profile of {previous.release}"),
            self.profile_link(path, point, f"profile of {point.release}"),
        ]
        return _document(
            f"Cost diff: {title}",
            [
                f"<nav>{' '.join(links)}</nav>",
                f"<h1>{_e(title)}</h1>",
                f'<p class="meta">Machine <code>{_e(point.run.machine)}</code>. Before: {_e(previous.release)}, '
                f"commit <code>{_e(previous.run.commit[:12])}</code>, <code>{_e(previous.run.env)}</code>. After: "
                f"{_e(point.release)}, commit <code>{_e(point.run.commit[:12])}</code>, "
                f"<code>{_e(point.run.env)}</code>.</p>",
                '<table class="totals"><thead><tr><th></th><th>before</th><th>after</th><th>change</th>'
                f"<th>change %</th></tr></thead><tbody>{''.join(totals)}</tbody></table>",
                "<h2>System calls per op</h2>",
                '<table class="syscalls"><thead><tr><th>system call</th><th>before</th><th>after</th><th>change</th>'
                f"<th>change %</th></tr></thead><tbody>{''.join(syscall_rows)}</tbody></table>",
                f"<h2>Functions that changed most <small>(top {TOP_FUNCTIONS})</small></h2>",
                '<p class="meta">Self instructions per op, largest change first (either way); the last column is '
                "the change as a share of the previous release's total instructions per op. 0: not among the "
                "functions the record kept.</p>",
                '<table class="diff"><thead><tr><th>#</th><th class="fn">function <small>(object)</small></th>'
                "<th>before</th><th>after</th><th>delta</th><th>% of old total</th></tr></thead>"
                f"<tbody>{''.join(function_rows)}</tbody></table>"
                if function_rows
                else '<p class="empty">No function changed.</p>',
            ],
        )

    def write(self) -> Path:
        index = self.html_dir / PAGE
        index.write_text(self.render_index())
        # Pages link further pages (a diff page both profiles): write until none is left unwritten.
        done: set[Path] = set()
        while pending := [p for p in (*self.pages, *self.diffs) if p not in done]:
            for path in pending:
                done.add(path)
                path.parent.mkdir(parents=True, exist_ok=True)
                if path in self.diffs:
                    path.write_text(self.render_diff(path, *self.diffs[path]))
                else:
                    path.write_text(self.render_profile(path, self.pages[path]))
        return index


def _document(title: str, body: list[str]) -> str:
    head = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{CSS}{COST_CSS}</style></head><body>"
    )
    return "\n".join([head, *body, "</body></html>"]) + "\n"


def _facts(point: Point) -> str:
    record = point.record
    tools = ", ".join(f"{k} {v}" for k, v in sorted(record.tool.items())) if record else ""
    facts = [
        ("framework", point.framework),
        ("release", point.release or "—"),
        ("case", point.case_name),
        ("machine", point.run.machine),
        ("commit", point.run.commit[:12]),
        ("environment", point.run.env),
        ("tools", tools or "—"),
    ]
    return '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"


def _short(value: float) -> str:
    """An axis label: 0, 50k, 1.2M."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def _signed_percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:+.1f} %" if whole else "n/a"


def _direction(delta: float) -> str:
    return "up" if delta > 0 else "down" if delta < 0 else ""


def _change_row(label: str, old: float, new: float, digits: int) -> str:
    if math.isnan(old) or math.isnan(new):
        return (
            f"<tr><td>{_e(label)}</td><td>{number(old, digits=digits)}</td><td>{number(new, digits=digits)}</td>"
            "<td></td><td></td></tr>"
        )
    delta = new - old
    return (
        f"<tr><td>{_e(label)}</td><td>{old:,.{digits}f}</td><td>{new:,.{digits}f}</td>"
        f'<td class="{_direction(delta)}">{delta:+,.{digits}f}</td><td>{_signed_percent(delta, old)}</td></tr>'
    )


def write(runs: list[Run], results_dir: Path, html_dir: Path, *, viewer: bool = False) -> Path:
    """Write html/cost.html and the pages it links (replacing any html/cost/ from before), and link
    cost.html from asv's index.html. ``viewer``: speedscope is vendored, so flame graphs open in it."""
    shutil.rmtree(html_dir / COST_DIR, ignore_errors=True)
    written = CostSite(runs, results_dir, html_dir, viewer).write()
    if (html_dir / "index.html").exists():
        link_from_index(html_dir / "index.html", NAV_LINK)
    return written
