"""WebSocket workloads on real servers: fd limit, memory on small counts, every workload on
every framework, the article's job. Small and fast: a few connections, short windows, no
timing thresholds. Reply checks are in test_verify.py, wrong servers in test_harness.py."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest

import servers
from harness import workloads
from harness.compare import QUICK_ENV, Rounds, compare
from harness.experiments.memory import memory_per_connection
from harness.outcomes import Skipped
from harness.process import ROOT, child_env

QUICK = Rounds(rounds=1, window_s=0.1, warmup_s=0.05)

# The fd limit: raised where allowed, otherwise a message naming the limit and the fix.

FD_LIMIT_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, int(sys.argv[1])))
    from harness import workloads
    from harness.experiments.memory import memory_per_connection
    from harness.process import FdLimitError, ensure_fd_limit
    try:
        memory_per_connection(workloads.ws_echo(32, 1), [1000])
    except FdLimitError as exc:
        print("FdLimitError:", exc)
        sys.exit(0)
    ensure_fd_limit(1000)
    print("soft", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    """
)


def run_with_hard_fd_limit(script: str, hard: int) -> str:
    # In a child: a lowered hard limit could not be raised again in this process.
    args = [sys.executable, "-c", script, str(hard)]
    return subprocess.run(args, capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=60).stdout


def test_fd_limit_too_low_names_the_limit():
    out = run_with_hard_fd_limit(FD_LIMIT_SCRIPT, 100)
    assert out.startswith("FdLimitError:")
    assert "RLIMIT_NOFILE" in out and "ulimit -Hn" in out and "1256" in out


def test_fd_soft_limit_is_raised_to_the_hard_limit():
    script = FD_LIMIT_SCRIPT.replace("memory_per_connection(workloads.ws_echo(32, 1), [1000])", "pass")
    out = run_with_hard_fd_limit(script, 2000)
    assert out.split() == ["soft", "2000"]


def test_memory_per_connection_on_small_counts():
    memory = memory_per_connection(workloads.ws_echo(32, 1), [30, 10], ["baseline", "aiohttp"], settle_s=0.1)
    for framework in ("baseline", "aiohttp"):
        fewer, more = memory.result((framework, 10)), memory.result((framework, 30))
        for count, result in ((10, fewer), (30, more)):
            assert result.connections == count, result
            assert result.rss_before_bytes > 0 and result.rss_after_bytes > 0
            assert result.bytes_per_connection == (result.rss_after_bytes - result.rss_before_bytes) / count
        # One server: 30 is the first 10 left open and 20 more, each count measured from the same start.
        assert fewer.rss_before_bytes == more.rss_before_bytes


def test_memory_counts_measured_before_a_failure_stand(monkeypatch):
    from harness.experiments import memory

    def fail_after_the_first(workload, server, counts, settle_s, results):
        results[counts[0]] = memory.MemoryResult(counts[0], 1000, 2000, 1000 / counts[0], 0)
        raise memory.ServerError(f"{server.framework}: the server died at {counts[1]}")

    monkeypatch.setattr(memory, "measure_counts", fail_after_the_first)
    measured = memory_per_connection(workloads.ws_echo(32, 1), [10, 30], ["aiohttp"])
    assert measured.result(("aiohttp", 10)).connections == 10
    assert "the server died at 30" in measured.outcomes["aiohttp", 30].cause


def test_a_smoke_run_opens_a_fiftieth_of_each_count(monkeypatch):
    monkeypatch.setenv(QUICK_ENV, "1")
    memory = memory_per_connection(workloads.ws_echo(32, 1), [100, 250], ["baseline"])
    assert memory.setup["opened"] == [2, 5] and memory.setup["quick"]
    assert [memory.result(("baseline", count)).connections for count in (100, 250)] == [2, 5]


def test_deflate_memory_negotiates_on_every_connection():
    memory = memory_per_connection(workloads.ws_echo_json(1024, 1, "on"), [2, 5], ["baseline", "tornado"], settle_s=0.1)
    for framework in ("baseline", "tornado"):
        assert memory.result((framework, 2)).deflate_connections == 2
        assert memory.result((framework, 5)).deflate_connections == 5


def test_deflate_workload_is_skipped_where_a_framework_lacks_it(monkeypatch):
    without = dataclasses.replace(servers.FRAMEWORKS["tornado"], ws_deflate=False)
    monkeypatch.setitem(servers.FRAMEWORKS, "tornado", without)
    comparison = compare(workloads.ws_echo_json(1024, 1, "on"), ["tornado"], QUICK)
    assert comparison.outcomes["tornado"] == Skipped("tornado implements no permessage-deflate")


@pytest.mark.parametrize(
    "workload",
    [
        workloads.ws_echo(1024, 3, binary=True),
        workloads.ws_echo_fragmented(8192, 1024, 1),
        workloads.ws_echo_json(1024, 3, "on"),
        workloads.ws_handshake(2),
        workloads.ws_broadcast(5),
    ],
    ids=lambda w: w.name,
)
def test_workload_runs_on_every_framework(workload):
    comparison = compare(workload, rounds=QUICK)
    for framework in comparison.outcomes:
        if reason := workload.unsupported(framework):  # no permessage-deflate: n/a, not measured
            assert comparison.outcomes[framework] == Skipped(reason)
            continue
        result = comparison.result(framework)
        assert result.ops > 0
        if workload.compression == "on":
            assert result.deflate_connections == workload.connections


def test_article_job_counts_exactly_and_reports_deflate():
    workload = workloads.ws_article(total_connections=4, messages=3, concurrency=2)
    comparison = compare(workload, rounds=Rounds(rounds=2, window_s=30.0))
    for framework in comparison.outcomes:
        assert comparison.result(framework).ops == 2 * 4 * 3, framework
    # As the libraries' defaults answer the websockets client's offer.
    deflate = {framework: comparison.result(framework).deflate_connections for framework in comparison.outcomes}
    by_default = {name for name in servers.FRAMEWORKS if servers.get(name).ws_deflate_by_default}
    assert by_default == {"aiohttp", "websockets", "uvicorn", "starlette", "fastapi", "litestar", "blacksheep"}
    assert deflate == {framework: 8 if framework in by_default else 0 for framework in servers.FRAMEWORKS}
