"""The workers axis for readers (harness/report/workers.py), from made-up results: scaling
over one worker in the same run, and each figure marked by what bounded it, so that workers
sharing a CPU or a generator out of CPU never pass for a scaling curve."""

from __future__ import annotations

import math
from types import MappingProxyType

from harness.report import page, summary
from harness.report import workers as report
from harness.report.results import BenchmarkCase, Run

CLS = "bench_workers.GetJsonWorkers"
# framework -> workers -> (requests/s, server CPU % of a core, generator CPU %, workers per CPU)
MADE_UP = {
    "aiohttp": {1: (20_000.0, 99.0, 60.0, 1.0), 2: (38_000.0, 196.0, 85.0, 1.0)},  # scales, server-bound
    "tornado": {1: (5_000.0, 99.0, 20.0, 1.0), 2: (5_200.0, 99.0, 22.0, 2.0)},  # two workers on one CPU
    "sanic": {1: (20_000.0, 99.0, 70.0, 1.0), 2: (24_000.0, 120.0, 99.0, 1.0)},  # the generator ran out
}


def made_up_run() -> Run:
    values: dict[str, dict[tuple[str, ...], float]] = {}
    for framework, by_workers in MADE_UP.items():
        for workers, (rate, server, generator, per_cpu) in by_workers.items():
            row = {
                "track_time_per_op": 1 / rate,
                "track_server_cpu": server,
                "track_generator_cpu": generator,
                "track_workers_per_cpu": per_cpu,
            }
            for method, value in row.items():
                values.setdefault(f"{CLS}.{method}", {})[(framework, str(workers))] = value
    frozen = {name: MappingProxyType(v) for name, v in values.items()}
    return Run("box", "a" * 40, 0, 0, "default", MappingProxyType({}), MappingProxyType(frozen))


FOUND = {f"{CLS} · {w}": BenchmarkCase(f"{CLS} · {w}", CLS, (str(w),), tuple(MADE_UP)) for w in (1, 2)}


def test_scaling_is_over_one_worker_and_every_figure_says_what_bounded_it():
    [table] = report.tables(made_up_run(), FOUND)
    assert table.workers == (1, 2)
    aiohttp, tornado, sanic = (table.rows[f] for f in ("aiohttp", "tornado", "sanic"))
    assert math.isclose(aiohttp[1].scaling, 1.9) and aiohttp[1].bound == "server"
    assert tornado[1].bound == "shared CPUs" and tornado[1].note == "2 workers on 1 CPU: not a scaling figure"
    assert sanic[1].bound == "client" and "the generator ran out of CPU (generator 99 %)" in sanic[1].note
    assert all(cells[0].bound == "server" for cells in table.rows.values())


def test_the_page_and_the_summary_mark_what_is_not_a_scaling_figure():
    html = page.render([made_up_run()], headline=[])
    assert '<a href="#workers">' in html and '<h2 id="workers">' in html
    assert '<td class="bound-shared-CPUs">2 workers on 1 CPU: not a scaling figure</td>' in html
    assert html.count('<tr data-framework="') >= len(MADE_UP)
    text = summary.render([made_up_run()], headline_classes=[])
    block = text[text.index("Several workers: GET /json on 64 connections") :].splitlines()
    assert block[1].split()[0] == "aiohttp" and "2w 38,000/s = 1.90x [server-bound]" in block[1]
    assert "[2 workers on 1 CPU: not a scaling figure]" in block[2]
    assert "Workers shared CPUs on this host" in block[4]
