"""The cost of TLS for readers (harness/report/tls.py): the table, the page section and the
summary's block, from made-up results."""

from __future__ import annotations

import math
from types import MappingProxyType

from harness.report import page, summary
from harness.report import tls as cost_of_tls
from harness.report.results import Run


def made_up_run() -> Run:
    echo = {  # time per op, plain and over TLS; websockets failed over TLS
        ("baseline", "plain"): 1e-5, ("baseline", "tls"): 1.6e-5,
        ("aiohttp", "plain"): 2e-5, ("aiohttp", "tls"): 4e-5,
        ("websockets", "plain"): 3e-5, ("websockets", "tls"): None,
    }  # fmt: skip
    cpu = {key: 98.0 for key in echo} | {("baseline", "plain"): 60.0}
    values = {
        "bench_tls.EchoTLS.track_time_per_op": echo,
        "bench_tls.EchoTLS.track_server_cpu": cpu,
        "bench_cost.HeadlineCost.track_instructions_per_op": {
            ("baseline", "ws_echo_text_32B"): 26_000.0, ("aiohttp", "ws_echo_text_32B"): 69_692.0,
            ("websockets", "ws_echo_text_32B"): math.nan,
        },
        "bench_cost.TlsCost.track_instructions_per_op": {
            ("baseline", "ws_echo_text_32B_tls"): 51_503.0, ("aiohttp", "ws_echo_text_32B_tls"): 130_409.0,
            ("websockets", "ws_echo_text_32B_tls"): None,
        },
    }  # fmt: skip
    frozen = {name: MappingProxyType(v) for name, v in values.items()}
    return Run("box", "a" * 40, 1, 1, "default", MappingProxyType({}), MappingProxyType(frozen), python="3.11")


def test_each_framework_plain_and_over_tls_with_the_instructions_both_ways():
    (table,) = cost_of_tls.tables(made_up_run())
    rows = {r.framework: r for r in table.rows}
    assert rows["aiohttp"].time_ratio == 2.0 and round(rows["aiohttp"].plain_per_s) == 50_000
    assert round(rows["aiohttp"].instruction_ratio, 3) == 1.871
    assert rows["baseline"].plain_bound == "client" and rows["baseline"].tls_bound == "server"
    assert rows["websockets"].tls_per_s is None and rows["websockets"].instruction_ratio is None
    html = cost_of_tls.html_table(table)
    assert '<tr data-framework="aiohttp"><td>aiohttp</td><td>50,000/s</td><td>25,000/s</td><td>2.00 x</td>' in html
    assert "<td>69,692</td><td>130,409</td><td>1.87 x</td>" in html
    assert 'title="client-bound: the server was not saturated">⚠' in html, "the baseline's plain figure"
    assert "<td>n/a</td><td>failed</td><td>n/a</td>" in html, "websockets: no plain cost, a failed TLS one"


def test_the_page_and_the_summary_show_the_cost_of_tls():
    run = made_up_run()
    html = page.render([run], headline=[])
    assert 'id="tls"' in html and 'class="tls-workload"' in html
    text = summary.render([run], [])
    assert "The cost of TLS: WebSocket echo of 32 B text on 100 connections (bench_tls.EchoTLS)" in text
    assert "aiohttp     50,000/s -> 25,000/s = 2.00x the time; 69,692 -> 130,409 (1.87x)" in text
    assert "baseline    100,000/s -> 62,500/s = 1.60x the time (client-bound)" in text
