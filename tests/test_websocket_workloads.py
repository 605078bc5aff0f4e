"""WebSocket workloads: payload checks, error paths, fd limit, memory on small counts.

Small and fast: a few connections, short windows, no timing thresholds. Servers and
traffic: run under ``flock /tmp/bench.lock``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

import servers
from harness import loadgen, measure
from harness.process import ROOT, ServerError, ServerProcess, child_env

FAKE_SERVER = Path(__file__).with_name("fake_ws_server.py")
QUICK = {"rounds": 1, "window_s": 0.1, "warmup_s": 0.05}


def fake_server(mode: str) -> ServerProcess:
    return ServerProcess(f"fake-{mode}", command=[sys.executable, str(FAKE_SERVER), mode])


def generator_for(workload: measure.Workload, server: ServerProcess, warmup_s: float) -> measure.Generator:
    spec = workload.generator_spec(server, "stdlib", workload.connections)
    return measure.Generator(dict(spec, warmup_s=warmup_s), [None], 1)


# Payloads and the deflate codec, without servers.


@pytest.mark.parametrize("size", [200, 1024, 4096])
def test_json_payloads_are_exact_size_distinct_json(size):
    variants = loadgen.payload_variants(size, binary=False, payload="json")
    assert len(set(variants)) == loadgen.PAYLOAD_VARIANTS
    for variant in variants:
        assert len(variant) == size
        assert json.loads(variant)["items"]


def test_deflate_round_trip_against_zlib_peer():
    deflate = loadgen.Deflate({"client_max_window_bits": "12"})
    peer_in = zlib.decompressobj(-12)
    peer_out = zlib.compressobj(wbits=-15)
    for message in loadgen.payload_variants(1024, binary=False, payload="json")[:3]:
        wire = deflate.compress(message)
        assert len(wire) < len(message)
        assert peer_in.decompress(wire + loadgen.DEFLATE_TAIL) == message  # context kept across messages
        reply = peer_out.compress(message) + peer_out.flush(zlib.Z_SYNC_FLUSH)
        assert deflate.decompress(reply[: -len(loadgen.DEFLATE_TAIL)]) == message


# Wrong echoes and dying servers fail loudly, naming the cause.


def test_wrong_echo_is_detected():
    with fake_server("wrong") as server:
        generator = generator_for(measure.ws_echo(64, 2), server, warmup_s=0.1)
        try:
            with pytest.raises(measure.GeneratorError, match="wrong echo"):
                generator.wait_ready()
        finally:
            generator.close()


def test_wrong_fragmented_echo_is_detected():
    with fake_server("wrong") as server:
        generator = generator_for(measure.ws_echo_fragmented(4096, 1024, 1), server, warmup_s=0.1)
        try:
            with pytest.raises(measure.GeneratorError, match="wrong echo"):
                generator.wait_ready()
        finally:
            generator.close()


def test_server_dying_mid_run_is_named():
    server = fake_server("die").start()
    contender = measure.Contender("fake-die", server=server)
    try:
        contender.generator = generator_for(measure.ws_echo(32, 2), server, warmup_s=0)
        contender.generator.wait_ready()
        with pytest.raises(ServerError, match=r"fake-die server died \(exit status 3\)"):
            measure.measure_round(contender, 1.0)
    finally:
        contender.close()


# The fd limit: raised where allowed, otherwise a message naming the limit and the fix.

FD_LIMIT_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, int(sys.argv[1])))
    from harness import measure
    from harness.process import FdLimitError, ensure_fd_limit
    try:
        measure.memory_per_connection(measure.ws_echo(32, 1), [1000])
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
    script = FD_LIMIT_SCRIPT.replace("measure.memory_per_connection(measure.ws_echo(32, 1), [1000])", "pass")
    out = run_with_hard_fd_limit(script, 2000)
    assert out.split() == ["soft", "2000"]


# Real servers, tiny workloads: exact counts, every framework's paths work end to end.


def test_memory_per_connection_on_small_counts():
    memory = measure.memory_per_connection(measure.ws_echo(32, 1), [20], ["baseline", "aiohttp"], settle_s=0.1)
    for framework in ("baseline", "aiohttp"):
        result = memory["results"][framework][20]
        assert result["connections"] == 20, result
        assert result["rss_before_bytes"] > 0 and result["rss_after_bytes"] > 0
        assert result["bytes_per_connection"] == (result["rss_after_bytes"] - result["rss_before_bytes"]) / 20


def test_deflate_memory_negotiates_on_every_connection():
    memory = measure.memory_per_connection(
        measure.ws_echo_json(1024, 1, "on"), [5], ["baseline", "tornado"], settle_s=0.1
    )
    for framework in ("baseline", "tornado"):
        assert memory["results"][framework][5]["deflate_connections"] == 5


def test_deflate_workload_is_skipped_where_a_framework_lacks_it(monkeypatch):
    without = dataclasses.replace(servers.FRAMEWORKS["tornado"], ws_deflate=False)
    monkeypatch.setitem(servers.FRAMEWORKS, "tornado", without)
    comparison = measure.compare(measure.ws_echo_json(1024, 1, "on"), ["tornado"], **QUICK)
    assert comparison["results"]["tornado"] == {"skipped": "tornado implements no permessage-deflate"}


@pytest.mark.parametrize(
    "workload",
    [
        measure.ws_echo(1024, 3, binary=True),
        measure.ws_echo_fragmented(8192, 1024, 1),
        measure.ws_echo_json(1024, 3, "on"),
        measure.ws_handshake(2),
        measure.ws_broadcast(5),
    ],
    ids=lambda w: w.name,
)
def test_workload_runs_on_every_framework(workload):
    comparison = measure.compare(workload, **QUICK)
    for framework, result in comparison["results"].items():
        assert "ops" in result, (framework, result)
        assert result["ops"] > 0
        if workload.compression == "on":
            assert result["deflate_connections"] == workload.connections


def test_article_job_counts_exactly_and_reports_deflate():
    workload = measure.ws_article(total_connections=4, messages=3, concurrency=2)
    comparison = measure.compare(workload, rounds=2, window_s=30.0)
    results = comparison["results"]
    for framework, result in results.items():
        assert result["ops"] == 2 * 4 * 3, (framework, result)
    # As the libraries' defaults answer the websockets client's offer.
    assert results["aiohttp"]["deflate_connections"] == 8
    assert results["websockets"]["deflate_connections"] == 8
    assert results["tornado"]["deflate_connections"] == 0
    assert results["baseline"]["deflate_connections"] == 0
