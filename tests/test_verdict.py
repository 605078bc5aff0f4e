"""The verdict (harness/report/verdict.py): every family names a benchmark and a cost case that
exist; each cell is the framework's figure over the reference's in the same run, the right way
round for time and for memory, with its instructions ratio, its range over recent runs and a
mark where either server was client-bound; n/a and failed say so; the page opens with it and
every cell links to a detail on the page; the terminal summary starts with it. Made-up numbers
(small runs built here, and tests/site_fixtures.py); no servers."""

from __future__ import annotations

import math
from types import MappingProxyType

import pytest

import servers
from harness.cost.cases import CASES
from harness.report import claims, page, summary, verdict
from harness.report.results import BenchmarkCase, Run, headline_classes, load_runs, workloads
from harness.stability import benchmark_class
from tests import site_fixtures
from tests.test_site import Elements

NAN = math.nan
ECHO = "bench_websocket.EchoText32B"
MEMORY = "bench_websocket.MemoryPerIdleConnection"
COST = "bench_cost.HeadlineCost"
ENCODE_AIOHTTP, ENCODE_TORNADO = "aiohttp.web.json_response", "tornado.escape.json_encode"


def benchmark_axes(name: str) -> tuple[type, list[str], list[list[str]], list[str]]:
    """The benchmark class a results name ("module.Class · variant ...") stands for, its first
    parameter axis (the frameworks', or the encoders'), its other axes, and the name's variant."""
    cls, *variant = name.split(" · ")
    benchmark = benchmark_class(cls)
    axes = [[str(value) for value in axis] for axis in benchmark.params]
    return benchmark, axes[0], axes[1:], variant


@pytest.mark.parametrize("family", verdict.FAMILIES, ids=lambda f: f.key)
def test_each_family_names_a_benchmark_of_the_suite_and_a_cost_case(family):
    benchmark, _frameworks, axes, variant = benchmark_axes(family.workload)
    assert hasattr(benchmark, family.metric), family
    assert len(axes) == len(variant) and all(v in axis for axis, v in zip(axes, variant, strict=True)), family
    if family.cost is not None:
        cost_cls, case = family.cost
        assert case in {c.name for c in benchmark_class(cost_cls).cases} and case in CASES, family


def _run(
    commit: str,
    seconds: dict[str, float | None],
    cpu: dict[str, float] | None = None,
    instructions: dict[str, float | None] | None = None,
    memory: dict[str, float] | None = None,
    started_at: int = 0,
) -> Run:
    """A default-environment run of the echo headline (and memory) with these figures; a
    framework left out of a dict is n/a there."""
    names = list(servers.FRAMEWORKS)
    values = {
        f"{ECHO}.track_time_per_op": {(f,): seconds.get(f, NAN) for f in names},
        f"{ECHO}.track_server_cpu": {(f,): (cpu or {}).get(f, 99.0) for f in names},
        f"{COST}.track_instructions_per_op": {(f, "ws_echo_text_32B"): (instructions or {}).get(f, NAN) for f in names},
    }
    if memory is not None:
        values[f"{MEMORY}.track_bytes_per_connection"] = {
            (f, c): memory.get(f, NAN) for f in names for c in ("1000", "5000")
        }
    frozen = MappingProxyType({name: MappingProxyType(by_params) for name, by_params in values.items()})
    return Run("m", commit * 40, 0, started_at, "env", MappingProxyType({}), frozen)


def _cells(runs: list[Run], reference: str = "aiohttp") -> dict[str, dict[str, verdict.Cell]]:
    judged = verdict.verdict(runs, workloads(runs), reference)
    return {row.family.key: {c.framework: c for c in row.cells} for row in judged.rows}


def test_a_cell_is_the_frameworks_throughput_over_the_references_with_its_instructions_ratio():
    seconds = {"aiohttp": 20e-6, "tornado": 80e-6, "picows": 10e-6}
    run = _run("a", seconds, instructions={"aiohttp": 70e3, "tornado": 140e3})
    cells = _cells([run])["ws_echo_small"]
    assert cells["tornado"].ratio == pytest.approx(0.25)  # four times slower
    assert cells["picows"].ratio == pytest.approx(2.0)
    assert cells["aiohttp"].ratio == pytest.approx(1.0)
    assert cells["tornado"].instructions_ratio == pytest.approx(2.0)  # twice the instructions
    assert cells["picows"].instructions_ratio is None  # no count: nothing beside it
    assert cells["tornado"].low is None and not cells["tornado"].client_bound  # one run: no range


def test_another_reference_turns_the_ratios_round():
    run = _run("a", {"aiohttp": 20e-6, "tornado": 80e-6})
    assert _cells([run], reference="tornado")["ws_echo_small"]["aiohttp"].ratio == pytest.approx(4.0)


def test_memory_is_better_with_fewer_bytes():
    run = _run("a", {"aiohttp": 20e-6}, memory={"aiohttp": 20_000.0, "granian": 200_000.0, "sanic": 10_000.0})
    cells = _cells([run])["ws_memory"]
    assert cells["granian"].ratio == pytest.approx(0.1) and cells["sanic"].ratio == pytest.approx(2.0)
    assert not cells["granian"].client_bound  # no CPU reading means anything for memory


def test_a_client_bound_server_on_either_side_marks_the_cell():
    run = _run("a", {"aiohttp": 20e-6, "tornado": 80e-6, "sanic": 40e-6}, cpu={"tornado": 70.0})
    cells = _cells([run])["ws_echo_small"]
    assert cells["tornado"].client_bound and not cells["sanic"].client_bound
    run = _run("a", {"aiohttp": 20e-6, "tornado": 80e-6, "sanic": 40e-6}, cpu={"aiohttp": 70.0})
    assert all(c.client_bound for c in _cells([run])["ws_echo_small"].values() if c.ratio is not None)


def test_the_range_spans_the_machines_recent_runs_and_the_newest_is_shown():
    newest = _run("c", {"aiohttp": 20e-6, "tornado": 80e-6}, started_at=3)
    older = [_run("b", {"aiohttp": 20e-6, "tornado": 40e-6}, started_at=2),
             _run("a", {"aiohttp": 20e-6, "tornado": 100e-6}, started_at=1)]  # fmt: skip
    runs = verdict.default_runs([older[1], newest, older[0]], "m")
    assert [r.commit[0] for r in runs] == ["c", "b", "a"]
    cell = _cells(runs)["ws_echo_small"]["tornado"]
    assert cell.ratio == pytest.approx(0.25)
    assert (cell.low, cell.high) == (pytest.approx(0.2), pytest.approx(0.5))


def test_na_and_failed_cells_say_which():
    run = _run("a", {"aiohttp": 20e-6, "tornado": None})
    cells = _cells([run])["ws_echo_small"]
    assert (cells["tornado"].ratio, cells["tornado"].why) == (None, "failed")
    assert (cells["websockets"].ratio, cells["websockets"].why) == (None, "n/a")
    run = _run("a", {"aiohttp": None, "tornado": 80e-6})  # the reference failed: no ratio for anyone
    assert _cells([run])["ws_echo_small"]["tornado"].why == "aiohttp failed"


def test_only_measured_families_get_a_row():
    run = _run("a", {"aiohttp": 20e-6})
    assert [row.family.key for row in verdict.verdict([run], workloads([run])).rows] == ["ws_echo_small"]


@pytest.fixture
def fixture_runs(tmp_path) -> list[Run]:
    results, _commits = site_fixtures.make_results(tmp_path, cost=True, frameworks=site_fixtures.WITH_LADDER)
    return load_runs(results)


def test_the_page_opens_with_the_verdict_and_every_cell_links_to_a_detail(fixture_runs):
    html = page.render(fixture_runs)
    assert html.index('id="verdict"') < html.index('id="ladder"') < html.index('id="side-by-side"')
    elements = Elements(html)
    ids = {attrs["id"] for _tag, attrs in elements.found if "id" in attrs}
    tables = elements.select("table", "verdict")
    assert [t["data-reference"] for t in tables] == list(servers.FRAMEWORKS_UNDER_TEST)
    assert [t["data-reference"] for t in tables if "hidden" not in t] == ["aiohttp"]
    cells = elements.select("td", "cell")
    frameworks = [f for f in servers.FRAMEWORKS_UNDER_TEST]
    assert len(cells) == len(tables) * 2 * len(frameworks)  # the fixture measures echo and GET /json
    links = [attrs["href"] for tag, attrs in elements.found if tag == "a" and attrs.get("href", "").startswith("#w-")]
    assert links and all(link[1:] in ids for link in links)


def test_the_terminal_summary_starts_with_the_verdict(fixture_runs):
    text = summary.render(fixture_runs, headline_classes())
    lines = text.splitlines()
    assert lines[1].startswith("  Verdict: throughput relative to aiohttp")
    echo = next(line for line in lines if line.strip().startswith("WebSocket echo, 32 B"))
    assert len(echo.split()) == 4 + len(servers.FRAMEWORKS_UNDER_TEST)
    assert "!" in echo  # the fixture's Tornado WebSocket server ran at 70 % CPU


def test_cells_of_the_fixture_are_the_same_runs_ratios(fixture_runs):
    found = workloads(fixture_runs)
    (machine,) = {r.machine for r in fixture_runs if not r.pins}
    history = verdict.default_runs(fixture_runs, machine)
    judged = verdict.verdict(history, found)
    echo = next(row for row in judged.rows if row.family.key == "ws_echo_small")
    case = BenchmarkCase(ECHO, ECHO, (), ())
    newest = history[0]
    for c in echo.cells:
        mine, ref = (newest.value(case, "track_time_per_op", f) for f in (c.framework, "aiohttp"))
        if c.ratio is not None:
            assert c.ratio == pytest.approx(ref / mine)
        assert c.low is None or c.low <= c.ratio <= c.high


def full_runs() -> list[Run]:
    """Two runs in which every family is measured for every framework, with instruction counts: the
    tallest table the verdict makes (its cells then show a range too)."""
    names = list(servers.FRAMEWORKS)
    runs = []
    for n, commit in enumerate("ab"):
        values: dict[str, dict] = {}
        for family in verdict.FAMILIES:
            cls, *variant = family.workload.split(" · ")
            combos = {f: (f, *variant) for f in names}
            values.setdefault(f"{cls}.{family.metric}", {}).update(
                {combo: (i + 1 + n) * 1e-5 for i, combo in enumerate(combos.values())}
            )
            values.setdefault(f"{cls}.track_server_cpu", {}).update({combo: 99.0 for combo in combos.values()})
            if family.cost:
                cost_cls, case = family.cost
                values.setdefault(f"{cost_cls}.track_instructions_per_op", {}).update(
                    {(f, case): (i + 1) * 1e4 for i, f in enumerate(names)}
                )
        frozen = MappingProxyType({k: MappingProxyType(v) for k, v in values.items()})
        runs.append(Run("m", commit * 40, 0, n, "env", MappingProxyType({}), frozen))
    return runs


def test_every_family_gets_a_row_when_all_are_measured():
    runs = full_runs()
    judged = verdict.verdict(verdict.default_runs(runs, "m"), workloads(runs))
    assert [row.family.key for row in judged.rows] == [f.key for f in verdict.FAMILIES]
    assert all(c.low is not None for row in judged.rows for c in row.cells)


@pytest.mark.parametrize("claim", claims.CLAIMS, ids=lambda c: c.key)
def test_each_claim_names_a_benchmark_method_and_both_sides_of_the_suite(claim):
    benchmark, sides, axes, variant = benchmark_axes(claim.benchmark)
    assert hasattr(benchmark, claim.method), claim
    assert claim.aiohttp in sides and claim.tornado in sides, (claim, sides)
    assert len(axes) == len(variant) and all(v in axis for axis, v in zip(axes, variant, strict=True)), claim


def _claim_run(values: dict[str, dict[tuple, float | None]]) -> Run:
    frozen = MappingProxyType({k: MappingProxyType(v) for k, v in values.items()})
    return Run("m", "a" * 40, 0, 0, "env", MappingProxyType({}), frozen)


def test_a_claim_is_judged_by_aiohttps_speed_over_tornados_in_the_run():
    run = _claim_run({
        "bench_websocket.ArticleWorkload.track_time_per_op": {("aiohttp",): 1e-5, ("tornado",): 1.2e-5},
        "bench_websocket.EchoText32B.track_time_per_op": {("aiohttp",): 1e-5, ("tornado",): 4e-5},
        "bench_json.Encode31KB.time_encode": {(ENCODE_AIOHTTP,): 1e-3, (ENCODE_TORNADO,): 1e-3},
        "bench_cache.CacheHitMemory.track_time_per_op": {("aiohttp",): 1e-5, ("tornado",): None},
    })  # fmt: skip
    by_key = {f.claim.key: f for f in claims.findings(run, workloads([run]))}
    assert by_key["ws_job"].measured == pytest.approx(1.2)
    assert claims.verdict_word(by_key["ws_job"]) == "borne out"  # the article's 1.21
    assert claims.verdict_word(by_key["ws_steady"]) == "same side, different size"  # 4x
    assert claims.verdict_word(by_key["json_encode"]) == "contradicted"  # the article: Tornado twice as fast
    assert by_key["cache"].measured is None and claims.verdict_word(by_key["cache"]) == "not measured"  # failed
    assert claims.verdict_word(by_key["json_round_trip"]) == "not measured"  # absent from the run


def test_the_claims_follow_the_verdict_and_link_their_evidence(fixture_runs):
    html = page.render(fixture_runs)
    assert html.index('id="verdict"') < html.index('class="claims-title"') < html.index('id="ladder"')
    elements = Elements(html)
    ids = {attrs["id"] for _tag, attrs in elements.found if "id" in attrs}
    rows = [attrs["data-claim"] for tag, attrs in elements.found if tag == "tr" and "data-claim" in attrs]
    assert rows == [c.key for c in claims.CLAIMS]
    table = html[html.index('<table class="claims"') :]
    hrefs = [attrs["href"] for _tag, attrs in Elements(table[: table.index("</table>")]).found if "href" in attrs]
    assert len(hrefs) == len(claims.CLAIMS)
    # On this page where the benchmark has a side-by-side detail (the fixture's echo), else asv's graph.
    assert f"#{verdict.detail_id('fixture-a', BenchmarkCase(ECHO, ECHO, (), ()))}" in hrefs
    assert all(h[1:] in ids if h.startswith("#") else h.startswith("index.html#bench_") for h in hrefs), hrefs
