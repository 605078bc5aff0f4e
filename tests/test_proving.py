"""The proving commands. agreement: its Node.js WebSocket client counts only verified
echoes and fails with the cause, and it refuses unknown frameworks. stability: it reports
every run of every framework and refuses unknown classes. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import agreement, measure
from harness.process import ServerProcess
from tests.test_websocket_workloads import fake_server


def test_node_client_counts_verified_echoes_and_samples_the_server():
    with ServerProcess("baseline") as server:
        rate, server_cpu = agreement.node_ws_echo(server, connections=4, seconds=0.3, size=32, cpu=None)
    assert rate > 0
    assert 0 < server_cpu <= 110


@pytest.mark.parametrize(
    ("mode", "message"),
    [("wrong", 'wrong echo: sent "00000000000000000000000000000000"'), ("die", "closed by the server|ECONNRESET")],
)
def test_node_client_fails_with_the_cause(mode, message):
    with fake_server(mode) as server:
        with pytest.raises(RuntimeError, match=message):
            agreement.node_ws_echo(server, connections=2, seconds=2, size=32, cpu=None)


def test_node_client_refuses_sizes_too_small_for_its_sequence_numbers():
    with ServerProcess("baseline") as server:
        with pytest.raises(RuntimeError, match="usage"):
            agreement.node_ws_echo(server, connections=1, seconds=0.1, size=8, cpu=None)


def test_agreement_refuses_an_unknown_framework():
    result = subprocess.run(
        [sys.executable, "-m", "harness.agreement", "--frameworks", "aiohttp,nope"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown framework 'nope'" in result.stderr


def test_stability_prints_every_run_of_every_framework_and_a_verdict():
    result = subprocess.run(
        [sys.executable, "-m", "harness.stability", "--runs", "2", "--bench", "bench_websocket.EchoText32B"],
        capture_output=True, text=True, timeout=300, env={**os.environ, measure.QUICK_ENV: "1"},
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr  # 1 is the verdict "spread above target"
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[3:7]}
    assert set(rows) == {"baseline", "aiohttp", "tornado", "websockets"}, result.stdout
    for values in rows.values():
        times, ratios = values[:2], values[3:5]  # two runs, a spread, two runs, a spread
        assert all(float(t) > 0 for t in times) and all(float(r) > 0 for r in ratios), values
    assert "worst spread of time per op between runs" in result.stdout


def test_stability_refuses_an_unknown_benchmark_class():
    result = subprocess.run(
        [sys.executable, "-m", "harness.stability", "--bench", "bench_http.Nope"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no benchmark class 'bench_http.Nope'" in result.stderr
