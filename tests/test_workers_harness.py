"""The harness's side of several workers (servers/workers.py runs them): a server is measured
as its whole process tree, a worker that dies fails the measurement naming it, and a workers
comparison records how many workers shared each CPU."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest

from harness import workloads
from harness.compare import Rounds, compare
from harness.generator import Generator
from harness.outcomes import Skipped
from harness.process import ServerError, ServerProcess, cpu_seconds, process_tree, rss_bytes


@pytest.mark.parametrize("framework", ["aiohttp", "uvicorn"])  # one of each socket arrangement
def test_cpu_and_memory_are_summed_over_every_process_of_the_server(framework):
    server = ServerProcess(framework, extra_args=("--workers", "2")).start()
    try:
        tree = process_tree(server.pid)
        assert sorted(server.pids) == sorted(tree) and len(tree) >= 3  # the root and two workers at least
        before = {pid: cpu_seconds(pid) for pid in tree}
        total_before = server.cpu_seconds()
        workload = workloads.headline_get_json()
        with Generator(workload.load_spec(server, connections=32, warmup_s=0), [None], 1) as generator:
            generator.wait_ready()
            assert generator.window(0.3).ops > 0
        used = sum(cpu_seconds(pid) - before[pid] for pid in tree)
        assert used > 0 and server.cpu_seconds() - total_before == pytest.approx(used, abs=0.05)
        assert server.rss_bytes() == pytest.approx(sum(rss_bytes(pid) for pid in tree), rel=0.05)
    finally:
        server.stop()


def test_a_worker_that_dies_fails_the_measurement_naming_it():
    server = ServerProcess("aiohttp", extra_args=("--workers", "2")).start()
    try:
        worker = max(server.pids)  # a worker: started after the root
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(ServerError, match="died"):
            for _ in range(100):  # the root notices and exits; either reading names the death
                server.cpu_seconds()
                server.check_alive()
                time.sleep(0.05)
    finally:
        server.stop()


def test_a_workers_comparison_skips_picows_and_records_the_shared_cpus():
    workload = dataclasses.replace(workloads.headline_ws_echo(), workers=2)
    assert workload.name.endswith("_2_workers")
    measured = compare(workload, ["baseline", "picows"], Rounds(1, 0.1, 0.0))
    picows = measured.outcomes["picows"]
    assert isinstance(picows, Skipped) and picows.reason.startswith("picows: picows documents no")
    assert measured.outcomes["baseline"].ops > 0
    if len(os.sched_getaffinity(0)) == 2:  # this host: both workers on the server's one CPU
        assert measured.setup["server_cpus"] == [min(os.sched_getaffinity(0))]
        assert "2 workers share 1 CPU" in measured.setup["workers_note"]


def test_asv_finds_the_two_workers_classes_and_not_their_mixin():
    # A mixin asv can see is a benchmark of its own, failing in every run (as it did once).
    from asv_runner.discovery import disc_benchmarks

    from harness.process import ROOT

    classes = {b.name.rsplit(".", 1)[0] for b in disc_benchmarks(str(ROOT / "benchmarks")) if "workers" in b.name}
    assert classes == {"bench_workers.EchoWorkers", "bench_workers.GetJsonWorkers"}
