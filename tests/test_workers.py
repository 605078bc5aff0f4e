"""Several worker processes per server (servers/workers.py, ``--workers``): every framework
with a multi-process mode serves the contract from each of its workers, the harness measures
the whole process tree, and no worker outlives its server, whether it is stopped, killed, or
loses a worker."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

import servers
from harness import workloads
from harness.compare import Rounds, compare
from harness.generator import Generator
from harness.outcomes import Skipped
from harness.process import ServerError, ServerProcess, cpu_seconds, process_tree, rss_bytes
from servers.__main__ import EXIT_UNAVAILABLE
from servers.workers import EXIT_WORKER_DIED
from tests.conftest import pid_alive

WITH_WORKERS = [name for name in servers.FRAMEWORKS if servers.FRAMEWORKS[name].workers_mode]


def two_workers(framework: str) -> ServerProcess:
    return ServerProcess(framework, extra_args=("--workers", "2"))


def gone(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def running() -> dict[str, ServerProcess]:
    """Every framework with a mode on two workers, launched together."""
    started = {name: two_workers(name).launch() for name in WITH_WORKERS}
    try:
        for server in started.values():
            server.ready()
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_every_framework_but_picows_has_a_mode():
    assert WITH_WORKERS == [name for name in servers.FRAMEWORKS if name != "picows"]
    assert {servers.FRAMEWORKS[name].workers_mode for name in WITH_WORKERS} == {"shared", "reuse_port"}


@pytest.mark.parametrize("framework", WITH_WORKERS)
def test_both_workers_serve_and_the_harness_measures_them_all(running, framework):
    server = running[framework]
    tree = process_tree(server.pid)
    assert len(tree) == 3 and sorted(server.pids) == sorted(tree)  # the root and its two workers
    workload = workloads.headline_get_json() if servers.FRAMEWORKS[framework].http else workloads.headline_ws_echo()
    workers = [pid for pid in tree if pid != server.pid]
    before = {pid: cpu_seconds(pid) for pid in workers}
    total_before = server.cpu_seconds()
    with Generator(workload.load_spec(server, connections=32, warmup_s=0), [None], 1) as generator:
        generator.wait_ready()
        window = generator.window(0.3)
    assert window.ops > 0
    used = {pid: cpu_seconds(pid) - before[pid] for pid in workers}
    # Both workers reported their server started (the ready line waits for that); the CPU counted
    # is the whole tree's.
    assert sum(used.values()) > 0, used
    assert server.cpu_seconds() - total_before == pytest.approx(sum(used.values()), abs=0.05)
    assert server.rss_bytes() == pytest.approx(sum(rss_bytes(pid) for pid in tree), rel=0.05)


def test_a_reuse_port_worker_group_spreads_connections_over_both_workers(running):
    # SO_REUSEPORT hashes connections over the group: with 64 connections both workers get some
    # (unlike a shared accept queue, where one worker may take a burst: see the README).
    server = running["baseline"]
    workload = workloads.headline_ws_echo()
    with Generator(workload.load_spec(server, connections=64, warmup_s=0), [None], 1) as generator:
        generator.wait_ready()
        counts = [sockets_of(pid) for pid in server.pids if pid != server.pid]
    assert all(count > 1 for count in counts), counts


def sockets_of(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


@pytest.mark.parametrize("framework", ["aiohttp", "tornado"])  # one of each mode
def test_sigterm_stops_every_worker_and_sigkill_of_the_root_leaves_none(framework):
    server = two_workers(framework).start()
    tree = list(server.pids)
    assert server.stop() == 0 and gone(tree)
    server = two_workers(framework).start()
    tree = list(server.pids)
    try:
        os.kill(server.pid, signal.SIGKILL)
        assert gone(tree), "a worker outlived its root"
    finally:
        server.stop()


def test_a_worker_that_dies_ends_the_server_naming_it():
    server = two_workers("uvicorn").start()
    tree = list(server.pids)
    victim = next(pid for pid in tree if pid != server.pid)
    try:
        os.kill(victim, signal.SIGKILL)
        assert server.process.wait(timeout=10) == EXIT_WORKER_DIED
        assert f"worker {victim} died" in server.stderr_text()
        assert gone(tree)
        with pytest.raises(ServerError, match="died"):
            server.check_alive()
    finally:
        server.stop()


def test_picows_refuses_workers_naming_why():
    done = subprocess.run([sys.executable, "-m", "servers", "picows", "--workers", "2"], capture_output=True, text=True)
    assert done.returncode == EXIT_UNAVAILABLE
    assert "picows documents no multi-process mode" in done.stderr


def test_a_workers_comparison_is_not_applicable_for_picows_and_records_the_shared_cpus():
    workload = dataclasses.replace(workloads.headline_ws_echo(), workers=2)
    assert workload.name.endswith("_2_workers")
    measured = compare(workload, ["baseline", "picows"], Rounds(1, 0.1, 0.0))
    assert measured.outcomes["picows"] == Skipped("picows: picows documents no multi-process mode of its own")
    assert measured.outcomes["baseline"].ops > 0
    if len(os.sched_getaffinity(0)) == 2:  # this host: both workers on the server's one CPU
        assert measured.setup["server_cpus"] == [min(os.sched_getaffinity(0))]
        assert "2 workers share 1 CPU" in measured.setup["workers_note"]
