"""html/frameworks.html: the frameworks side by side at their latest releases and across releases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import servers
from harness.compare import QUICK_WINDOW_S
from harness.report import claims, fixed_load, ladder, svg, verdict, workers
from harness.report import interpreters as by_interpreter
from harness.report import tls as cost_of_tls
from harness.report.formatting import CLIENT_BOUND_MEANS, bound_by, day, number, ops_per_second
from harness.report.formatting import escape as _e
from harness.report.results import (
    BenchmarkCase,
    Run,
    configured_pythons,
    headline_classes,
    is_quick,
    latest_runs,
    release_runs,
    workloads,
)
from harness.stats import SATURATED_CPU_PCT
from servers import release_key

NAV_LINK = '<li id="nav-li-frameworks"><a href="frameworks.html">Frameworks &amp; releases</a></li>'
NAV_ANCHOR = '<li id="nav-li-regressions">'  # asv's last navigation entry: the link goes before it

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
svg .costliest, tr.costliest td { fill: #b2182b; color: #b2182b; font-weight: bold; }
svg .divider-label { fill: #777; font-size: 11px; font-style: italic; } tr.beside-head th { text-align: left; }
tr.beside-head th { color: #666; font-weight: normal; font-style: italic; padding-top: 8px; }
.empty { background: #fff8e5; border: 1px solid #f0d98c; padding: .6em 1em; }
nav a { margin-right: 1em; }
table.verdict { font-size: 12px; margin: .3em 0 .4em; } table.verdict th { padding: 2px 5px; }
table.verdict td.cell { padding: 0; text-align: center; min-width: 64px; }
table.verdict td.cell a { display: block; padding: 2px 4px; color: #222; text-decoration: none; }
table.verdict td.cell small { display: block; color: #555; font-size: 10px; line-height: 1.2; }
.bound-mark { color: #b35900; font-weight: bold; }
table.verdict thead th { text-align: center; }
tr.load-head th { text-align: left; background: #f4f4f4; font-weight: normal; font-style: italic; }
table.claims td { text-align: left; vertical-align: top; } table.claims small { color: #666; }
.verdict-meta { font-size: 12px; color: #555; margin: 0; }
.quick { background: #fde0dd; color: #7a0177; border-radius: 3px; padding: 0 4px; font-size: 11px; font-weight: bold; }
"""


QUICK_MEANS = (
    f"a quick pass (scripts/bench.sh --quick): one window of {QUICK_WINDOW_S:g} s per figure, to check that "
    "the suite runs; its figures are not for reading"
)


def machine_name(machine: str) -> str:
    """A machine's name for a heading, marked when its results come from quick passes."""
    mark = f' <span class="quick" title="{_e(QUICK_MEANS)}">quick pass</span>' if is_quick(machine) else ""
    return f"<code>{_e(machine)}</code>{mark}"


def _machine_section(css_class: str, machine: str, run: Run) -> str:
    """A section's opening for one machine's latest run: its name (marked if quick) and commit."""
    return (
        f'<section class="{css_class}" data-machine="{_e(machine)}"><h3>Machine {machine_name(machine)} '
        f"<small>commit <code>{_e(run.commit[:8])}</code> of {day(run.date)}</small></h3>"
    )


def side_by_side_table(run: Run, workload: BenchmarkCase) -> str:
    rows = [
        "<table><thead><tr><th>framework</th><th>ops/s</th><th>time per op</th><th>× baseline</th>"
        "<th>server CPU</th><th>generator CPU</th><th>p99 latency</th><th>bound by</th></tr></thead><tbody>"
    ]
    for framework in workload.frameworks:
        seconds = run.value(workload, "track_time_per_op", framework)
        cpu = run.value(workload, "track_server_cpu", framework)
        bound = bound_by(cpu)
        if bound == "client":
            bound = '<span class="client-bound">client</span>'
        rows.append(
            f"<tr><td>{_e(framework)}</td><td>{ops_per_second(seconds)}</td>"
            f"<td>{number(seconds, 1e6, 1, ' µs')}</td>"
            f"<td>{number(run.value(workload, 'track_ratio_to_baseline', framework), digits=2)}</td>"
            f"<td>{number(cpu, digits=0, suffix=' %')}</td>"
            f"<td>{number(run.value(workload, 'track_generator_cpu', framework), digits=0, suffix=' %')}</td>"
            f"<td>{number(run.value(workload, 'track_latency_p99', framework), 1e3, 2, ' ms')}</td>"
            f"<td>{bound}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def trend_table(workload: BenchmarkCase, framework: str, releases: dict[tuple[str, str, str], Run]) -> str:
    rows = [
        "<table><thead><tr><th>release</th><th>machine</th><th>time per op</th><th>× baseline</th>"
        "<th>server CPU</th><th>commit</th></tr></thead><tbody>"
    ]
    keys = sorted((k for k in releases if k[1] == framework), key=lambda k: (release_key(k[2]), k[0]))
    for machine, _framework, release in keys:
        run = releases[(machine, framework, release)]
        rows.append(
            f"<tr><td>{_e(release)}</td><td>{_e(machine)}</td>"
            f"<td>{number(run.value(workload, 'track_time_per_op', framework), 1e6, 1, ' µs')}</td>"
            f"<td>{number(run.value(workload, 'track_ratio_to_baseline', framework), digits=2)}</td>"
            f"<td>{number(run.value(workload, 'track_server_cpu', framework), digits=0, suffix=' %')}</td>"
            f"<td><code>{_e(run.commit[:8])}</code></td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _side_by_side_section(found: dict[str, BenchmarkCase], latest: dict[str, Run]) -> list[str]:
    out = ['<h2 id="side-by-side">Side by side at the latest releases</h2>']
    if not latest:
        out.append('<p class="empty">No results from the default environment (latest releases) yet.</p>')
    for machine, run in latest.items():
        out.append(_machine_section("machine", machine, run))
        for workload in found.values():
            if not run.measured(workload):
                continue
            out.append(
                f'<h3 class="workload" id="{verdict.detail_id(machine, workload)}">{_e(workload.name)} '
                f"<small>on {_e(machine)}</small></h3>"
            )
            out.append(svg.side_by_side(run, workload))
            out.append(side_by_side_table(run, workload))
        out.append("</section>")
    return out


# Shows the verdict table of the reference the reader picks (every table is in the page; no
# script: aiohttp's).
PICK_REFERENCE = """
document.querySelectorAll('select.reference').forEach(function (pick) {
  pick.addEventListener('change', function () {
    var box = pick.closest('.verdict-box');
    box.querySelectorAll('table.verdict').forEach(function (table) {
      table.hidden = table.dataset.reference !== pick.value;
    });
  });
});
"""


def _verdict_section(runs: list[Run], found: dict[str, BenchmarkCase]) -> list[str]:
    # Compact on purpose: the whole table is meant to be visible on a 1366 x 768 screen
    # (tests/test_site_browser.py), so its explanation comes after it.
    out = ['<section id="verdict">']
    latest = latest_runs(runs)
    if not latest:
        out.append('<p class="empty">No results from the default environment (latest releases) yet.</p>')
    for machine in latest:
        history = verdict.default_runs(runs, machine)
        tables = [verdict.verdict(history, found, ref) for ref in servers.FRAMEWORKS_UNDER_TEST]
        tables = [v for v in tables if v is not None and v.reference in v.frameworks and v.rows]
        if not tables:
            continue
        shown = next((v for v in tables if v.reference == verdict.REFERENCE), tables[0])
        options = "".join(
            f'<option value="{_e(v.reference)}"{" selected" if v is shown else ""}>{_e(v.reference)}</option>'
            for v in tables
        )
        out.append(
            f'<div class="verdict-box" data-machine="{_e(machine)}"><p class="verdict-meta"><b>Verdict</b> on '
            f"{machine_name(machine)}, commit <code>{_e(shown.commit[:8])}</code>: throughput relative to "
            f'<select class="reference" aria-label="reference framework">{options}</select> in the same run '
            "(above 1: faster); ⚠ client-bound; a cell opens its detail.</p>"
        )
        out.extend(verdict.html_table(v, hidden=v is not shown) for v in tables)
        out.append(f'<p class="verdict-meta">{_e(verdict.meaning(shown))}</p>')
        out.extend(_claims(machine, latest[machine], found))
        out.append("</div>")
    out.append(f"</section><script>{PICK_REFERENCE}</script>")
    return out


def _claims(machine: str, run: Run, found: dict[str, BenchmarkCase]) -> list[str]:
    """The article's claims against this run: evidence on this page where it has a side-by-side
    detail, else asv's graph of the benchmark."""
    findings = claims.findings(run, found)
    if not any(f.measured is not None for f in findings):
        return []
    link = {
        f.claim.key: (
            f"#{verdict.detail_id(machine, f.workload)}"
            if f.workload is not None and run.measured(f.workload)
            else f"index.html#{f.claim.benchmark.split(' · ')[0]}.{f.claim.method}"
        )
        for f in findings
    }
    return [
        f'<h3 class="claims-title" id="claims-{verdict.slug(machine)}">What the article claimed, what we measured</h3>',
        "<p class=\"verdict-meta\">aiohttp's speed over Tornado's (above 1: aiohttp faster), from the article's "
        'figures and from this run; see README.md, "Why these numbers differ from the article\'s".</p>',
        claims.html_table(findings, link),
    ]


def _ladder_section(found: dict[str, BenchmarkCase], latest: dict[str, Run], headline: list[str]) -> list[str]:
    out = [
        '<h2 id="ladder">The ladder: what each layer costs</h2>',
        '<p class="meta">Each rung adds one layer to the one below: the bare asyncio baseline, picows (a WebSocket '
        "library in Cython), websockets (a pure-Python protocol stack), uvicorn with a bare ASGI application, "
        "Starlette on it, FastAPI on Starlette. What a layer adds is its rung's time per op (at full load) and "
        "instructions per op (one operation in flight, cost.html) minus those of the rung below; a framework "
        "without the endpoint is left out, and a failed or n/a figure leaves its steps out. The frameworks beside "
        "the ladder are whole stacks of their own, shown for scale.</p>",
    ]
    if not latest:
        out.append('<p class="empty">No results from the default environment (latest releases) yet.</p>')
    for machine, run in latest.items():
        out.append(_machine_section("ladder", machine, run))
        for lad in ladder.ladders(run, found, headline):
            out.append(f'<h3 class="ladder-workload">{_e(lad.title)} ')
            out.append(f"<small>{_e(lad.workload.name)} on {_e(machine)}</small></h3>")
            out.append(svg.ladder(lad))
            out.append(ladder.html_table(lad))
            out.append(
                f'<p class="costliest-layer" data-workload="{_e(lad.workload.name)}">{_e(ladder.sentence(lad))}</p>'
            )
        out.append("</section>")
    return out


def _tables_by_machine(
    key: str,
    heading: str,
    meta: str,
    latest: dict[str, Run],
    made: dict[str, list],
    render: Callable[[Any], list[str]],
    id_prefix: str | None = None,
) -> list[str]:
    """A section of per-workload tables (each with ``cls`` and ``title``) for every machine's
    latest run: its heading (anchor ``key``), what the tables mean, then each machine's tables,
    drawn by ``render``. Nothing when no machine has one."""
    if not any(made.values()):
        return []
    out = [f'<h2 id="{key}">{heading}</h2>', f'<p class="meta">{meta}</p>']
    for machine, found_tables in made.items():
        out.append(_machine_section(key, machine, latest[machine]))
        for t in found_tables:
            anchor = f"{id_prefix or key}-{verdict.slug(machine)}-{verdict.slug(t.cls)}"
            out.append(f'<h3 class="{key}-workload" id="{anchor}">')
            out.append(f"{_e(t.title)} <small>{_e(t.cls)} on {_e(machine)}</small></h3>")
            out.extend(render(t))
        out.append("</section>")
    return out


def _fixed_load_section(found: dict[str, BenchmarkCase], latest: dict[str, Run]) -> list[str]:
    return _tables_by_machine(
        "fixed-load",
        "The cost to serve a fixed load",
        "Every framework offered the same rates, open loop (operations sent at fixed times "
        "whatever the server does, latency counted from those times): 25 %, 50 % and 80 % of the slowest "
        "framework's capacity in the same run, and one fixed rate every framework serves here. Lower is better "
        "in every column: the share of the server's own capacity the load takes, its CPU per 1,000 operations, "
        "its resident memory at the window's end and its peak during it, and latency percentiles. The "
        "baseline's row is the floor: the generator's own latency and a minimal server's CPU.",
        latest,
        {machine: fixed_load.tables(run, found) for machine, run in latest.items()},
        lambda t: [fixed_load.chart(t), fixed_load.html_table(t)],
        id_prefix="fixed",
    )


def _workers_section(found: dict[str, BenchmarkCase], latest: dict[str, Run]) -> list[str]:
    return _tables_by_machine(
        "workers",
        "Several server processes",
        "The headline workloads on one and on several worker processes, each framework in its "
        "own multi-process mode, with the scaling over one worker in the same run. A figure is a scaling figure "
        "only when each worker had a CPU of its own and the server was saturated; the others say what bounded "
        "them instead (workers sharing a CPU, or a generator out of CPU): on a host with two CPUs, two workers "
        "share one. README, 'Bigger than one machine', says how to give the server a host of its own.",
        latest,
        {machine: workers.tables(run, found) for machine, run in latest.items()},
        lambda t: [workers.html_table(t)],
    )


def _tls_section(latest: dict[str, Run]) -> list[str]:
    return _tables_by_machine(
        "tls",
        "The cost of TLS",
        "The headline echo, WebSocket handshakes and GET /json, plain and over TLS (https, wss: "
        "TLS 1.3 with a certificate made for the run, ECDSA P-256), each server in its framework's own TLS "
        "setting, plain and TLS measured in the same rounds. TLS time / plain is how much longer an operation "
        "takes over TLS (larger: TLS costs more); the instructions per operation (one in flight, cost.html) "
        "are the server's, which the host cannot move. Over TLS each handshake is a full one, and on a host of "
        "two CPUs its figure is the generator's more than the server's (⚠: the server was not saturated).",
        latest,
        {machine: cost_of_tls.tables(run) for machine, run in latest.items()},
        lambda t: [cost_of_tls.html_table(t)],
    )


def _interpreters_section(runs: list[Run], verdicts: Mapping[str, by_interpreter.Verdicts]) -> list[str]:
    pythons = configured_pythons()
    made = by_interpreter.tables(runs, pythons, verdicts)
    if not made:
        return []
    out = [
        '<h2 id="interpreters">Across interpreters</h2>',
        f'<p class="meta">The headline workloads on every Python the suite is configured for ({", ".join(pythons)}; '
        f"every benchmark runs on {_e(pythons[0])}, the others run the headline), each from the default "
        "environment's newest run on that interpreter. Instructions per operation (one operation in flight, "
        "cost.html) are the figure to compare interpreters by: the host cannot move them, and the change from "
        f"Python {_e(pythons[0])} is written beside them. Throughput comes from a separate run per interpreter, in "
        "shorter rounds on the other interpreters, so the host's drift between runs is in its differences. n/a: "
        "the interpreter is not on the host, or its environment could not be made (the reason is given).</p>",
    ]
    for t in made:
        out.append(f'<h3 class="interpreters-workload" id="python-{verdict.slug(t.machine)}-{verdict.slug(t.cls)}">')
        out.append(
            f"{_e(t.title)} <small>{_e(t.cls)} and bench_cost.HeadlineCost on {machine_name(t.machine)}</small></h3>"
        )
        out.append(by_interpreter.html_table(t, pythons[0]))
    return out


def _releases_section(found: dict[str, BenchmarkCase], releases: dict[tuple[str, str, str], Run]) -> list[str]:
    out = ['<h2 id="releases">Across releases</h2>']
    if not releases:
        out.append(
            '<p class="empty" id="no-releases">No release environments have results yet: run the release '
            "history (asv.releases.json, one environment per framework release) and publish again.</p>"
        )
        return out
    out.append(
        '<p class="meta">Time per op (µs, lower is better) of each framework at each of its releases, '
        "newest commit of each release environment; one line per machine (dashed: further machines).</p>"
    )
    frameworks_with_releases = sorted({framework for _m, framework, _r in releases})
    for workload in found.values():
        if not any(run.measured(workload) for run in releases.values()):
            continue  # no time per op in any release (the cost family has its own page, cost.html)
        out.append(f'<h3 class="workload">{_e(workload.name)}</h3><div class="trends">')
        for framework in frameworks_with_releases:
            if framework not in workload.frameworks:
                continue
            series: dict[str, dict[str, float | None]] = {}
            server_cpu: dict[str, dict[str, float | None]] = {}
            for (machine, fw, release), run in releases.items():
                if fw == framework:
                    series.setdefault(machine, {})[release] = run.value(workload, "track_time_per_op", framework)
                    server_cpu.setdefault(machine, {})[release] = run.value(workload, "track_server_cpu", framework)
            out.append('<div class="trend-box">')
            out.append(svg.trend(workload, framework, series, server_cpu))
            out.append(trend_table(workload, framework, releases))
            out.append("</div>")
        out.append("</div>")
    return out


def render(
    runs: list[Run], headline: list[str] | None = None, verdicts: Mapping[str, by_interpreter.Verdicts] | None = None
) -> str:
    """The whole page for these runs; ``headline``: the ladder's workloads (default benchmarks/headline.txt);
    ``verdicts``: per machine, its newest commit's environment verdicts (why an interpreter has no figures)."""
    found = workloads(runs)
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Frameworks side by side and across releases</title>',
        f"<style>{CSS}</style></head><body>",
        '<nav><a href="index.html">← asv graphs</a><a href="#verdict">Verdict</a><a href="#ladder">The ladder</a>'
        '<a href="#fixed-load">Fixed load</a><a href="#workers">Workers</a>'
        '<a href="#tls">TLS</a><a href="#interpreters">Interpreters</a>'
        '<a href="#side-by-side">Side by side</a>'
        '<a href="#releases">Across releases</a><a href="cost.html">Cost per operation</a></nav>',
        "<h1>Frameworks side by side and across releases</h1>",
        *_verdict_section(runs, found),
        '<p class="meta">Throughput is 1 / time per op (larger is better). The baseline is a bare asyncio '
        "server: its bar is the load generator's ceiling, and × baseline is how many times slower a framework "
        "is in the same rounds. The side-by-side charts are drawn to the frameworks' scale: a baseline beyond it "
        f"is cut (▸), its figure written beside it. A server below {SATURATED_CPU_PCT:.0f} % of its core was not "
        "the bottleneck: its "
        f'figure is marked <span class="client-bound">⚠ client-bound</span>. {CLIENT_BOUND_MEANS} n/a: the '
        "framework lacks the endpoint or is not installed there; failed: the measurement failed (see asv's log).</p>",
        *_ladder_section(found, latest_runs(runs), headline_classes() if headline is None else headline),
        *_fixed_load_section(found, latest_runs(runs)),
        *_workers_section(found, latest_runs(runs)),
        *_tls_section(latest_runs(runs)),
        *_interpreters_section(runs, verdicts or {}),
        *_side_by_side_section(found, latest_runs(runs)),
        *_releases_section(found, release_runs(runs)),
        "</body></html>",
    ]
    return "\n".join(out) + "\n"


def link_from_index(index: Path, link: str = NAV_LINK) -> None:
    """Add a nav entry (``<li id=...>``, by default frameworks.html's) to asv's index.html, once."""
    text = index.read_text()
    if link.split(">", 1)[0] in text:
        return
    if NAV_ANCHOR not in text:
        raise RuntimeError(f"{index}: asv's navigation changed; cannot find {NAV_ANCHOR}")
    index.write_text(text.replace(NAV_ANCHOR, link + "\n\t" + NAV_ANCHOR, 1))


def write(runs: list[Run], html_dir: Path, verdicts: Mapping[str, by_interpreter.Verdicts] | None = None) -> Path:
    """Write html_dir/frameworks.html and link it from asv's index.html there."""
    page = html_dir / "frameworks.html"
    page.write_text(render(runs, verdicts=verdicts))
    link_from_index(html_dir / "index.html")
    return page
