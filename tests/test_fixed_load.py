"""The cost to serve a fixed load: WebSocket echo open loop against a real socket, the
experiment's rates and records on real servers (one short window each), the server's peak
memory, and the report's table, chart and terminal block from made-up results.

tests/fake_server.py's ``slow`` mode echoes every message DELAY_S late, so the open loop's
latency is shown to count from intended send times, as test_http_workloads.py shows for HTTP.
"""

from __future__ import annotations

import math
import os
from types import MappingProxyType

import pytest

from harness import workloads
from harness.compare import QUICK_ENV, QUICK_WINDOW_S
from harness.experiments import fixed_load
from harness.outcomes import Skipped
from harness.process import peak_rss_bytes, reset_peak_rss, rss_bytes
from harness.report import fixed_load as report
from harness.report import page, summary
from harness.report.results import BenchmarkCase, Run
from tests import fake_server as fake_module
from tests.conftest import fake_server as unstarted_fake_server
from tests.conftest import generator_for


def test_websocket_echo_open_loop_counts_latency_from_intended_times():
    # One connection, an echo every DELAY_S at best, messages due twice as often: the queue
    # grows, and a generator timing from the actual send would report about DELAY_S for each.
    rate, seconds = 100.0, 0.2
    count = round(rate * seconds)
    server = unstarted_fake_server("slow").start()
    try:
        with generator_for(workloads.ws_echo(32, 1), server) as generator:
            generator.wait_ready()
            result = generator.window(seconds, rate=rate)
    finally:
        server.stop()
    assert result.ops == count
    assert len(result.schedule_lag_us) == count
    assert result.rate == pytest.approx(rate)
    bound_s = count * fake_module.DELAY_S - (count - 1) / rate  # last completion minus last intended time
    assert max(result.latencies_us) / 1e6 >= bound_s * 0.999


def test_peak_memory_is_read_and_restarted_from_the_present():
    pid = os.getpid()
    reset_peak_rss(pid)
    block = bytearray(64 * 2**20)  # touched: bytearray zero-fills
    high = peak_rss_bytes(pid)
    del block
    assert high >= rss_bytes(pid) + 48 * 2**20
    reset_peak_rss(pid)
    assert peak_rss_bytes(pid) < high - 48 * 2**20


def test_window_lasts_for_enough_samples_within_its_bounds():
    low, high = fixed_load.WINDOW_BOUNDS_S
    assert fixed_load.window_seconds(1e9) == low
    assert fixed_load.window_seconds(1.0) == high
    assert fixed_load.window_seconds(fixed_load.MIN_SAMPLES / 1.5) == pytest.approx(1.5)


def test_slowest_is_a_framework_unless_the_baseline_is_alone():
    assert fixed_load.slowest({"baseline": 10.0, "aiohttp": 50.0, "tornado": 20.0}) == ("tornado", 20.0)
    assert fixed_load.slowest({"baseline": 10.0}) == ("baseline", 10.0)


@pytest.fixture
def smoke_run(monkeypatch):
    monkeypatch.setenv(QUICK_ENV, "1")  # one short capacity round, windows of QUICK_WINDOW_S


def test_every_framework_gets_the_same_rates_and_a_record_at_each(smoke_run):
    measured = fixed_load.fixed_load(workloads.ws_echo(32, 4), 500, ["baseline", "aiohttp"])
    labels = [*fixed_load.SHARES_OF_SLOWEST, "500/s"]
    assert set(measured.outcomes) == {(f, label) for f in ("baseline", "aiohttp") for label in labels}
    assert measured.setup["slowest"] == "aiohttp"
    aiohttp = measured.result(("aiohttp", "25%"))
    for label, share in fixed_load.SHARES_OF_SLOWEST.items():
        assert measured.setup["offered_rps"][label] == pytest.approx(share * aiohttp.capacity_rps)
    for framework in ("baseline", "aiohttp"):
        for label in labels:
            point = measured.result((framework, label))
            assert point.offered_rps == pytest.approx(measured.setup["offered_rps"][label])
            assert point.operations == max(1, round(point.offered_rps * QUICK_WINDOW_S))
            assert point.server_cpu_ms_per_1000_ops > 0
            assert 0 < point.rss_bytes <= point.peak_rss_bytes
            assert point.latency_p50_s <= point.latency_p90_s <= point.latency_p99_s <= point.latency_p999_s
    assert measured.result(("aiohttp", "80%")).share_of_capacity == pytest.approx(0.8)


def test_a_rate_beyond_a_framework_is_not_applicable_with_the_reason(smoke_run):
    measured = fixed_load.fixed_load(workloads.headline_get_json(), 10_000_000, ["baseline", "aiohttp"])
    outcome = measured.outcomes["aiohttp", "10000000/s"]
    assert isinstance(outcome, Skipped)
    assert "10,000,000/s is beyond what aiohttp serves here" in outcome.reason
    assert measured.result(("aiohttp", "50%")).operations > 0  # the shares of the slowest still measured


def test_a_framework_without_the_endpoint_is_not_applicable_at_every_load(smoke_run):
    measured = fixed_load.fixed_load(workloads.headline_get_json(), 100, ["baseline", "websockets"])
    for label in [*fixed_load.SHARES_OF_SLOWEST, "100/s"]:
        assert measured.outcomes["websockets", label] == Skipped("websockets has no HTTP server")
        assert measured.result(("baseline", label)).operations > 0
    assert measured.setup["slowest"] == "baseline"  # no framework measured: the baseline's capacity sets the rates


# The report, from made-up values: aiohttp serves 4,000/s closed loop, Tornado 2,000/s (the
# slowest), the baseline 20,000/s; the fixed rate 1,000/s.
CAPACITY = {"baseline": 20_000.0, "aiohttp": 4_000.0, "tornado": 2_000.0}
CLS = "bench_fixed_load.FixedLoadGetJson"
LOADS = {"25%": 500.0, "50%": 1_000.0, "80%": 1_600.0, "1000/s": 1_000.0}


def made_up_run(skip: tuple[str, str] | None = None) -> Run:
    values: dict[str, dict[tuple[str, ...], float | None]] = {}
    for framework, capacity in CAPACITY.items():
        for load, rate in LOADS.items():
            row = {
                "track_share_of_capacity": rate / capacity * 100,
                "track_server_cpu_per_1000_ops": 1e6 / capacity,  # a saturated core at capacity
                "track_rss": 30 * 2**20,
                "track_peak_rss": 31 * 2**20,
                "track_latency_p50": 1e-3,
                "track_latency_p90": 2e-3,
                "track_latency_p99": 3e-3,
                "track_latency_p999": 4e-3,
            }
            for method, value in row.items():
                value = math.nan if (framework, load) == skip else value
                values.setdefault(f"{CLS}.{method}", {})[(framework, load)] = value
    frozen = {name: MappingProxyType(v) for name, v in values.items()}
    return Run("box", "a" * 40, 0, 0, "default", MappingProxyType({}), MappingProxyType(frozen))


FOUND = {f"{CLS} · {load}": BenchmarkCase(f"{CLS} · {load}", CLS, (load,), tuple(CAPACITY)) for load in LOADS}


def test_the_table_derives_each_offered_rate_and_names_the_slowest():
    [table] = report.tables(made_up_run(), FOUND)
    assert [g.label for g in table.groups] == ["25%", "50%", "80%", "1000/s"]
    assert {g.label: g.offered_rps for g in table.groups} == pytest.approx(LOADS)
    assert table.slowest == "tornado"
    assert table.fixed_group.heading == "fixed rate: 1,000/s"


def test_a_framework_missing_at_the_fixed_rate_leaves_the_rates_to_the_others():
    [table] = report.tables(made_up_run(skip=("tornado", "1000/s")), FOUND)
    assert {g.label: g.offered_rps for g in table.groups} == pytest.approx(LOADS)
    html = report.html_table(table)
    assert 'data-framework="tornado" data-load="1000/s"><td>tornado (slowest)</td><td>n/a</td>' in html


def test_the_page_shows_a_table_and_a_chart_per_workload_and_links_them_from_its_navigation():
    html = page.render([made_up_run()], headline=[])
    assert '<a href="#fixed-load">' in html and '<h2 id="fixed-load">' in html
    assert html.count('<tr class="load-head"') == len(LOADS)
    assert html.count('<tr data-framework="aiohttp" data-load=') == len(LOADS)
    assert html.count('<rect class="bar"') == len(CAPACITY)  # the chart: one bar a framework at the fixed rate
    assert 'data-framework="tornado" data-cpu-ms-per-1000="500"' in html


def test_the_terminal_summary_ends_with_the_fixed_rate_table():
    text = summary.render([made_up_run()], headline_classes=[])
    block = text[text.index("Cost at a fixed load: GET /json on 64 connections") :].splitlines()
    assert "fixed rate: 1,000/s" in block[0]
    assert block[2].split() == ["baseline", "5", "%", "50.0", "30.0", "31.0", "1.00", "2.00", "3.00", "4.00"]
    assert block[4].split()[:4] == ["tornado", "50", "%", "500.0"]
