"""The site (harness/site.py and harness/report/) from fixture results (made-up numbers,
tests/site_fixtures.py): the frameworks page's bars, trend points, n/a and failed values,
client-bound marks, the terminal summary, the link from asv's index, the vendored scripts,
and results from several machines merged."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness import site
from harness.report import page as frameworks_page
from harness.report import summary, svg
from harness.report.assets import ASV_ASSETS
from harness.report.results import BenchmarkCase, load_runs
from tests import site_fixtures


class Elements(HTMLParser):
    """Every start tag of a page as (tag, attributes), plus its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def select(self, tag: str, cls: str, **data: str) -> list[dict]:
        return [
            attrs
            for t, attrs in self.found
            if t == tag
            and cls in (attrs.get("class") or "").split()
            and all(attrs.get(f"data-{k.replace('_', '-')}") == v for k, v in data.items())
        ]


def page(results_dir: Path) -> Elements:
    return Elements(frameworks_page.render(load_runs(results_dir)))


def _newest_default(results: Path) -> Path:
    default_env = (results / "fixture-a").glob("*-virtualenv-py3.11-aiohttp-tornado-websockets.json")
    return max(default_env, key=lambda p: json.loads(p.read_text())["date"])


@pytest.fixture
def fixture_results(tmp_path) -> Path:
    results, _commits = site_fixtures.make_results(tmp_path)
    return results


def test_side_by_side_has_a_bar_per_framework_with_data_and_na_for_missing(fixture_results):
    elements = page(fixture_results)
    bars = elements.select("rect", "bar")
    # GetJson: baseline, aiohttp, tornado (websockets has no HTTP server: n/a); EchoText32B: all four.
    assert len(elements.select("rect", "bar", workload="bench_http.GetJson")) == 3
    assert len(elements.select("rect", "bar", workload="bench_websocket.EchoText32B")) == 4
    assert len(bars) == 7
    missing = elements.select("text", "missing", framework="websockets")
    assert len(missing) == 1
    assert "n/a" in elements.text


def test_side_by_side_uses_the_newest_default_commit(fixture_results):
    elements = page(fixture_results)
    (aiohttp,) = elements.select("rect", "bar", workload="bench_http.GetJson", framework="aiohttp")
    # The third commit is the 10 % slower one; the release envs (also on it) are not "latest".
    assert float(aiohttp["data-ops-per-second"]) == pytest.approx(1 / (170e-6 * 1.1), rel=1e-4)
    (baseline,) = elements.select("rect", "bar", workload="bench_http.GetJson", framework="baseline")
    assert float(baseline["data-ops-per-second"]) == pytest.approx(1 / 20e-6, rel=1e-4)
    assert float(aiohttp["data-ratio-to-baseline"]) == pytest.approx(170 * 1.1 / 20)


def test_side_by_side_is_drawn_to_the_frameworks_scale_with_the_baseline_cut(fixture_results):
    elements = page(fixture_results)
    bars = {b["data-framework"]: b for b in elements.select("rect", "bar", workload="bench_http.GetJson")}
    # The baseline (50,000/s) is ten times aiohttp (5,348/s): on its scale aiohttp would be a sliver.
    assert "off-scale" in bars["baseline"]["class"].split() and float(bars["baseline"]["width"]) == 330
    assert float(bars["aiohttp"]["width"]) > 330 / 2  # the frameworks' fastest sets the scale
    assert float(bars["tornado"]["width"]) == pytest.approx(float(bars["aiohttp"]["width"]) * 170 / 450, rel=1e-2)
    assert not any("off-scale" in b["class"] for name, b in bars.items() if name != "baseline")
    assert len(elements.select("path", "scale-break")) == 2  # the baseline's two charts


def test_client_bound_is_marked_only_below_90_percent_server_cpu(fixture_results):
    elements = page(fixture_results)
    marked = elements.select("rect", "bar", client_bound="true")
    assert [(m["data-workload"], m["data-framework"]) for m in marked] == [("bench_websocket.EchoText32B", "tornado")]
    assert len(elements.select("tspan", "client-bound")) == 1  # on the chart
    assert len(elements.select("span", "client-bound")) == 2  # the legend and the table


def test_terminal_summary_gives_headroom_and_saturation_and_lists_client_bound_figures(fixture_results):
    text = summary.render(load_runs(fixture_results), ["bench_http.GetJson"])
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in text.splitlines() if line.startswith("  bench_")}
    # Only the headline class gets rows; the newest default-environment commit is read.
    assert set(rows) == {("bench_http.GetJson", fw) for fw in ("baseline", "aiohttp", "tornado", "websockets")}
    assert rows[("bench_http.GetJson", "aiohttp")][:2] == [f"{1 / (170e-6 * 1.1):,.0f}", f"{170 * 1.1 / 20:.2f}"]
    assert rows[("bench_http.GetJson", "aiohttp")][-1] == "server"
    assert rows[("bench_http.GetJson", "websockets")] == ["n/a"] * 4  # no HTTP server: nothing is bound
    # Every client-bound framework figure is named, headline or not.
    assert "bench_websocket.EchoText32B [tornado] 70 %" in text
    assert summary.CLIENT_BOUND_MEANS in text  # and what that means is said


def test_terminal_summary_without_default_results_says_so(tmp_path):
    assert "No results from the default environment" in summary.render([], ["bench_http.GetJson"])


def test_failed_value_is_shown_as_failed_not_as_a_bar(fixture_results):
    newest = _newest_default(fixture_results)
    data = json.loads(newest.read_text())
    data["results"]["bench_http.GetJson.track_time_per_op"][0][1] = None  # aiohttp failed
    newest.write_text(json.dumps(data))
    elements = page(fixture_results)
    assert not elements.select("rect", "bar", workload="bench_http.GetJson", framework="aiohttp")
    assert len(elements.select("rect", "bar")) == 6
    assert "failed" in elements.text


def test_trends_plot_each_release_in_version_order(fixture_results):
    elements = page(fixture_results)
    assert len(elements.select("svg", "trend")) == 4  # aiohttp and tornado, two workloads
    points = elements.select("circle", "point", workload="bench_http.GetJson", framework="aiohttp")
    assert [p["data-release"] for p in points] == ["3.9.5", "3.10.11"]
    # Made-up slowdowns: 3.9.5 x1.0, 3.10.11 x1.2.
    assert [float(p["data-seconds-per-op"]) for p in points] == pytest.approx([170e-6, 204e-6])
    assert len(elements.select("circle", "point")) == 6
    # websockets has no release env in the fixture, so no trend chart for it.
    assert not elements.select("svg", "trend", framework="websockets")


def test_no_release_environments_is_said_on_the_page(tmp_path):
    results, _commits = site_fixtures.make_results(tmp_path, releases=False)
    elements = page(results)
    assert elements.select("p", "empty")
    assert any("No release environments have results yet" in t for t in elements.text)
    assert not elements.select("circle", "point")
    assert len(elements.select("rect", "bar")) == 7


def test_no_results_at_all_still_writes_a_page(tmp_path):
    elements = page(tmp_path)
    assert any("No results from the default environment" in t for t in elements.text)


def test_new_benchmark_classes_are_found_without_configuration(fixture_results):
    newest = _newest_default(fixture_results)
    data = json.loads(newest.read_text())
    for name, row in list(data["results"].items()):
        if name.startswith("bench_http.GetJson."):
            data["results"][name.replace("bench_http.GetJson", "bench_cache.GetCached")] = row
    newest.write_text(json.dumps(data))
    assert len(page(fixture_results).select("rect", "bar", workload="bench_cache.GetCached")) == 3


def test_classes_with_more_parameters_split_into_workloads(tmp_path):
    results = tmp_path / "results"
    (results / "m").mkdir(parents=True)
    row = [[1e-5, 2e-5, math.nan, 4e-5], [["'baseline'", "'aiohttp'"], ["32", "1024"]], "v", 0, 0.1]
    data = {
        "commit_hash": "a" * 40,
        "env_name": "e",
        "date": 1,
        "params": {"machine": "m"},
        "requirements": {"aiohttp": ""},
        "result_columns": ["result", "params", "version", "started_at", "duration"],
        "results": {"bench_ws.Echo.track_time_per_op": row},
    }
    (results / "m" / "aaaaaaaa-e.json").write_text(json.dumps(data))
    elements = page(results)
    # asv stores the cross product in order: (baseline, 32), (baseline, 1024), (aiohttp, 32), (aiohttp, 1024).
    assert len(elements.select("rect", "bar", workload="bench_ws.Echo · 32")) == 1  # aiohttp n/a at 32
    assert len(elements.select("rect", "bar", workload="bench_ws.Echo · 1024")) == 2
    assert len(elements.select("text", "missing", framework="aiohttp")) == 1


def test_trend_orders_releases_as_versions_with_pre_releases_first():
    releases = ["3.10.11", "3.9.5", "6.1", "3.14.5", "3.9.5rc1"]
    workload = BenchmarkCase("bench_http.GetJson", "bench_http.GetJson", (), ("baseline", "aiohttp"))
    chart = Elements(svg.trend(workload, "aiohttp", {"m": dict.fromkeys(releases, 1e-4)}))
    plotted = [p["data-release"] for p in chart.select("circle", "point")]
    assert plotted == ["3.9.5rc1", "3.9.5", "3.10.11", "3.14.5", "6.1"]


def test_trend_draws_a_client_bound_release_hollow_and_off_the_line():
    releases = ["3.9.5", "3.10.11", "3.11.18"]
    workload = BenchmarkCase("bench_http.GetJson", "bench_http.GetJson", (), ("baseline", "aiohttp"))
    seconds = {"m": {"3.9.5": 1e-4, "3.10.11": 2e-4, "3.11.18": 1.1e-4}}
    cpu = {"m": {"3.9.5": 99.0, "3.10.11": 60.0, "3.11.18": 98.0}}
    chart = Elements(svg.trend(workload, "aiohttp", seconds, cpu))
    points = {p["data-release"]: p for p in chart.select("circle", "point")}
    assert list(points) == releases  # every measured release is shown
    assert [r for r, p in points.items() if p["data-client-bound"] == "true"] == ["3.10.11"]
    assert points["3.10.11"]["fill"] == "#fff"
    (line,) = [attrs for tag, attrs in chart.found if tag == "polyline"]
    on_line = [f"{float(p['cx']):.1f},{float(p['cy']):.1f}" for r, p in points.items() if r != "3.10.11"]
    assert line["points"] == " ".join(on_line)


def _published(tmp_path: Path) -> tuple[Path, Path]:
    results, _commits = site_fixtures.make_results(tmp_path)
    run = site_fixtures.publish(site_fixtures.asv_config(tmp_path, tmp_path / "repo"))
    assert run.returncode == 0, run.stdout + run.stderr
    return results, tmp_path / "html"


def test_build_links_from_asv_index_once_and_vendors_scripts(tmp_path):
    results, html_dir = _published(tmp_path)
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ASV_ASSETS:
        (assets / name).write_text(f"/* stand-in for {name} */")
    site.build(results, html_dir, assets)
    site.build(results, html_dir, assets)  # publishing twice must not add a second link
    index = (html_dir / "index.html").read_text()
    assert index.count('id="nav-li-frameworks"') == 1
    scripts = [a.get("src") or a.get("href") for t, a in Elements(index).found if t in ("script", "link")]
    assert not [s for s in scripts if s and s.startswith("https://")], scripts
    for name in ASV_ASSETS:
        assert f"vendor/{name}" in scripts
        assert (html_dir / "vendor" / name).read_text() == f"/* stand-in for {name} */"
    assert "integrity=" not in index  # the npm builds are not byte-identical to the CDN's


def test_build_without_assets_keeps_the_cdn_and_says_why(tmp_path, capsys):
    results, html_dir = _published(tmp_path)
    site.build(results, html_dir, tmp_path / "no-assets")
    assert "https://code.jquery.com/" in (html_dir / "index.html").read_text()
    assert "scripts/setup.sh" in capsys.readouterr().err
    assert (html_dir / "frameworks.html").exists()


def test_cli_writes_the_page(tmp_path):
    results, html_dir = _published(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "harness.site", "--results", str(results), "--html", str(html_dir)],
        capture_output=True,
        text=True,
        cwd=Path(site.__file__).parent.parent,
    )
    assert run.returncode == 0, run.stderr
    assert len(Elements((html_dir / "frameworks.html").read_text()).select("rect", "bar")) == 7


def test_several_machines_merge_into_one_site(tmp_path):
    results, _commits = site_fixtures.make_results(tmp_path, machine="fixture-a")
    site_fixtures.copy_machine(results, "fixture-a", "fixture-b")
    run = site_fixtures.publish(site_fixtures.asv_config(tmp_path, tmp_path / "repo"))
    assert run.returncode == 0, run.stdout + run.stderr
    index = json.loads((tmp_path / "html" / "index.json").read_text())
    assert sorted(index["params"]["machine"]) == ["fixture-a", "fixture-b"]
    graph_dirs = {str(p) for p in (tmp_path / "html" / "graphs").rglob("machine-*")}
    assert any(d.endswith("machine-fixture-a") for d in graph_dirs), graph_dirs
    assert any(d.endswith("machine-fixture-b") for d in graph_dirs), graph_dirs
    site.build(results, tmp_path / "html", tmp_path / "no-assets")
    elements = Elements((tmp_path / "html" / "frameworks.html").read_text())
    for machine in ("fixture-a", "fixture-b"):
        assert len(elements.select("rect", "bar", machine=machine)) == 7
        assert len(elements.select("circle", "point", machine=machine)) == 6
    assert [s["data-machine"] for s in elements.select("section", "machine")] == ["fixture-a", "fixture-b"]
