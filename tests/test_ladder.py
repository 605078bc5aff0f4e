"""The ladder view (harness/report/ladder.py): rungs in servers.LADDER order with the n/a ones
left out, steps taken only between two measured rungs, failed and n/a values, the layer that
costs most; its block in the terminal summary and its section of frameworks.html. Made-up
numbers (tests/site_fixtures.py, and small runs built here); no servers."""

from __future__ import annotations

import dataclasses
import math
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType

import pytest

import servers
from harness import workloads as catalogue
from harness.cost.cases import HEADLINE_CASES
from harness.report import ladder, summary, svg
from harness.report import page as frameworks_page
from harness.report.results import BenchmarkCase, Run, headline_classes, latest_runs, load_runs, workloads
from tests import site_fixtures
from tests.test_site import Elements

ECHO = "bench_websocket.EchoText32B"
GET_JSON = "bench_http.GetJson"
SLOWDOWN = 1.1  # the fixture's newest default commit, the one the ladder reads


@pytest.fixture
def ladder_results(tmp_path) -> Path:
    results, _commits = site_fixtures.make_results(tmp_path, cost=True, frameworks=site_fixtures.WITH_LADDER)
    return results


def _fixture_ladders(results: Path) -> dict[str, ladder.Ladder]:
    runs = load_runs(results)
    (run,) = latest_runs(runs).values()
    return {lad.workload.cls: lad for lad in ladder.ladders(run, workloads(runs), headline_classes())}


def _instructions(framework: str, case: str) -> float:
    # The default environment's record: a framework's step is its place among its fixture releases.
    known = [r for f, r in site_fixtures.RELEASES if f == framework] + [site_fixtures.DEFAULT_RELEASES[framework]]
    release = site_fixtures.DEFAULT_RELEASES[framework]
    record = site_fixtures.cost_record(framework, release, case, known.index(release))
    assert record is not None
    return record.instructions_per_op


def _seconds(framework: str, cls: str) -> float:
    seconds, _cpu = site_fixtures.TEMPLATE[cls][framework]
    return seconds if framework == "baseline" else seconds * SLOWDOWN


NAN = math.nan


def _run(seconds: dict[str, float | None], instructions: dict[str, float | None]) -> Run:
    """A run of the echo ladder with these figures; a framework left out of a dict is n/a there."""
    names = list(servers.FRAMEWORKS)
    base = seconds.get("baseline")

    def ratio(value: float | None) -> float | None:
        return value / base if value and base else value

    values = {
        f"{ECHO}.track_time_per_op": {(f,): seconds.get(f, NAN) for f in names},
        f"{ECHO}.track_ratio_to_baseline": {(f,): ratio(seconds.get(f, NAN)) for f in names},
        f"{ECHO}.track_server_cpu": {(f,): 99.0 if f in seconds else NAN for f in names},
        f"{ladder.COST_CLASS}.{ladder.INSTRUCTIONS}": {
            (f, "ws_echo_text_32B"): instructions.get(f, NAN) for f in names
        },
    }
    frozen = MappingProxyType({name: MappingProxyType(by_params) for name, by_params in values.items()})
    return Run("m", "c" * 40, 0, 0, "env", MappingProxyType({}), frozen)


ECHO_CASE = BenchmarkCase(ECHO, ECHO, (), tuple(servers.FRAMEWORKS))
ALL_SECONDS = {f: (i + 1) * 10e-6 for i, f in enumerate(servers.LADDER + servers.BESIDE_THE_LADDER)}
ALL_INSTRUCTIONS = {f: (i + 1) * 10_000.0 for i, f in enumerate(servers.LADDER + servers.BESIDE_THE_LADDER)}


def test_the_ladder_workloads_are_the_headline_classes_with_their_cost_cases():
    assert list(ladder.LADDER_WORKLOADS) == headline_classes()
    cases = {case.name: case for case in HEADLINE_CASES}
    headline_loads = {ECHO: catalogue.headline_ws_echo(), GET_JSON: catalogue.headline_get_json()}
    for cls, about in ladder.LADDER_WORKLOADS.items():
        headline = headline_loads[cls]
        # The cost case replays the headline's load on one connection: the same messages or requests.
        assert cases[about.cost_case].workload.load == dataclasses.replace(headline.load, connections=1)
        assert f"{headline.connections} connections" in about.title


def test_rungs_follow_the_ladder_and_leave_out_frameworks_without_the_endpoint(ladder_results):
    found = _fixture_ladders(ladder_results)
    assert [r.framework for r in found[ECHO].rungs] == list(servers.LADDER)
    # picows and websockets serve no HTTP: GET /json climbs baseline -> uvicorn -> starlette -> fastapi.
    assert [r.framework for r in found[GET_JSON].rungs] == ["baseline", "uvicorn", "starlette", "fastapi"]
    assert found[GET_JSON].rungs[1].step.below == "baseline"
    for lad in found.values():
        assert [r.framework for r in lad.beside] == list(servers.BESIDE_THE_LADDER)
        assert all(r.on_ladder for r in lad.rungs) and not any(r.on_ladder for r in lad.beside)
        assert all(r.step is None for r in lad.beside)
        assert lad.rungs[0].step is None  # the bottom rung adds no layer


def test_each_step_is_what_the_rung_adds_over_the_one_below(ladder_results):
    lad = _fixture_ladders(ladder_results)[GET_JSON]
    for below, rung in zip(lad.rungs, lad.rungs[1:], strict=False):
        assert rung.step.below == below.framework
        assert rung.step.seconds_per_op == pytest.approx(
            _seconds(rung.framework, GET_JSON) - _seconds(below.framework, GET_JSON)
        )
        assert rung.step.instructions_per_op == pytest.approx(
            _instructions(rung.framework, "http_get_json") - _instructions(below.framework, "http_get_json")
        )
    fastapi = lad.rungs[-1]
    assert fastapi.ops_per_second == pytest.approx(1 / _seconds("fastapi", GET_JSON))
    assert fastapi.ratio_to_baseline == pytest.approx(_seconds("fastapi", GET_JSON) / 20e-6)
    assert fastapi.server_cpu == 99.5
    assert fastapi.instructions_per_op == pytest.approx(_instructions("fastapi", "http_get_json"))


def test_the_costliest_layer_is_judged_by_instructions_when_every_step_has_them(ladder_results):
    found = _fixture_ladders(ladder_results)
    echo, get_json = found[ECHO], found[GET_JSON]
    assert echo.ranked_by_instructions and get_json.ranked_by_instructions
    # The fixture's made-up counts: websockets over picows on the echo, FastAPI over Starlette on GET /json.
    assert echo.costliest.framework == "websockets"
    assert get_json.costliest.framework == "fastapi"
    added = _instructions("fastapi", "http_get_json") - _instructions("starlette", "http_get_json")
    assert ladder.sentence(get_json) == (
        "On this machine the layer that costs most on GET /json at 64 connections is fastapi "
        f"(+{added:,.0f} instructions per op over starlette)."
    )


def test_a_failed_rung_stays_on_the_ladder_and_breaks_the_steps_on_both_sides():
    seconds = {**ALL_SECONDS, "picows": None}
    instructions = {**ALL_INSTRUCTIONS, "picows": None}
    lad = ladder.ladder(_run(seconds, instructions), ECHO_CASE)
    by_name = {r.framework: r for r in lad.rungs}
    assert list(by_name) == list(servers.LADDER)  # failed is not n/a: the rung is shown
    assert by_name["picows"].seconds_per_op is None
    for framework in ("picows", "websockets"):
        step = by_name[framework].step
        assert step.seconds_per_op is None and step.instructions_per_op is None
    assert by_name["uvicorn"].step.instructions_per_op == pytest.approx(10_000.0)
    # Only measured steps are ranked, by time since two steps have no instruction count.
    assert not lad.ranked_by_instructions
    assert lad.costliest.framework in ("uvicorn", "starlette", "fastapi")
    assert ladder.step_us(by_name["websockets"]) == "failed"
    assert ladder.step_instructions(by_name["picows"]) == "failed"
    assert ladder.step_us(by_name["baseline"]) == "—"


def test_an_na_rung_is_left_out_and_the_step_taken_over_the_one_below_it():
    seconds = {f: s for f, s in ALL_SECONDS.items() if f != "websockets"}
    instructions = {f: n for f, n in ALL_INSTRUCTIONS.items() if f != "websockets"}
    lad = ladder.ladder(_run(seconds, instructions), ECHO_CASE)
    assert [r.framework for r in lad.rungs] == ["baseline", "picows", "uvicorn", "starlette", "fastapi"]
    uvicorn = lad.rungs[2]
    assert uvicorn.step.below == "picows"
    assert uvicorn.step.seconds_per_op == pytest.approx(ALL_SECONDS["uvicorn"] - ALL_SECONDS["picows"])


def test_without_instruction_counts_the_costliest_layer_is_judged_by_time():
    seconds = {**ALL_SECONDS, "starlette": ALL_SECONDS["uvicorn"] + 90e-6}  # starlette adds 90 µs
    lad = ladder.ladder(_run(seconds, {}), ECHO_CASE)
    assert all(math.isnan(r.instructions_per_op) for r in lad.rungs)
    assert all(math.isnan(r.step.instructions_per_op) for r in lad.rungs[1:])
    assert ladder.step_instructions(lad.rungs[1]) == "n/a"
    assert not lad.ranked_by_instructions
    assert lad.costliest.framework == "starlette"
    assert ladder.sentence(lad).endswith("is starlette (+90.0 µs per op over uvicorn).")


def test_no_two_measured_neighbours_names_no_layer():
    lad = ladder.ladder(_run({"baseline": 10e-6, "picows": None}, {}), ECHO_CASE)
    assert [r.framework for r in lad.rungs] == ["baseline", "picows"]
    assert lad.costliest is None
    assert "no layer's cost" in ladder.sentence(lad)


def _ladder_block(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  Ladder: {title}"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  On this machine"))
    return lines[start : end + 1]


def test_terminal_summary_gives_each_headline_ladder_after_the_headline_rows(ladder_results):
    text = summary.render(load_runs(ladder_results), headline_classes())
    assert text.index("  Ladder: ") > text.index("The baseline row is the load generator's ceiling")
    block = _ladder_block(text, "GET /json at 64 connections")
    rows = {
        line.split()[0]: line.split()[1:] for line in block[2:-1] if line.startswith("    ") and "beside" not in line
    }
    assert list(rows) == ["baseline", "uvicorn", "starlette", "fastapi", *servers.BESIDE_THE_LADDER]
    assert block.index("    beside the ladder:") == 2 + 4  # the title, the header, four rungs
    fastapi = rows["fastapi"]
    step_us = (_seconds("fastapi", GET_JSON) - _seconds("starlette", GET_JSON)) * 1e6
    step_instructions = _instructions("fastapi", "http_get_json") - _instructions("starlette", "http_get_json")
    assert fastapi == [
        f"{1 / _seconds('fastapi', GET_JSON):,.0f}",
        f"{_seconds('fastapi', GET_JSON) / 20e-6:.2f}",
        "100",  # server CPU 99.5 %, whole percent
        "%",
        f"{_instructions('fastapi', 'http_get_json'):,.0f}",
        f"+{step_us:,.1f}",
        f"+{step_instructions:,.0f}",
        "<-",
        "costs",
        "most",
    ]
    assert rows["baseline"][-2:] == ["—", "—"]
    assert len(rows["aiohttp"]) == 5  # beside the ladder: no step columns
    assert block[-1] == "  " + ladder.sentence(_fixture_ladders(ladder_results)[GET_JSON])
    echo = _ladder_block(text, "WebSocket echo of 32 B text at 100 connections")
    assert "is websockets (+75,000 instructions per op over picows)." in echo[-1]


def test_terminal_summary_gives_ladders_only_for_the_headline_classes_it_is_given(ladder_results):
    text = summary.render(load_runs(ladder_results), [GET_JSON])
    assert text.count("  Ladder: ") == 1 and "Ladder: GET /json" in text


def test_page_opens_with_the_ladder_a_chart_and_table_per_workload(ladder_results):
    text = frameworks_page.render(load_runs(ladder_results))
    assert text.index('id="ladder"') < text.index('id="side-by-side"')
    elements = Elements(text)
    assert any(a.get("href") == "#ladder" for t, a in elements.found if t == "a")
    charts = elements.select("svg", "ladder")
    assert [c["data-workload"] for c in charts] == [ECHO, GET_JSON]  # benchmarks/headline.txt's order
    tables = elements.select("table", "ladder-table")
    assert [t["data-workload"] for t in tables] == [ECHO, GET_JSON]
    for lad in _fixture_ladders(ladder_results).values():
        bars = elements.select("rect", "rung", workload=lad.workload.name)
        assert [(b["data-framework"], b["data-rung"]) for b in bars] == [
            *((r.framework, "ladder") for r in lad.rungs),
            *((r.framework, "beside") for r in lad.beside),
        ]
        for bar, rung in zip(bars, (*lad.rungs, *lad.beside), strict=True):
            assert float(bar["data-ops-per-second"]) == pytest.approx(rung.ops_per_second, rel=1e-5)
            assert float(bar["data-instructions-per-op"]) == pytest.approx(rung.instructions_per_op, rel=1e-5)
            assert bar["data-costliest"] == str(rung is lad.costliest).lower()
            if rung.step is None:
                assert bar["data-step-us"] == bar["data-step-instructions"] == ""
            else:
                assert float(bar["data-step-us"]) == pytest.approx(rung.step.seconds_per_op * 1e6, rel=1e-5)
                assert float(bar["data-step-instructions"]) == pytest.approx(rung.step.instructions_per_op, rel=1e-5)
        sentence = elements.select("p", "costliest-layer", workload=lad.workload.name)
        assert len(sentence) == 1
        assert ladder.sentence(lad) in elements.text
    # The ladder's bars are not the side-by-side bars the other tests count.
    assert len(elements.select("rect", "bar", workload=GET_JSON)) == 10  # every framework with HTTP


class Cells:
    """A table's rows as lists of cell texts."""

    def __init__(self, table: str) -> None:
        rows: list[list[str]] = []

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list) -> None:
                if tag == "tr":
                    rows.append([])
                elif tag in ("td", "th"):
                    rows[-1].append("")

            def handle_data(self, data: str) -> None:
                if rows and rows[-1]:
                    rows[-1][-1] += data

        Parser().feed(table)
        self.rows = [[cell.strip() for cell in row] for row in rows]


def test_page_table_rows_give_the_columns_in_ladder_order(ladder_results):
    text = frameworks_page.render(load_runs(ladder_results))
    table = text[text.index('<table class="ladder-table" data-workload="bench_http.GetJson"') :]
    table = table[: table.index("</table>")]
    cells = Cells(table)
    assert cells.rows[0] == [
        "framework",
        "ops/s",
        "× baseline",
        "server CPU",
        "instructions/op",
        "layer adds (µs/op)",
        "layer adds (instructions/op)",
    ]
    assert [row[0] for row in cells.rows[1:]] == [
        "baseline",
        "uvicorn",
        "starlette",
        "fastapi",
        "beside the ladder",
        *servers.BESIDE_THE_LADDER,
    ]
    uvicorn = cells.rows[2]
    assert uvicorn[4] == f"{_instructions('uvicorn', 'http_get_json'):,.0f}"
    assert (
        uvicorn[6] == f"+{_instructions('uvicorn', 'http_get_json') - _instructions('baseline', 'http_get_json'):,.0f}"
    )
    assert cells.rows[-1][5:] == ["", ""]  # beside: no layer


def test_page_without_cost_results_judges_the_ladder_by_time(tmp_path):
    results, _commits = site_fixtures.make_results(tmp_path, frameworks=site_fixtures.WITH_LADDER)
    elements = Elements(frameworks_page.render(load_runs(results)))
    bars = elements.select("rect", "rung", workload=ECHO)
    assert all(b["data-instructions-per-op"] == "n/a" for b in bars)
    assert [b["data-step-instructions"] for b in bars if b["data-rung"] == "ladder"][1:] == ["n/a"] * 5
    assert any("µs per op over picows" in t for t in elements.text)  # websockets' +83.6 µs is the largest


def test_page_with_the_first_four_frameworks_still_has_its_ladder(tmp_path):
    results, _commits = site_fixtures.make_results(tmp_path)
    elements = Elements(frameworks_page.render(load_runs(results)))
    bars = elements.select("rect", "rung", workload=GET_JSON)
    assert [(b["data-framework"], b["data-rung"]) for b in bars] == [
        ("baseline", "ladder"),
        ("aiohttp", "beside"),
        ("tornado", "beside"),
    ]
    assert any("no layer's cost" in t for t in elements.text)  # one rung: no step to name


def test_page_without_default_results_says_so_in_the_ladder_section():
    text = frameworks_page.render([])
    ladder_part = text[text.index('id="ladder"') : text.index('id="side-by-side"')]
    assert 'class="empty"' in ladder_part
    assert "No results from the default environment" in ladder_part


def test_chart_draws_a_failed_rung_as_text_and_divides_the_frameworks_beside():
    lad = ladder.ladder(_run({**ALL_SECONDS, "picows": None}, {**ALL_INSTRUCTIONS, "picows": None}), ECHO_CASE)
    chart = Elements(svg.ladder(lad))
    assert [b["data-framework"] for b in chart.select("rect", "rung", rung="ladder")] == [
        f for f in servers.LADDER if f != "picows"
    ]
    (missing,) = chart.select("text", "missing")
    assert missing["data-framework"] == "picows" and missing["data-rung"] == "ladder"
    assert "failed" in chart.text
    (divider,) = chart.select("line", "ladder-divider")
    ladder_bottom = max(float(b["y"]) for b in chart.select("rect", "rung", rung="ladder"))
    beside_top = min(float(b["y"]) for b in chart.select("rect", "rung", rung="beside"))
    assert ladder_bottom < float(divider["y1"]) < beside_top
    websockets = chart.select("rect", "rung", framework="websockets")[0]
    assert websockets["data-step-us"] == websockets["data-step-instructions"] == "failed"


def test_new_frameworks_have_their_own_colors():
    colors = [svg.color(f) for f in servers.FRAMEWORKS]
    assert len(set(colors)) == len(colors)
    assert set(servers.FRAMEWORKS) <= set(svg.COLORS)
