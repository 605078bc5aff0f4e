"""The harness: server lifecycle, failure paths, generator verification, interleaved runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness import measure
from harness.process import ROOT, ServerError, ServerProcess, cpu_plan
from servers import contract
from tests.conftest import http, pid_alive

QUICK = {"rounds": 2, "window_s": 0.2, "warmup_s": 0.1}


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


def test_server_is_pinned_to_the_server_cpu():
    server_cpu, generator_cpus = cpu_plan()
    if server_cpu is None:
        pytest.skip("one CPU: nothing is pinned")
    with ServerProcess("baseline", cpu=server_cpu) as server:
        assert os.sched_getaffinity(server.pid) == {server_cpu}
    assert server_cpu not in generator_cpus


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
    result = measure.compare(measure.ws_echo(32, 4), **QUICK)
    assert set(result["results"]) == {"baseline", "aiohttp", "tornado", "websockets"}
    for summary in result["results"].values():
        assert "error" not in summary, summary
        assert summary["rounds"] == 2 and summary["ops"] > 0
        assert summary["seconds_per_op"] > 0 and summary["latency_p99_s"] >= summary["latency_p50_s"] > 0
        assert 0 < summary["server_cpu_pct"] <= 110
        assert summary["ratio_to_baseline"] > 0
    assert result["results"]["baseline"]["ratio_to_baseline"] == 1.0
    assert result["setup"]["pinned"] == (cpu_plan()[0] is not None)


def test_compare_skips_frameworks_without_the_endpoint():
    result = measure.compare(measure.http_get(contract.JSON, 2), ["baseline", "websockets"], **QUICK)
    assert result["results"]["websockets"] == {"skipped": "websockets has no HTTP server"}
    assert result["results"]["baseline"]["ops"] > 0


def test_a_server_killed_mid_measurement_fails_that_framework_with_the_cause(monkeypatch):
    real = measure.measure_round

    def kill_tornado_in_round_two(contender, window_s):
        if contender.framework == "tornado" and len(contender.rounds) == 1:
            os.kill(contender.server.pid, signal.SIGKILL)
        return real(contender, window_s)

    monkeypatch.setattr(measure, "measure_round", kill_tornado_in_round_two)
    started = time.monotonic()
    result = measure.compare(measure.ws_echo(32, 4), ["baseline", "tornado"], **QUICK)
    assert time.monotonic() - started < 60
    assert "tornado server died" in result["results"]["tornado"]["error"]
    assert result["results"]["baseline"]["rounds"] == 2


def test_generator_rejects_a_wrong_echo(tmp_path):
    fake = tmp_path / "wrong_echo.py"
    fake.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            from servers import ServerOptions, baseline_server, contract

            class Wrong(baseline_server.BaselineProtocol):
                def on_message(self, opcode, message):
                    self.transport.write(baseline_server.ws_frame(opcode, message[:-1] + b"?"))

            async def main():
                server = await asyncio.get_running_loop().create_server(
                    lambda: Wrong(ServerOptions(), set(), set()), "127.0.0.1", 0)
                print(contract.ready_line("wrong", server.sockets[0].getsockname()[1], 0), flush=True)
                await asyncio.sleep(60)

            asyncio.run(main())
            """
        )
    )
    with ServerProcess("wrong", command=[sys.executable, str(fake)]) as server:
        spec = measure.ws_echo(32, 2).generator_spec(server, "stdlib", 2)
        generator = measure.Generator(dict(spec, warmup_s=0.1), [None], 1)
        try:
            with pytest.raises(measure.GeneratorError, match="wrong echo: sent 32 bytes"):
                generator.wait_ready()
        finally:
            generator.close()


TRUNCATING_SERVER = """
import asyncio
from servers import ServerOptions, baseline_server, contract

class Truncating(baseline_server.BaselineProtocol):
    # Answers with the first bytes of a correct reply, then hangs up.
    def on_message(self, opcode, message):
        self.transport.write(baseline_server.ws_frame(opcode, message)[:10])
        self.transport.close()

    def respond(self, method, path, headers, body):
        if path != contract.JSON:
            return super().respond(method, path, headers, body)
        reply = baseline_server.http_response("200 OK", contract.APPLICATION_JSON, b'{"message": "Hello, World!"}')
        asyncio.get_running_loop().call_soon(self.transport.close)
        return reply[:-10]

async def main():
    def factory():
        protocol = Truncating(ServerOptions(), set(), set())
        protocol.fixed_responses = {}  # every GET goes through respond()
        return protocol

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    print(contract.ready_line("truncating", server.sockets[0].getsockname()[1], 0), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        (measure.ws_echo(32, 2), "server dropped a WebSocket connection"),
        (measure.http_get(contract.JSON, 2), "server closed an HTTP connection"),
    ],
)
def test_generator_rejects_a_truncated_reply(tmp_path, workload, message):
    assert_generator_fails(tmp_path, TRUNCATING_SERVER, workload, message)


def assert_generator_fails(tmp_path, server_source: str, workload, message: str) -> None:
    """A generator aimed at the fake server ``server_source`` fails with ``message`` during warm-up."""
    fake = tmp_path / "fake_server.py"
    fake.write_text(server_source)
    with ServerProcess("fake", command=[sys.executable, str(fake)]) as server:
        spec = workload.generator_spec(server, "stdlib", 2)
        generator = measure.Generator(dict(spec, warmup_s=0.1), [None], 1)
        try:
            with pytest.raises(measure.GeneratorError, match=message):
                generator.wait_ready()
        finally:
            generator.close()


OVERSIZED_REPLY_SERVER = """
import asyncio, struct
from servers import ServerOptions, baseline_server, contract

HUGE = 100 * 2**20

class Oversized(baseline_server.BaselineProtocol):
    # Answers with a frame or a response announcing 100 MiB, and starts sending them.
    def on_message(self, opcode, message):
        self.transport.write(bytes([0x80 | opcode, 127]) + struct.pack("!Q", HUGE) + bytes(2**20))

    def respond(self, method, path, headers, body):
        if path != contract.JSON:  # the WebSocket handshake
            return super().respond(method, path, headers, body)
        head = f"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: {HUGE}\\r\\n\\r\\n"
        return head.encode() + bytes(2**20)

def factory():
    protocol = Oversized(ServerOptions(), set(), set())
    protocol.fixed_responses = {}  # every GET goes through respond()
    return protocol

async def main():
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    print(contract.ready_line("oversized", server.sockets[0].getsockname()[1], 0), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        (measure.ws_echo(32, 2), "payload size exceeding max allowed size, 104857600 > 1056"),
        (measure.http_get(contract.JSON, 2), "announcing a 104857600-byte body, expected 28 bytes"),
    ],
)
def test_generator_refuses_a_100_MB_reply_from_its_header(tmp_path, workload, message):
    # Both messages come from the header: the body is neither awaited nor buffered.
    assert_generator_fails(tmp_path, OVERSIZED_REPLY_SERVER, workload, message)
