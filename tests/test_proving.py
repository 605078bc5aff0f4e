"""The proving commands. agreement: its Node.js WebSocket client counts only verified
echoes and fails with the cause, and it refuses unknown frameworks. stability: it reports
every run of every framework and refuses unknown classes. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import agreement, compare, stability, tls, workloads
from harness.outcomes import Measurement, Summary
from harness.process import ServerProcess
from tests.conftest import fake_server


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


@pytest.mark.parametrize("kind", ["ws", "http"])
def test_a_tls_pair_runs_both_tools_over_tls_on_the_frameworks_own_setting(kind):
    # One round each way: the pair's plumbing (certificates, wss for Node.js, https for wrk),
    # not its figures; both tools verified the server (wrk by one request by hand).
    result = agreement.agree("aiohttp", kind, rounds=2, seconds=1.0 if kind == "http" else 0.3, over_tls=True)
    assert result.workload.endswith("_tls")
    assert all(r.suite_per_s > 0 and r.other_per_s > 0 for r in result.rounds)


def test_the_node_client_verifies_a_tls_server_against_the_runs_certificate(tmp_path):
    workload = workloads.ws_echo(32, 1, tls=True)
    (tmp_path / "served").mkdir(), (tmp_path / "other").mkdir()
    served, other = tls.make_certificate(tmp_path / "served"), tls.make_certificate(tmp_path / "other")
    with workload.server("baseline", None, certificate=served) as server:
        with pytest.raises(RuntimeError, match="self.signed certificate|unable to verify|certificate"):
            agreement.node_ws_echo(server, connections=1, seconds=0.3, size=32, cpu=None, certificate=other)


def test_node_client_refuses_sizes_too_small_for_its_sequence_numbers():
    with ServerProcess("baseline") as server:
        with pytest.raises(RuntimeError, match="usage"):
            agreement.node_ws_echo(server, connections=1, seconds=0.1, size=8, cpu=None)


def test_agreement_pairs_each_window_with_its_neighbour():
    # The host doubles its speed once, between the two tools' windows of the second round. The
    # two tools' medians come from different moments and read 0.5; the rounds' own ratios, 1.0.
    rounds = (
        agreement.Round(100.0, 100.0, 100.0, 100.0),
        agreement.Round(100.0, 200.0, 100.0, 100.0),
        agreement.Round(200.0, 200.0, 100.0, 100.0),
    )
    result = agreement.Agreement("aiohttp", "ws_echo_text_32B_c100", "node ws client", rounds)
    assert result.suite_per_s / result.other_per_s == 0.5
    assert result.ratio == 1.0
    assert result.ratio_range == (0.5, 1.0)
    assert result.comparable
    assert not result.disagrees
    # A tool reading 20 % lower in every round but one disagrees; in six rounds of nine, the host may have.
    lower = agreement.Round(120.0, 100.0, 100.0, 100.0)
    higher = agreement.Round(100.0, 120.0, 100.0, 100.0)
    assert agreement.Agreement("aiohttp", "w", "wrk", (lower,) * 8 + (higher,)).disagrees
    swinging = agreement.Agreement("aiohttp", "w", "wrk", (lower,) * 6 + (higher,) * 3)
    assert swinging.ratio == 1.2 and not swinging.disagrees
    assert round(agreement.Agreement("a", "w", "wrk", (lower,) * 8 + (higher,)).sign_test_p, 3) == 0.039
    # Too few rounds for any split to pass the sign test: the median alone judges.
    assert agreement.Agreement("aiohttp", "w", "wrk", (lower, lower, higher)).disagrees
    slow_client = agreement.Round(100.0, 50.0, 100.0, 60.0)
    assert not agreement.Agreement("aiohttp", "w", "node ws client", (slow_client,)).comparable


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["harness.agreement", "--frameworks", "aiohttp,nope"], "unknown framework 'nope'"),
        (["harness.agreement", "--rounds", "0"], "--rounds must be at least 1"),
        (["harness.stability", "--bench", "bench_http.Nope"], "no benchmark class 'bench_http.Nope'"),
    ],
)
def test_proving_commands_refuse_unknown_names_with_usage_errors(args, message):
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr


def test_stability_prints_every_run_of_every_framework_and_a_verdict():
    result = subprocess.run(
        [sys.executable, "-m", "harness.stability", "--runs", "2", "--bench", "bench_websocket.EchoText32B"],
        capture_output=True, text=True, timeout=300, env={**os.environ, compare.QUICK_ENV: "1"},
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr  # 1 is the verdict "spread above target"
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[3:7]}
    assert set(rows) == {"baseline", "aiohttp", "tornado", "websockets"}, result.stdout
    for values in rows.values():
        times, ratios = values[:2], values[3:5]  # two runs, a spread, two runs, a spread
        assert all(float(t) > 0 for t in times) and all(float(r) > 0 for r in ratios), values
    verdict = "worst spread of a framework's ratio to baseline between runs"
    assert verdict in result.stdout and "the baseline's own" in result.stdout
    # Progress, on stderr: what it is doing and how far it is.
    assert "stability: bench_websocket.EchoText32B (1/1), run 2/2" in result.stderr, result.stderr


@pytest.mark.parametrize(("aiohttp_ratios", "expected"), [((6.0, 6.3), 0), ((6.0, 7.0), 1)])
def test_stability_judges_the_ratio_and_shows_host_drift_as_context(monkeypatch, capsys, aiohttp_ratios, expected):
    # Both runs slowed by 20 % (the host): time per op spreads, the same-round ratio need not.
    baseline_times, runs = iter((5e-6, 6e-6)), iter(aiohttp_ratios)

    def summary(framework: str, seconds_per_op: float, ratio: float) -> Summary:
        return Summary(framework, "", 7, 1000, seconds_per_op, 0, 1 / seconds_per_op, 99, 50, 0, 0, 0, 0, 0, ratio)

    def fake_compare(workload, rounds):
        base, ratio = next(baseline_times), next(runs)
        outcomes = {"baseline": summary("baseline", base, 1.0), "aiohttp": summary("aiohttp", base * ratio, ratio)}
        return Measurement(workload.name, {}, outcomes)

    monkeypatch.setattr(stability.comparison, "compare", fake_compare)
    assert stability.main(["--runs", "2", "--bench", "bench_websocket.EchoText32B"]) == expected
    out = capsys.readouterr().out
    ratio_spread = stability.range_pct(list(aiohttp_ratios))
    assert f"ratio to baseline between runs: {ratio_spread:.1f}%" in out
    assert "the baseline's own: 18.2%" in out  # (6 - 5) / 5.5
