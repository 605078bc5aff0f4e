"""The published site in a real browser: asv's graphs, the frameworks page and the cost
page (a chart point opens its profile page, which opens its flame graph in speedscope)
render in headless Chromium, served over HTTP from a fixture results set (made-up numbers,
tests/site_fixtures.py). Screenshots go to the test's temporary folder, or to the folder
BENCH_ARTIFACTS_DIR names, to keep them. Needs Debian's chromium and
chromium-driver and asv's web libraries: scripts/setup.sh installs them."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import servers
from harness import site
from harness.process import ROOT
from harness.report import page, verdict
from harness.report.assets import ASSETS_DIR, ASV_ASSETS
from tests import site_fixtures

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Screenshots are kept only where this names a folder (a relative path is taken from the checkout):
# a test run writes nothing outside its temporary folders otherwise.
ARTIFACTS_ENV = "BENCH_ARTIFACTS_DIR"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # root without user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",  # no outside network here: no update, sync or component calls
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,1600",
]


def _require_tools() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run scripts/setup.sh (installs chromium and chromium-driver)")
    if not all((ASSETS_DIR / name).is_file() for name in ASV_ASSETS):
        pytest.fail(f"asv's web libraries are not in {ASSETS_DIR}: run scripts/setup.sh")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("selenium is not installed: run scripts/setup.sh (the dev extra)")


@contextlib.contextmanager
def _serve_site(work: Path, cost: bool = False, frameworks: Sequence[str] = site_fixtures.FRAMEWORKS) -> Iterator[str]:
    """Publish the fixture results (with the cost family if ``cost``), build the site, serve html/."""
    _require_tools()
    results, _commits = site_fixtures.make_results(work, cost=cost, frameworks=frameworks)
    publish = site_fixtures.publish(site_fixtures.asv_config(work, work / "repo"))
    assert publish.returncode == 0, publish.stdout + publish.stderr
    site.build(results, work / "html")
    handler = functools.partial(_QuietHandler, directory=str(work / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def served_site(tmp_path_factory) -> Iterator[str]:
    with _serve_site(tmp_path_factory.mktemp("site")) as url:
        yield url


@pytest.fixture(scope="module")
def served_cost_site(tmp_path_factory) -> Iterator[str]:
    # Its own results set: the cost classes would change the asv grid the other tests count.
    with _serve_site(tmp_path_factory.mktemp("cost-site"), cost=True) as url:
        yield url


@pytest.fixture(scope="module")
def served_ladder_site(tmp_path_factory) -> Iterator[str]:
    # Every rung of the ladder, with instruction counts: the first four frameworks alone leave
    # the GET /json ladder a single rung.
    work = tmp_path_factory.mktemp("ladder-site")
    with _serve_site(work, cost=True, frameworks=site_fixtures.WITH_LADDER) as url:
        yield url


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:
    _require_tools()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # Chromium writes crash reports and dconf state under $HOME whatever the profile: a
    # temporary HOME keeps the user's own untouched.
    home = {**os.environ, "HOME": str(tmp_path_factory.mktemp("chromium-home"))}
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER), env=home), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Where screenshots go: BENCH_ARTIFACTS_DIR if set, else a temporary folder."""
    kept = os.environ.get(ARTIFACTS_ENV)
    return ROOT / kept if kept else tmp_path_factory.mktemp("artifacts")


def _screenshot(driver, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(directory / name))


def _wait_for(driver, script: str, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(script))


def test_asv_graph_page_plots_every_commit(served_site, browser, artifacts):
    benchmark = "bench_websocket.EchoText32B.track_time_per_op"
    browser.get(f"{served_site}/index.html#{benchmark}")
    # flot keeps the plot on its placeholder: read the series asv drew on #main-graph.
    points = _wait_for(
        browser,
        "var plot = window.jQuery && $('#main-graph').data('plot');"
        "if (!plot) return null;"
        "var series = plot.getData().filter(function (s) { return s.data && s.data.length; });"
        "return series.length ? series.map(function (s) { return s.data.length; }) : null;",
    )
    _screenshot(browser, artifacts, "asv-graph.png")
    assert "error.html" not in browser.current_url, "asv's scripts failed to load"
    # Three commits of the default env; the release envs add one point each on the last commit.
    assert max(points) == 3, points
    assert browser.execute_script("return document.querySelector('#nav-li-frameworks a').getAttribute('href')") == (
        "frameworks.html"
    )


def test_asv_grid_lists_the_workloads(served_site, browser, artifacts):
    browser.get(f"{served_site}/index.html")
    names = _wait_for(
        browser, "var n = document.querySelectorAll('.benchmark-container'); return n.length ? n.length : null;"
    )
    _screenshot(browser, artifacts, "asv-grid.png")
    assert names == len(site_fixtures.TEMPLATE) * len(site_fixtures.UNITS)


def test_frameworks_page_shows_side_by_side_and_trends(served_site, browser, artifacts):
    browser.get(f"{served_site}/frameworks.html")
    counts = browser.execute_script(
        "function n(q) { return document.querySelectorAll(q).length; }"
        "return {bars: n('svg.side-by-side rect.bar'), missing: n('svg.side-by-side .missing'),"
        " points: n('svg.trend circle.point'), trends: n('svg.trend'),"
        " clientBound: n('rect.bar[data-client-bound=true]'),"
        " visibleBars: Array.from(document.querySelectorAll('rect.bar')).filter("
        "   function (r) { var b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length};"
    )
    _screenshot(browser, artifacts, "frameworks.png")
    # Side by side: 3 HTTP bars (websockets n/a) + 4 WebSocket bars, all drawn with a size.
    assert counts["bars"] == counts["visibleBars"] == 7, counts
    assert counts["missing"] == 1, counts
    assert counts["clientBound"] == 1, counts  # tornado's WebSocket server at 70 % CPU
    # Trends: aiohttp (2 releases) and tornado (1) on both workloads.
    assert counts["trends"] == 4, counts
    assert counts["points"] == 6, counts
    releases = browser.execute_script(
        "return Array.from(document.querySelectorAll("
        "'svg.trend[data-framework=aiohttp] circle.point')).map(function (c) { return c.dataset.release; });"
    )
    assert releases == ["3.9.5", "3.10.11"] * 2, releases


def test_frameworks_page_opens_with_the_ladder_bars_in_ladder_order(served_ladder_site, browser, artifacts):
    browser.get(f"{served_ladder_site}/frameworks.html")
    # Each chart's bars, read in the order they are drawn top to bottom (their boxes on screen),
    # and the divider between the ladder and the frameworks beside it.
    charts = browser.execute_script(
        "function box(e) { return e.getBoundingClientRect(); }"
        "return Array.from(document.querySelectorAll('#ladder ~ section.ladder svg.ladder')).map(function (s) {"
        "  var bars = Array.from(s.querySelectorAll('rect.rung'))"
        "    .sort(function (a, b) { return box(a).top - box(b).top; });"
        "  var divider = s.querySelector('line.ladder-divider');"
        "  return {workload: s.dataset.workload, divider: divider ? box(divider).top : null,"
        "    bars: bars.map(function (r) { var b = box(r); return {framework: r.dataset.framework,"
        "      rung: r.dataset.rung, top: b.top, width: b.width, height: b.height}; })}; });"
    )
    order = browser.execute_script(
        "var h = ['ladder', 'side-by-side', 'releases'].map(function (id) {"
        "  return document.getElementById(id).getBoundingClientRect().top; });"
        "return {headings: h, nav: document.querySelector('nav a[href=\"#ladder\"]') !== null};"
    )
    browser.execute_script("document.getElementById('ladder').scrollIntoView()")
    _screenshot(browser, artifacts, "frameworks-ladder.png")
    assert order["nav"], "no link to #ladder in the page's navigation"
    assert order["headings"] == sorted(order["headings"]), "the ladder is not the page's first section"
    assert [c["workload"] for c in charts] == ["bench_websocket.EchoText32B", "bench_http.GetJson"]
    http_ladder = [f for f in servers.LADDER if servers.FRAMEWORKS[f].http]  # picows and websockets: n/a
    for chart, ladder in zip(charts, (servers.LADDER, http_ladder), strict=True):
        bars = chart["bars"]
        assert all(b["width"] > 0 and b["height"] > 0 for b in bars), chart
        assert [(b["framework"], b["rung"]) for b in bars] == [
            *((f, "ladder") for f in ladder),
            *((f, "beside") for f in servers.BESIDE_THE_LADDER),
        ], chart
        last_rung = max(b["top"] for b in bars if b["rung"] == "ladder")
        first_beside = min(b["top"] for b in bars if b["rung"] == "beside")
        assert last_rung < chart["divider"] < first_beside, chart


VERDICT_BOX = (
    "var t = document.querySelector('table.verdict:not([hidden])'); var b = t.getBoundingClientRect();"
    "return {bottom: b.bottom, right: b.right, height: window.innerHeight, width: window.innerWidth,"
    " scrolled: window.scrollY, cells: t.querySelectorAll('td.cell').length,"
    " rows: t.querySelectorAll('tbody tr').length,"
    " reference: t.dataset.reference};"
)


@contextlib.contextmanager
def _laptop_screen(driver) -> Iterator[None]:
    """The window the issue names (1366 x 768), then back to the other tests' tall one."""
    driver.set_window_size(1366, 768)
    try:
        yield
    finally:
        driver.set_window_size(1280, 1600)


def test_the_verdict_opens_the_page_on_one_screen_and_its_cells_open_their_detail(
    served_ladder_site, browser, artifacts
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with _laptop_screen(browser):
        browser.get(f"{served_ladder_site}/frameworks.html")
        box = browser.execute_script(VERDICT_BOX)
        _screenshot(browser, artifacts, "verdict-1366x768.png")
        assert box["scrolled"] == 0 and box["bottom"] <= box["height"] and box["right"] <= box["width"], box
        assert box["reference"] == "aiohttp"
        assert box["cells"] == 2 * len(servers.FRAMEWORKS_UNDER_TEST), box  # the fixture: echo and GET /json
        browser.find_element(
            By.CSS_SELECTOR, "table.verdict:not([hidden]) tr[data-family=http_get] td[data-framework=tornado] a"
        ).click()
        detail = browser.execute_script(
            "var e = document.getElementById(location.hash.slice(1)); var b = e.getBoundingClientRect();"
            "return {text: e.textContent, top: b.top, height: window.innerHeight};"
        )
        assert "bench_http.GetJson" in detail["text"] and -1 < detail["top"] < detail["height"], detail
        Select(browser.find_element(By.CSS_SELECTOR, "select.reference")).select_by_value("tornado")
        shown = browser.execute_script(
            "return Array.from(document.querySelectorAll('table.verdict'))"
            ".filter(function (t) { return !t.hidden; }).map(function (t) { return t.dataset.reference; });"
        )
        assert shown == ["tornado"]


def test_the_verdict_fits_one_screen_with_every_family_measured(browser, artifacts, tmp_path):
    # The fixture results measure two families; here all of them, each cell with its range and
    # instructions (tests/test_verdict.py's runs), on the page as the site writes it.
    from tests.test_verdict import full_runs

    (tmp_path / "frameworks.html").write_text(page.render(full_runs()))
    with _laptop_screen(browser):
        browser.get((tmp_path / "frameworks.html").as_uri())
        box = browser.execute_script(VERDICT_BOX)
        _screenshot(browser, artifacts, "verdict-every-family-1366x768.png")
    assert box["rows"] == len(verdict.FAMILIES), box
    assert box["bottom"] <= box["height"] and box["right"] <= box["width"], box


def test_cost_chart_point_opens_its_profile_and_flame_graph(served_cost_site, browser, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(f"{served_cost_site}/cost.html")
    point = browser.find_element(
        By.CSS_SELECTOR,
        'svg.cost-trend[data-case="ws_echo_text_32B"][data-framework="aiohttp"] '
        'a.point-link circle.point[data-release="3.10.11"]',
    )
    _screenshot(browser, artifacts, "cost.png")
    point.click()  # a real click on the SVG point: its <a> must take the browser to the profile page
    _wait_for(browser, "return document.querySelector('table.functions') !== null")
    _screenshot(browser, artifacts, "cost-profile.png")
    assert browser.current_url.endswith("/virtualenv-py3.11-aiohttp3.10.11/ws_echo_text_32B/aiohttp.html")
    functions = browser.execute_script(
        "var t = document.querySelector('table.functions');"
        "return {framework: t.dataset.framework, rows: Array.from(t.querySelectorAll('tbody tr')).map("
        "  function (r) { return r.dataset.function; })};"
    )
    assert functions["framework"] == "aiohttp"
    assert len(functions["rows"]) == 40, functions
    assert site_fixtures.INJECTED in functions["rows"] and "_PyEval_EvalFrameDefault" in functions["rows"]
    assert "aiohttp 3.10.11" in browser.find_element(By.TAG_NAME, "h1").text
    flamegraph = browser.find_elements(By.CSS_SELECTOR, "a.flamegraph-link")
    if not browser.execute_script("return fetch('/speedscope/index.html').then(function (r) { return r.ok; })"):
        pytest.skip("speedscope is not vendored (harness/node's npm install): the flame-graph viewer is not checked")
    flamegraph[0].click()
    # speedscope fetches the profile from the link's #profileURL, then titles the page after it and draws on canvas.
    title = _wait_for(
        browser,
        "return document.querySelector('canvas') && document.title.indexOf('ws_echo_text_32B_c100') >= 0"
        " ? document.title : null;",
    )
    _screenshot(browser, artifacts, "cost-flamegraph.png")
    assert "speedscope" in title, title
