"""The cost view (harness/report/cost_page.py) from fixture results and cost records (made-up
numbers, tests/site_fixtures.py): release charts whose every point opens its profile page,
the latest table, profile pages, diff pages against the previous release, runs without
records, the page without cost results, escaping, and the site build that links and copies
it all into html/."""

from __future__ import annotations

import importlib.util
import json
import shutil
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness import site
from harness.cost import records
from harness.report import cost_page
from harness.report.results import load_runs
from tests import site_fixtures

DEFAULT_ENV = "virtualenv-py3.11-aiohttp-tornado-websockets"
HAS_SPEEDSCOPE_MODULE = importlib.util.find_spec("harness.report.speedscope") is not None


class Page(HTMLParser):
    """A page's start tags, the href of the <a> each one sits in, and text per table row."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.tags: list[tuple[str, dict, str | None]] = []  # (tag, attributes, enclosing link)
        self.rows: list[tuple[dict, list[str]]] = []  # (<tr> attributes, its cells' text)
        self.text: list[str] = []
        self._links: list[str | None] = []
        self._cell: list[str] | None = None
        self.feed(path.read_text())

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes, self._links[-1] if self._links else None))
        if tag == "a":
            self._links.append(attributes.get("href"))
        elif tag == "tr":
            self.rows.append((attributes, []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            self._links.pop()
        elif tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def select(self, tag: str, cls: str = "", **data: str) -> list[tuple[dict, str | None]]:
        return [
            (attrs, link)
            for t, attrs, link in self.tags
            if t == tag
            and (not cls or cls in (attrs.get("class") or "").split())
            and all(attrs.get(f"data-{k.replace('_', '-')}") == v for k, v in data.items())
        ]

    def hrefs(self) -> list[str]:
        return [attrs["href"] for tag, attrs, _link in self.tags if tag == "a" and attrs.get("href")]

    def target(self, href: str) -> Path:
        """The file a relative link opens (query and fragment dropped)."""
        return (self.path.parent / urllib.parse.unquote(urllib.parse.urlsplit(href).path)).resolve()

    def framework_rows(self, framework: str) -> list[list[str]]:
        """The latest tables' rows for ``framework``, one per case in page order."""
        return [cells for attrs, cells in self.rows if attrs.get("data-framework") == framework]

    def joined(self) -> str:
        return " ".join(" ".join(self.text).split())


SITE_PAGES = ("index.html", "frameworks.html", "README.md")  # what site.build adds around cost.html


def broken_links(html_dir: Path, whole_site: bool = False) -> list[tuple[str, str]]:
    """Every relative link from cost.html and the pages under html/cost/ whose file is missing
    (links to the rest of the site count only for a ``whole_site`` built by site.build)."""
    broken = []
    for path in [html_dir / cost_page.PAGE, *sorted((html_dir / cost_page.COST_DIR).rglob("*.html"))]:
        page = Page(path)
        for href in page.hrefs():
            if href.startswith("#") or urllib.parse.urlsplit(href).scheme:
                continue
            target = page.target(href)
            if not whole_site and target.parent == html_dir.resolve() and target.name in SITE_PAGES:
                continue
            if not target.is_file():
                broken.append((str(path.relative_to(html_dir)), href))
    return broken


def render(results: Path, html_dir: Path) -> Page:
    html_dir.mkdir(exist_ok=True)
    return Page(cost_page.write(load_runs(results), results, html_dir))


@pytest.fixture
def cost_results(tmp_path) -> tuple[Path, list[str]]:
    return site_fixtures.make_results(tmp_path, cost=True)


def test_cases_come_headline_first_in_the_benchmarks_order(cost_results, tmp_path):
    page = render(cost_results[0], tmp_path / "html")
    sections = [attrs["data-case"] for attrs, _link in page.select("section", "case")]
    assert sections == ["ws_echo_text_32B", "http_get_json", "ws_echo_binary_32B"]
    assert "Cost per operation" in page.joined()
    assert any(href == cost_page.README_LINK for href in page.hrefs())  # README's section on these numbers


def test_every_release_point_links_to_its_profile_page(cost_results, tmp_path):
    results, _commits = cost_results
    html_dir = tmp_path / "html"
    page = render(results, html_dir)
    points = page.select("circle", "point")
    # aiohttp at 3.9.5 and 3.10.11, tornado at 6.4.2, on both headline cases; WorkloadCost has no releases.
    assert len(points) == 6
    assert all(link for _attrs, link in points), "a release point without a link"
    assert len({link for _attrs, link in points}) == 6
    for attrs, link in points:
        target = page.target(link)
        assert target.is_file(), link
        assert (
            target
            == (
                html_dir
                / "cost"
                / "fixture-a"
                / _commits[-1][:12]
                / f"virtualenv-py3.11-{attrs['data-framework']}{attrs['data-release']}"
                / attrs["data-case"]
                / f"{attrs['data-framework']}.html"
            ).resolve()
        )
        profile = Page(target)
        assert f"{attrs['data-framework']} {attrs['data-release']} · {attrs['data-case']}" in profile.joined()
    releases = [
        a["data-release"] for a, _l in page.select("circle", "point", case="ws_echo_text_32B", framework="aiohttp")
    ]
    assert releases == ["3.9.5", "3.10.11"]  # PEP 440 order, not string order
    expected = [site_fixtures.cost_record("aiohttp", r, "ws_echo_text_32B", step) for step, r in enumerate(releases)]
    plotted = page.select("circle", "point", case="ws_echo_text_32B", framework="aiohttp")
    assert [float(a["data-instructions-per-op"]) for a, _l in plotted] == pytest.approx(
        [r.instructions_per_op for r in expected]
    )
    assert not broken_links(html_dir)


def test_latest_table_gives_values_releases_and_diffs_against_the_previous_release(cost_results, tmp_path):
    page = render(cost_results[0], tmp_path / "html")
    # The first latest table (ws_echo_text_32B): framework, release, instr/op, syscalls/op, profile,
    # flame graph, change.
    table = {framework: page.framework_rows(framework)[0] for framework in site_fixtures.FRAMEWORKS}
    aiohttp = site_fixtures.cost_record("aiohttp", "3.14.5", "ws_echo_text_32B", 2)
    assert table["aiohttp"][:4] == ["aiohttp", "3.14.5", f"{aiohttp.instructions_per_op:,.0f}", "3.00"]
    assert table["aiohttp"][4] == "profile"
    assert table["aiohttp"][5].startswith("flame graph")
    assert table["aiohttp"][6] == "diff vs 3.10.11"  # 3.14.5 is newer than every release environment
    assert table["tornado"][6] == "diff vs 6.4.2"
    assert table["websockets"][6] == "" and table["baseline"][6] == ""  # no earlier release measured
    assert table["baseline"][1] == "—"
    # http_get_json: websockets has no HTTP server; ws_echo_binary_32B: tornado's measurement failed.
    assert page.framework_rows("websockets")[1][2:5] == ["n/a", "n/a", ""]
    assert page.framework_rows("tornado")[2][2:5] == ["failed", "failed", ""]


def test_profile_page_shows_system_calls_and_the_top_40_functions(cost_results, tmp_path):
    results, commits = cost_results
    html_dir = tmp_path / "html"
    render(results, html_dir)
    path = html_dir / "cost" / "fixture-a" / commits[-1][:12] / DEFAULT_ENV / "ws_echo_text_32B" / "tornado.html"
    page = Page(path)
    record = site_fixtures.cost_record("tornado", "6.6.1", "ws_echo_text_32B", 1)
    text = page.joined()
    for fact in ("tornado", "6.6.1", "ws_echo_text_32B", commits[-1][:12], DEFAULT_ENV):
        assert fact in text
    assert f"{record.instructions_per_op:,.0f} instructions/op" in text
    assert "4.00 syscalls/op" in text
    syscalls = {cells[0]: cells[1] for attrs, cells in page.rows[1:] if len(cells) == 2}
    assert syscalls == {"epoll_wait": "2.00", "recvfrom": "1.00", "sendto": "1.00"}
    functions = [(attrs["data-function"], cells) for attrs, cells in page.rows if "data-function" in attrs]
    assert len(functions) == cost_page.TOP_FUNCTIONS < len(record.functions)
    largest = sorted(record.functions, key=lambda f: -f.per_op)[:40]
    assert [name for name, _cells in functions] == [f.function for f in largest]
    name, cells = functions[0]
    assert cells[2] == f"{largest[0].per_op:,.1f}"
    assert cells[3] == f"{100 * largest[0].per_op / record.instructions_per_op:.1f} %"
    assert page.select("a", "diff-link") and page.select("a", "flamegraph-link")
    assert any(page.target(h) == (html_dir / "cost.html").resolve() for h in page.hrefs())
    copied = page.target(next(h for h in page.hrefs() if h.endswith("/tornado.json") or h == "tornado.json"))
    assert records.CostRecord.load(copied) == record  # the record itself, copied into html/


def test_diff_page_lists_the_largest_change_first(cost_results, tmp_path):
    results, commits = cost_results
    html_dir = tmp_path / "html"
    render(results, html_dir)
    release_dir = html_dir / "cost" / "fixture-a" / commits[-1][:12] / "virtualenv-py3.11-aiohttp3.10.11"
    page = Page(release_dir / "ws_echo_text_32B" / "aiohttp.diff.html")
    old = site_fixtures.cost_record("aiohttp", "3.9.5", "ws_echo_text_32B", 0)
    new = site_fixtures.cost_record("aiohttp", "3.10.11", "ws_echo_text_32B", 1)
    assert "aiohttp · ws_echo_text_32B: 3.9.5 → 3.10.11" in page.joined()
    totals = {cells[0]: cells[1:] for _attrs, cells in page.rows if cells and cells[0].endswith("/op")}
    change = new.instructions_per_op - old.instructions_per_op
    assert totals["instructions/op"] == [
        f"{old.instructions_per_op:,.0f}",
        f"{new.instructions_per_op:,.0f}",
        f"{change:+,.0f}",
        f"{100 * change / old.instructions_per_op:+.1f} %",
    ]
    assert totals["syscalls/op"][2:] == ["+0.00", "+0.0 %"]
    changes = [(attrs["data-function"], cells) for attrs, cells in page.rows if "data-function" in attrs]
    assert [name for name, _cells in changes] == [
        f"{site_fixtures.INJECTED} (fixture_aiohttp.so)",
        f"{site_fixtures.SECOND} (fixture_aiohttp.so)",
    ]  # the only two functions that changed, largest first
    name, cells = changes[0]
    assert cells[2:] == [
        f"{500.0:,.1f}",
        f"{500.0 + site_fixtures.INJECTED_STEP:,.1f}",
        f"{site_fixtures.INJECTED_STEP:+,.1f}",
        f"{100 * site_fixtures.INJECTED_STEP / old.instructions_per_op:+.1f} %",
    ]
    assert changes[1][1][4] == f"{-site_fixtures.SECOND_STEP:+,.1f}"
    linked = {page.target(h) for h in page.hrefs()}
    assert (release_dir / "ws_echo_text_32B" / "aiohttp.html").resolve() in linked
    previous = html_dir / "cost" / "fixture-a" / commits[-1][:12] / "virtualenv-py3.11-aiohttp3.9.5"
    assert (previous / "ws_echo_text_32B" / "aiohttp.html").resolve() in linked


def test_runs_without_records_show_their_values_and_say_no_profile_recorded(cost_results, tmp_path):
    results, commits = cost_results
    html_dir = tmp_path / "html"
    # The newest default run and aiohttp 3.9.5 lose their records (and flame graphs); asv's values stay.
    shutil.rmtree(records.run_dir(results, "fixture-a", commits[-1], DEFAULT_ENV))
    shutil.rmtree(records.run_dir(results, "fixture-a", commits[-1], "virtualenv-py3.11-aiohttp3.9.5"))
    page = render(results, html_dir)
    aiohttp = page.framework_rows("aiohttp")[0]
    expected = site_fixtures.cost_record("aiohttp", "3.14.5", "ws_echo_text_32B", 2)
    assert aiohttp[2:5] == [f"{expected.instructions_per_op:,.0f}", "3.00", cost_page.NO_PROFILE]
    assert aiohttp[1] == "—"  # the default environment's release is known only from its record
    assert not [a for a, _l in page.select("a", "profile-link") if DEFAULT_ENV in a["href"]]
    # The 3.9.5 point is still plotted, unlinked; 3.10.11's diff names what is missing instead of linking.
    (old_point,) = page.select("circle", "point", case="ws_echo_text_32B", framework="aiohttp", release="3.9.5")
    assert old_point[1] is None
    (new_point,) = page.select("circle", "point", case="ws_echo_text_32B", framework="aiohttp", release="3.10.11")
    assert new_point[1] is not None
    assert f"3.9.5: {cost_page.NO_PROFILE}" in page.joined()
    assert not broken_links(html_dir)
    assert not (html_dir / "cost" / "fixture-a" / commits[-1][:12] / DEFAULT_ENV).exists()


def test_without_cost_results_the_page_says_how_to_record_them(tmp_path):
    results, _commits = site_fixtures.make_results(tmp_path, cost=False)
    for source in (results, tmp_path / "nothing"):
        page = render(source, tmp_path / "html")
        (placeholder,) = page.select("p", "empty")
        assert placeholder[0]["id"] == "no-cost"
        assert "No cost results recorded yet" in page.joined() and "scripts/bench.sh" in page.joined()
        assert not page.select("svg") and not page.select("table")
        assert not list((tmp_path / "html" / "cost").rglob("*"))


def test_names_from_results_are_escaped_and_kept_inside_html(cost_results, tmp_path):
    results, _commits = cost_results
    hostile = '<b>x</b>&"/../'
    for path in (results / "fixture-a").glob("*.json"):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        for name, row in data["results"].items():
            if name.startswith("bench_cost.WorkloadCost"):
                row[1][1] = [repr(hostile)]
        path.write_text(json.dumps(data))
    page = render(results, tmp_path / "html")
    raw = (tmp_path / "html" / "cost.html").read_text()
    assert "<b>x</b>" not in raw and "&lt;b&gt;x&lt;/b&gt;&amp;&quot;/../" in raw
    assert [a["data-case"] for a, _l in page.select("section", "case")][-1] == hostile
    for written in (tmp_path / "html").rglob("*"):
        assert written.resolve().is_relative_to((tmp_path / "html").resolve())


def test_site_build_links_the_page_and_copies_what_it_links(cost_results, tmp_path):
    results, commits = cost_results
    run = site_fixtures.publish(site_fixtures.asv_config(tmp_path, tmp_path / "repo"))
    assert run.returncode == 0, run.stdout + run.stderr
    html_dir = tmp_path / "html"
    site.build(results, html_dir, tmp_path / "no-assets")
    site.build(results, html_dir, tmp_path / "no-assets")  # twice: still one link each
    index = (html_dir / "index.html").read_text()
    assert index.count('id="nav-li-cost"') == 1 and 'href="cost.html"' in index
    assert (html_dir / "frameworks.html").read_text().count('href="cost.html"') == 1
    assert (html_dir / "README.md").read_text().startswith("# asyncweb-bench")
    assert not broken_links(html_dir, whole_site=True)
    profile = Page(
        html_dir / "cost" / "fixture-a" / commits[-1][:12] / DEFAULT_ENV / "ws_echo_text_32B" / "aiohttp.html"
    )
    (flamegraph, _link) = profile.select("a", "flamegraph-link")[0]
    if not HAS_SPEEDSCOPE_MODULE:
        pytest.skip("harness/report/speedscope.py is not there yet: the flame-graph viewer link is not checked")
    if not (html_dir / "speedscope").is_dir():
        # The viewer is not installed here: the flame graph is linked as the copied speedscope JSON.
        assert json.loads(profile.target(flamegraph["href"]).read_text()) == site_fixtures.SPEEDSCOPE
        return
    # The link opens the vendored viewer on the flame graph copied beside the run's pages.
    href = flamegraph["href"]
    assert profile.target(href).is_relative_to((html_dir / "speedscope").resolve())
    assert profile.target(href).is_file()
    copied = html_dir / "cost" / "fixture-a" / commits[-1][:12] / DEFAULT_ENV / "flamegraphs"
    copied = copied / "ws_echo_text_32B_c100" / "aiohttp.speedscope.json"
    assert json.loads(copied.read_text()) == site_fixtures.SPEEDSCOPE
    assert "ws_echo_text_32B_c100/aiohttp.speedscope.json" in urllib.parse.unquote(href)
