"""The harness: server lifecycle, failure paths, generators end to end, interleaved runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import servers
from harness import compare, workloads
from harness.compare import Rounds
from harness.generator import Generator, GeneratorError
from harness.outcomes import Failed, Skipped, Summary
from harness.process import ROOT, ServerError, ServerProcess, cpu_plan, stop_all
from servers import contract
from tests.conftest import fake_server, generator_for, http, pid_alive

QUICK = Rounds(rounds=2, window_s=0.2, warmup_s=0.1)


def wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_server_binds_port_zero_reports_it_and_stops_cleanly():
    server = ServerProcess("aiohttp").start()
    try:
        assert server.port and server.port > 0
        assert http(server.url(contract.HEALTH))[0] == 200
    finally:
        assert server.stop() == 0
    assert not pid_alive(server.pid)
    assert server.stop() == 0  # idempotent


def test_a_running_server_is_not_started_again():
    # ``with server.start()`` once started a second server and orphaned the first.
    with ServerProcess("baseline") as server:
        first = server.pid
        with pytest.raises(ServerError, match="already running"):
            server.start()
        assert server.pid == first
    assert not pid_alive(first)


def test_servers_stopped_together_each_shut_down_gracefully():
    # One SIGTERM each, sent before waiting on any: a second would interrupt a server's own
    # shutdown, and a server that outlived its wait would be killed (exit status -9).
    started = [ServerProcess(name).start() for name in ("baseline", "aiohttp", "starlette")]
    stop_all(started)
    assert [s.process.returncode for s in started] == [0, 0, 0]
    assert not any(pid_alive(s.pid) for s in started)
    stop_all(started)  # idempotent, as stop() is


def test_kill_ends_a_server_at_once_and_stop_still_closes_it():
    server = ServerProcess("baseline").start()
    server.kill()
    assert server.process.returncode == -signal.SIGKILL
    assert server.stop() == -signal.SIGKILL


def test_server_is_pinned_to_the_server_cpu():
    server_cpu, generator_cpus = cpu_plan()
    if server_cpu is None:
        pytest.skip("one CPU: nothing is pinned")
    with ServerProcess("baseline", cpu=server_cpu) as server:
        assert os.sched_getaffinity(server.pid) == {server_cpu}
    assert server_cpu not in generator_cpus


def test_a_server_imports_on_every_cpu_and_every_thread_is_pinned_once_ready():
    server_cpu, _ = cpu_plan()
    if server_cpu is None:
        pytest.skip("one CPU: nothing is pinned")
    # granian starts its runtime threads before it prints its ready line.
    server = ServerProcess("granian", cpu=server_cpu).launch()
    try:
        assert os.sched_getaffinity(server.pid) == os.sched_getaffinity(0)  # launched, not waited for yet
        server.ready()
        threads = os.listdir(f"/proc/{server.pid}/task")
        assert len(threads) > 1
        assert {tid: os.sched_getaffinity(int(tid)) for tid in threads} == {tid: {server_cpu} for tid in threads}
    finally:
        server.stop()


def test_a_generator_runs_on_its_own_cpu():
    server_cpu, generator_cpus = cpu_plan()
    if server_cpu is None:
        pytest.skip("one CPU: nothing is pinned")
    with ServerProcess("baseline", cpu=server_cpu) as server:
        with Generator(workloads.ws_echo(32, 2).load_spec(server), generator_cpus, 1) as generator:
            generator.wait_ready()  # it pinned itself once its imports were done
            assert os.sched_getaffinity(generator.processes[0].pid) == {generator_cpus[0]}


def test_server_that_exits_before_ready_is_an_error_with_its_stderr():
    command = [sys.executable, "-c", "import sys; sys.stderr.write('boom: bad config'); sys.exit(3)"]
    with pytest.raises(ServerError, match=r"exited with status 3 before it was ready(.|\n)*boom: bad config"):
        ServerProcess("fake", command=command).start()


def test_server_that_never_becomes_ready_times_out_and_is_killed(tmp_path):
    pidfile = tmp_path / "pid"
    command = [
        sys.executable,
        "-c",
        f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)",
    ]
    started = time.monotonic()
    with pytest.raises(ServerError, match="did not become ready within 1s"):
        ServerProcess("sleeper", command=command, ready_timeout=1).start()
    assert time.monotonic() - started < 10
    assert wait_gone(int(pidfile.read_text()))


def test_server_that_dies_is_reported_by_check_alive():
    server = ServerProcess("tornado").start()
    try:
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(timeout=5)
        with pytest.raises(ServerError, match=r"tornado server died \(exit status -9\)"):
            server.check_alive()
    finally:
        server.stop()


def test_no_server_outlives_a_sigkilled_parent(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        from harness.process import ServerProcess
        server = ServerProcess("aiohttp").start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        server_pid = int(parent.stdout.readline())
        assert pid_alive(server_pid)
    finally:
        parent.kill()
        parent.wait()
    assert wait_gone(server_pid), f"server {server_pid} outlived its SIGKILLed parent"


def test_compare_counts_verified_replies_for_every_framework():
    result = compare.compare(workloads.ws_echo(32, 4), rounds=QUICK)
    assert set(result.outcomes) == set(servers.FRAMEWORKS)
    for summary in result.outcomes.values():
        assert isinstance(summary, Summary), summary
        assert summary.rounds == 2 and summary.ops > 0
        assert summary.seconds_per_op > 0 and summary.latency_p99_s >= summary.latency_p50_s > 0
        assert 0 < summary.server_cpu_pct <= 110
        assert summary.ratio_to_baseline > 0
        assert summary.response_bytes is None  # only HTTP generators count bytes
    assert result.outcomes["baseline"].ratio_to_baseline == 1.0
    assert result.setup["pinned"] == (cpu_plan()[0] is not None)


def test_a_grid_shares_each_server_between_workloads_that_start_it_alike(monkeypatch):
    started, processes = [], []
    real_launch = ServerProcess.launch

    def counted(self):
        started.append((self.framework, "--compression" in self.command))
        processes.append(self)
        return real_launch(self)

    monkeypatch.setattr(ServerProcess, "launch", counted)
    grid = [workloads.ws_echo(32, 2), workloads.ws_echo(1024, 2, binary=True), workloads.ws_echo_json(256, 2, "on")]
    measured = compare.compare_each(grid, ["baseline", "aiohttp", "picows"], QUICK)
    # Echo 32 B and 1 KiB share a server; deflate on needs another (picows has none: n/a).
    expected = [("baseline", False), ("aiohttp", False), ("picows", False), ("baseline", True), ("aiohttp", True)]
    assert sorted(started) == sorted(expected)
    assert measured[grid[2].name].outcomes["picows"] == Skipped("picows implements no permessage-deflate")
    for measurement in measured.values():
        for framework in ("baseline", "aiohttp"):
            assert isinstance(measurement.outcomes[framework], Summary), measurement.outcomes[framework]
    assert not [p.pid for p in processes if pid_alive(p.pid)]  # the pool stopped them when the grid was done


def test_a_pooled_server_that_died_is_replaced_for_the_next_workload():
    pool = compare.ServerPool()
    try:
        first = pool.server(workloads.ws_echo(32, 2), "baseline", None)
        assert pool.server(workloads.ws_echo(64, 2), "baseline", None) is first
        first.process.kill()
        first.process.wait()
        second = pool.server(workloads.ws_echo(128, 2), "baseline", None)
        assert second is not first and second.process.poll() is None
    finally:
        pool.close()
    assert not pid_alive(second.pid)


def test_frameworks_not_selected_are_skipped_with_the_reason(monkeypatch):
    monkeypatch.setenv(servers.SELECTION_ENV, "tornado")
    result = compare.compare(workloads.ws_echo(32, 2), ["baseline", "aiohttp", "tornado"], QUICK)
    assert result.outcomes["aiohttp"] == Skipped(f"aiohttp is not selected ({servers.SELECTION_ENV}=tornado)")
    assert isinstance(result.outcomes["tornado"], Summary) and isinstance(result.outcomes["baseline"], Summary)


def test_the_baseline_is_not_measured_alone_when_no_framework_selected_serves_the_workload(monkeypatch):
    monkeypatch.setenv(servers.SELECTION_ENV, "websockets")  # as in a release environment of websockets
    result = compare.compare(workloads.http_get(contract.JSON, 2), ["baseline", "websockets"], QUICK)
    assert result.outcomes["websockets"] == Skipped("websockets has no HTTP server")
    assert isinstance(result.outcomes["baseline"], Skipped)
    assert "none selected here can run" in result.outcomes["baseline"].reason
    assert "websockets has no HTTP server" in result.outcomes["baseline"].reason
    http_get = workloads.http_get(contract.JSON, 2)
    assert compare.baseline_alone(http_get, ["baseline", "aiohttp", "websockets"])  # aiohttp is not selected
    monkeypatch.setenv(servers.SELECTION_ENV, "websockets,aiohttp")
    assert compare.baseline_alone(http_get, ["baseline", "aiohttp", "websockets"]) is None
    monkeypatch.setenv(servers.SELECTION_ENV, "baseline")  # the baseline named by itself runs
    assert compare.baseline_alone(http_get, ["baseline", "websockets"]) is None
    monkeypatch.delenv(servers.SELECTION_ENV)
    assert compare.baseline_alone(http_get, ["baseline", "websockets"]) is None


def test_compare_skips_frameworks_without_the_endpoint():
    result = compare.compare(workloads.http_get(contract.JSON, 2), ["baseline", "websockets"], QUICK)
    assert result.outcomes["websockets"] == Skipped("websockets has no HTTP server")
    assert result.outcomes["baseline"].ops > 0
    assert result.outcomes["baseline"].response_bytes > len(contract.PLAINTEXT_BODY)


def test_a_server_killed_mid_measurement_fails_that_framework_with_the_cause(monkeypatch):
    real = compare.measure_round

    def kill_tornado_in_round_two(contender, window_s):
        if contender.framework == "tornado" and len(contender.rounds) == 1:
            os.kill(contender.server.pid, signal.SIGKILL)
        return real(contender, window_s)

    monkeypatch.setattr(compare, "measure_round", kill_tornado_in_round_two)
    started = time.monotonic()
    result = compare.compare(workloads.ws_echo(32, 4), ["baseline", "tornado"], QUICK)
    assert time.monotonic() - started < 60
    assert isinstance(result.outcomes["tornado"], Failed)
    assert "tornado server died" in result.outcomes["tornado"].cause
    assert result.outcomes["baseline"].rounds == 2
    # Without the baseline's counterpart rounds the ratio still pairs what there is.
    assert result.outcomes["baseline"].ratio_to_baseline == 1.0


def test_a_server_dying_mid_window_is_named():
    with fake_server("die") as server:
        contender = compare.Contender("fake-die", server=server)
        try:
            contender.generator = generator_for(workloads.ws_echo(32, 2), server)
            contender.generator.wait_ready()
            with pytest.raises(ServerError, match=r"fake-die server died \(exit status 3\)"):
                compare.measure_round(contender, 1.0)
        finally:
            contender.close()


# The generators end to end against a wrong server: parsing is tested byte by byte in
# test_verify.py; these show each error reaches the measuring process with its cause.
@pytest.mark.parametrize(
    ("mode", "workload", "message"),
    [
        ("wrong", workloads.ws_echo(64, 2), "wrong echo: sent 64 bytes"),
        ("wrong", workloads.ws_echo_fragmented(4096, 1024, 1), "wrong echo: sent 4096 bytes"),
        ("truncate", workloads.ws_echo(32, 2), "server dropped a WebSocket connection"),
        ("oversized", workloads.ws_echo(32, 2), "payload size exceeding max allowed size, 104857600 > 1056"),
        ("status", workloads.http_get(contract.JSON, 2), "status 'HTTP/1.1 500"),
        ("content_type", workloads.http_get(contract.JSON, 2), "content type b'text/html"),
    ],
    ids=["wrong_echo", "wrong_fragmented_echo", "truncated_frame", "oversized_frame", "http_status", "http_type"],
)
def test_generator_fails_with_the_cause(mode, workload, message):
    with fake_server(mode) as server, generator_for(workload, server, warmup_s=0.1) as generator:
        with pytest.raises(GeneratorError, match=message):
            generator.wait_ready()
