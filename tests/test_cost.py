"""The cost family (harness/cost): the pieces fed bytes and text by hand, then real servers
under valgrind on small counts: figures that repeat to the instruction, a 2 % slowdown
injected into aiohttp's echo path flagged by the regression check with the function that
grew, and faults (a server that dies or hangs, tools missing) reported with their cause
and nothing left running."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pytest

import servers
from harness import tls
from harness.compare import run_certificate
from harness.cost import callgrind, family, quiet, syscalls
from harness.cost.cases import CASES
from harness.cost.family import measure_costs
from harness.cost.records import CostRecord, FunctionCost, diff, record_path
from harness.cost.replay import HttpReplay, ReplayError, masked_frame
from harness.loadgen.verify import ReplyError
from harness.outcomes import Failed, Skipped
from harness.report import cost_time
from harness.report.regressions import compare_cost
from harness.report.results import Run
from harness.topology import LOOPBACK
from servers import contract
from servers.__main__ import PRELOAD_ENV
from servers.baseline_server import unmask
from tests.conftest import fake_server, live_children, pid_alive
from tests.fake_server import DELAY_S as fake_server_delay

ECHO = dataclasses.replace(CASES["ws_echo_text_32B"], ops=60, warmup_ops=15)


# --- the pieces, fed by hand ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536])
def test_masked_frames_unmask_to_the_payload(size):
    payload = bytes(range(256)) * (size // 256 + 1)
    frame = masked_frame(0x2, payload[:size])
    header = 2 + (2 if 126 <= size < 65536 else 8 if size >= 65536 else 0)
    assert frame[0] == 0x82 and frame[1] & 0x80
    mask = frame[header : header + 4]
    assert unmask(mask, frame[header + 4 :]) == payload[:size]


DUMP = """\
# callgrind format
version: 1
positions: line
events: Ir
summary: 1000

ob=(1) /usr/lib/libpython3.11.so.1.0
fl=(1) ceval.c
fn=(1) _PyEval_EvalFrameDefault
10 300
+2 100
cob=(2) /usr/lib/libz.so.1
cfi=(2) crc32.c
cfn=(2) crc32_z
calls=4 5
* 250
fn=(3) _PyEval_EvalFrameDefault'2
12 50
ob=(2)
fl=(2)
fn=(2)
5 250
fi=(3) inlined.h
7 50
fn=(4) never_called_here
1 250
"""


def test_a_dump_is_read_into_each_function_s_own_instructions(tmp_path):
    path = tmp_path / "callgrind.out.1"
    path.write_text(DUMP)
    total, selves = callgrind.read_dump(path)
    assert total == 1000
    # the call's inclusive 250 is not the caller's; recursion levels are one function
    assert selves == {
        ("_PyEval_EvalFrameDefault", "libpython3.11.so.1.0"): 450,
        ("crc32_z", "libz.so.1"): 300,
        ("never_called_here", "libz.so.1"): 250,
    }
    profile = callgrind.profile(selves, ops=10)
    assert profile[0] == FunctionCost("_PyEval_EvalFrameDefault", "libpython3.11.so.1.0", 45.0)


def test_a_dump_without_a_summary_or_that_does_not_add_up_is_refused(tmp_path):
    path = tmp_path / "callgrind.out.1"
    path.write_text(DUMP.replace("summary: 1000\n", ""))
    with pytest.raises(callgrind.CallgrindError, match="no summary"):
        callgrind.read_dump(path)
    path.write_text(DUMP.replace("summary: 1000", "summary: 100"))
    with pytest.raises(callgrind.CallgrindError, match="add up"):
        callgrind.read_dump(path)


STRACE = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 49.04    0.000944           2       401           sendto
 31.64    0.000609           0       811           epoll_wait
  0.00    0.000000           0         2         1 accept4
------ ----------- ----------- --------- --------- ----------------
100.00    0.001925           1      1214         1 total
"""


def test_strace_s_summary_counts_calls_with_their_errors():
    assert syscalls.parse_summary(STRACE) == {"sendto": 401, "epoll_wait": 811, "accept4": 2}


def record(instructions: int, functions: dict[str, float], **changes) -> CostRecord:
    fields = dict(
        framework="aiohttp",
        release="3.14.5",
        case="ws_echo_text_32B",
        ops=100,
        instructions=instructions,
        syscall_ops=500,
        syscalls={"epoll_wait": 2.0, "recvfrom": 1.0, "sendto": 1.0},
        functions=tuple(FunctionCost(name, "lib.so", per_op) for name, per_op in functions.items()),
        tool={"valgrind": "valgrind-3.19.0"},
        profiled=instructions,
    )
    return CostRecord(**{**fields, **changes})


def test_records_round_trip_and_diffs_put_the_largest_change_first(tmp_path):
    old = record(7_000_000, {"a": 50_000.0, "b": 15_000.0, "c": 5_000.0})
    new = record(7_100_000, {"a": 50_100.0, "b": 14_000.0, "d": 1_900.0})
    path = tmp_path / "r.json"
    new.dump(path)
    assert CostRecord.load(path) == new
    assert new.instructions_per_op == 71_000 and new.syscalls_per_op == 4.0
    assert [(c.key, c.delta) for c in diff(old, new)] == [
        ("c (lib.so)", -5_000.0),
        ("d (lib.so)", 1_900.0),
        ("b (lib.so)", -1_000.0),
        ("a (lib.so)", 100.0),
    ]


def test_a_wrong_reply_fails_the_replay_and_a_silent_server_times_out():
    spec = CASES["http_get_json"].workload.load
    with fake_server("body") as server:
        bad = HttpReplay(dataclasses.replace(spec, url=server.url(contract.JSON)))
        with pytest.raises(ReplyError, match="wrong body"), bad:
            bad.run(3)
    with fake_server("slow") as server:
        slow = HttpReplay(dataclasses.replace(spec, url=server.url(contract.JSON)))
        slow.timeout = fake_server_delay / 4
        started = time.monotonic()
        with pytest.raises(ReplayError, match="no reply"), slow:
            slow.run(3)
        assert time.monotonic() - started < 5


def test_an_idle_server_is_seen_waiting_in_its_event_loop(start_server):
    server = start_server("aiohttp")
    quiet.wait_quiet(server.server_pid, timeout=5)
    assert quiet.waiting(server.server_pid)


@pytest.mark.parametrize("framework", ["aiohttp", "tornado"])
def test_every_replay_kind_runs_verified_against_a_real_server(framework):
    """Natively, a few operations of every case (the smoke run measures the headline ones only)."""
    with run_certificate([case.workload for case in CASES.values()], LOOPBACK) as certificate:
        for config in family.server_groups(list(CASES.values()), framework, certificate):
            with family.server_for(config[0], framework, None, None, certificate) as server:
                for case in config:
                    if case.needs_redis:
                        continue  # tests/test_cache.py covers /cache/redis against a real redis-server
                    with family.replay(case, server, 10.0, certificate) as replay:
                        replay.run(2)
            assert not pid_alive(server.pid)


def test_a_tls_replay_verifies_the_server_against_the_runs_certificate(tmp_path):
    (case,) = [c for c in CASES.values() if c.name == "ws_echo_text_32B_tls"]
    other = tls.make_certificate(tmp_path)
    with run_certificate([case.workload], LOOPBACK) as certificate:
        with family.server_for(case, "baseline", None, None, certificate) as server:
            with pytest.raises(ReplayError, match="TLS handshake with .* failed: .*CERTIFICATE_VERIFY_FAILED"):
                with family.replay(case, server, 10.0, other) as replay:
                    replay.run(1)


def test_the_cost_of_tls_is_counted_under_valgrind():
    cases = {c.name: dataclasses.replace(c, ops=20, warmup_ops=4) for c in CASES.values()}
    # Instructions only, as on the interpreters after the primary (bench_cost.counts_syscalls).
    chosen = [cases["ws_echo_text_32B"], cases["ws_echo_text_32B_tls"]]
    measured = measure_costs(chosen, ["baseline"], count_syscalls=False)
    plain, over_tls = (measured.result(("baseline", name)) for name in ("ws_echo_text_32B", "ws_echo_text_32B_tls"))
    assert over_tls.instructions_per_op > 1.3 * plain.instructions_per_op, "a record encrypted and decrypted each way"
    assert any("libcrypto" in f.obj or "libssl" in f.obj for f in over_tls.functions[:20]), over_tls.functions[:5]
    for record in (plain, over_tls):
        assert record.syscall_ops == 0 and record.syscalls == {}
        assert record.syscalls_unavailable == family.SYSCALLS_NOT_ASKED
        assert math.isnan(record.syscalls_per_op)


# --- real servers under valgrind -----------------------------------------------------------


def run_echo(
    monkeypatch: pytest.MonkeyPatch, preload: str | None = None, beside: str | None = None, spare: bool = False
) -> CostRecord:
    """aiohttp's echo record, measured alone on one CPU, alone on every CPU (``spare``) or side
    by side with ``beside`` (cost_cpus)."""
    if preload:
        monkeypatch.setenv(PRELOAD_ENV, preload)
    else:
        monkeypatch.delenv(PRELOAD_ENV, raising=False)
    if beside:
        finished: list[tuple[str, int, int]] = []
        measured = measure_costs([ECHO], ["aiohttp", beside], progress=lambda *done: finished.append(done))
        assert isinstance(measured.outcomes[beside, ECHO.name], CostRecord)  # it did run beside
        # Progress says who finished, how many of how many (python -m harness.cost prints it).
        assert sorted(f for f, _, _ in finished) == sorted(["aiohttp", beside])
        assert [(done, total) for _, done, total in finished] == [(1, 2), (2, 2)]
    elif spare:  # every CPU for aiohttp: its valgrind server starts while the native run counts
        measured = measure_costs([ECHO], ["aiohttp"])
    else:
        measured = measure_costs([ECHO], ["aiohttp"], cpus=[family.cost_cpus()[-1]])
    return measured.result(("aiohttp", ECHO.name))


def as_run(commit: str, result: CostRecord, results: Path) -> Run:
    result.dump(record_path(results, "box", commit, "env", result.case, result.framework))
    values = {
        "bench_cost.HeadlineCost.track_instructions_per_op": {("aiohttp", result.case): result.instructions_per_op},
        "bench_cost.HeadlineCost.track_syscalls_per_op": {("aiohttp", result.case): result.syscalls_per_op},
    }
    return Run("box", commit, 0, 0, "env", {}, values)


@pytest.fixture(scope="module")
def echoes() -> dict[str, CostRecord]:
    """aiohttp's echo twice as it is, alone and then side by side with Tornado's (on a
    machine of two CPUs or more), and once slowed by tests/slowed_echo.py."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return {
            "first": run_echo(monkeypatch),
            "second": run_echo(monkeypatch, beside="tornado"),
            "spare": run_echo(monkeypatch, spare=len(family.cost_cpus()) > 1),
            "slowed": run_echo(monkeypatch, "tests.slowed_echo"),
        }


def test_the_same_replay_costs_the_same_instructions_and_system_calls(echoes):
    first, second = echoes["first"], echoes["second"]
    assert first.instructions == second.instructions  # to the instruction
    assert first.syscalls == second.syscalls
    # Its valgrind server started on another CPU while the native run counted: the same figures.
    assert echoes["spare"].instructions == first.instructions and echoes["spare"].syscalls == first.syscalls
    assert echoes["spare"].syscall_ops == first.syscall_ops > 0
    assert 40_000 < first.instructions_per_op < 400_000  # a WebSocket echo in Python, not a stub
    assert {"recvfrom", "sendto"} <= first.syscalls.keys()
    assert first.functions[0].function == "_PyEval_EvalFrameDefault"
    assert abs(first.profiled - first.instructions) < 0.05 * first.instructions


def test_a_two_percent_slowdown_is_flagged_with_the_function_that_grew(echoes, tmp_path):
    first, second, slowed = echoes["first"], echoes["second"], echoes["slowed"]
    assert 1.012 < slowed.instructions_per_op / first.instructions_per_op < 1.04
    lines, regressed, _ = compare_cost(as_run("a" * 40, first, tmp_path), as_run("b" * 40, slowed, tmp_path), tmp_path)
    text = "\n".join(lines)
    assert regressed, text
    flagged = next(i for i, line in enumerate(lines) if "MORE" in line)
    assert "instructions_per_op" in lines[flagged]
    assert any("crc32_z" in line for line in lines[flagged + 1 : flagged + 4]), text
    unchanged, regressed, _ = compare_cost(
        as_run("a" * 40, first, tmp_path), as_run("c" * 40, second, tmp_path), tmp_path
    )
    assert not regressed and not any("MORE" in line or "less" in line for line in unchanged), unchanged


def test_a_figure_that_failed_where_it_was_measured_before_is_a_regression(echoes, tmp_path):
    old = as_run("a" * 40, echoes["first"], tmp_path)
    values = {name: {combo: None for combo in by_params} for name, by_params in old.values.items()}
    lines, regressed, compared = compare_cost(old, Run("box", "d" * 40, 0, 0, "env", {}, values), tmp_path)
    assert regressed and compared == 0
    assert any("FAILED" in line and "ws_echo_text_32B" in line for line in lines), lines


def test_a_server_that_dies_under_valgrind_fails_its_figure_with_the_cause(monkeypatch):
    monkeypatch.setenv(PRELOAD_ENV, "tests.dying_echo")
    monkeypatch.setattr(syscalls, "strace_missing", lambda: "not counted in this test")
    before = {c.pid for c in live_children()}
    outcome = measure_costs([ECHO], ["aiohttp"]).outcomes["aiohttp", ECHO.name]
    assert isinstance(outcome, Failed) and "counting instructions" in outcome.cause, outcome
    assert "died" in outcome.cause and "exit status 3" in outcome.cause
    assert not [c for c in live_children() if c.pid not in before]


def test_a_server_that_hangs_fails_within_the_reply_timeout(monkeypatch):
    monkeypatch.setenv(PRELOAD_ENV, "tests.hanging_echo")
    monkeypatch.setattr(family, "NATIVE_REPLY_TIMEOUT_S", 1.0)
    before = {c.pid for c in live_children()}
    started = time.monotonic()
    outcome = measure_costs([ECHO], ["aiohttp"]).outcomes["aiohttp", ECHO.name]
    assert isinstance(outcome, Failed) and "no reply" in outcome.cause, outcome
    assert time.monotonic() - started < 10  # failed natively: no valgrind start for nothing
    assert not [c for c in live_children() if c.pid not in before]


def test_a_framework_not_installed_is_n_a_with_the_cause(monkeypatch):
    reason = "tornado is not installed in this environment"  # as in a release environment of aiohttp
    monkeypatch.setattr(servers, "missing", lambda name: reason if name == "tornado" else None)
    outcome = measure_costs([ECHO], ["tornado"]).outcomes["tornado", ECHO.name]
    assert outcome == Skipped(reason)


def test_missing_tools_make_the_figures_n_a_with_the_cause(monkeypatch):
    monkeypatch.setattr(callgrind.shutil, "which", lambda tool: None)
    measured = measure_costs([ECHO, CASES["http_get_json"]], ["aiohttp", "websockets"])
    assert measured.outcomes["aiohttp", ECHO.name] == Skipped(
        "valgrind is not installed (Debian: apt-get install valgrind; scripts/setup.sh does)"
    )
    assert measured.outcomes["websockets", "http_get_json"] == Skipped("websockets has no HTTP server")


def test_costs_are_set_beside_their_throughput_twins_where_the_server_was_saturated():
    cost = "bench_cost.HeadlineCost.track_instructions_per_op"
    values = {
        cost: {("aiohttp", "http_get_json"): 250_000.0, ("tornado", "http_get_json"): 890_000.0},
        "bench_http.GetJson.track_time_per_op": {("aiohttp",): 40e-6, ("tornado",): 160e-6},
        "bench_http.GetJson.track_server_cpu": {("aiohttp",): 99.0, ("tornado",): 80.0},  # tornado not saturated
    }
    run = Run("box", "a" * 40, 0, 0, "env", {}, values)
    (pair,) = cost_time.pairs(run)
    assert (pair.framework, pair.case) == ("aiohttp", "http_get_json")
    assert pair.server_seconds_per_op == pytest.approx(40e-6 * 0.99)
    assert "1 pairs" in cost_time.render(run)
    doubled = [cost_time.Pair("x", str(i), 10.0**i, 2e-9 * 10.0**i) for i in range(1, 5)]
    assert cost_time.log_correlation(doubled) == pytest.approx(1.0)


def test_system_calls_are_judged_where_they_repeat(tmp_path):
    def run(commit: str, echo: float, large: float) -> Run:
        values = {
            "bench_cost.WorkloadCost.track_instructions_per_op": {
                ("aiohttp", "ws_echo_binary_32B"): 70_000.0,
                ("aiohttp", "http_post_json_echo_1MB"): 442_000_000.0,
            },
            "bench_cost.WorkloadCost.track_syscalls_per_op": {
                ("aiohttp", "ws_echo_binary_32B"): echo,
                ("aiohttp", "http_post_json_echo_1MB"): large,
            },
        }
        return Run("box", commit, 0, 0, "env", {}, values)

    # a 1 MB body's reads follow TCP's segmentation: shown, not judged
    lines, regressed, _ = compare_cost(run("a" * 40, 4.0, 13.4), run("b" * 40, 4.0, 15.6), tmp_path)
    assert not regressed, lines
    lines, regressed, _ = compare_cost(run("a" * 40, 4.0, 13.4), run("b" * 40, 5.0, 13.4), tmp_path)
    assert regressed and any("MORE" in line and "ws_echo_binary_32B" in line for line in lines), lines
