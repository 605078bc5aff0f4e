"""redis-server for the Redis cache workloads: a real one on a free loopback port, no
persistence, dying with its parent, and the comparison run with it behind /cache/redis."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import servers
from harness.compare import DEFAULT_ROUNDS, Rounds, compare
from harness.outcomes import Measurement, Skipped
from harness.process import cpu_plan, die_with_parent
from harness.workloads import Workload

REDIS_READY_TIMEOUT = 10.0
REDIS_START_ATTEMPTS = 5
REDIS_STOP_TIMEOUT = 5.0


class RedisError(RuntimeError):
    pass


def redis_missing() -> str | None:
    """Why the Redis workloads cannot run here, or None if they can."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian: apt-get install redis-server)"
    return None


def free_port() -> int:
    """A loopback port that was free a moment ago (redis-server cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server on 127.0.0.1, no persistence, killed by the kernel if we die.

    Its port is picked free and the start retried if another process took it meanwhile;
    readiness is redis-server's own "Ready to accept connections" line, so a stranger
    listening on the port is never mistaken for it.
    """

    def __init__(self, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> RedisServer:
        reason = redis_missing()
        if reason:
            raise RedisError(reason)
        for _ in range(REDIS_START_ATTEMPTS):
            self.port = free_port()
            self._log = tempfile.TemporaryFile()
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--logfile", ""],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(self.cpu),
            )
            if self._wait_ready():
                return self
            log = self.log()
            self.stop()
            if "Address already in use" not in log:
                raise RedisError(f"redis-server did not start on port {self.port}:\n{log[-1500:]}")
        raise RedisError(f"redis-server found no free port in {REDIS_START_ATTEMPTS} attempts")

    def _wait_ready(self) -> bool:
        """True once the server says it is ready; False if it exited; RedisError on timeout."""
        deadline = time.monotonic() + REDIS_READY_TIMEOUT
        while time.monotonic() < deadline:
            if "Ready to accept connections" in self.log():
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.02)
        log = self.log()
        self.stop()
        raise RedisError(f"redis-server not ready within {REDIS_READY_TIMEOUT:g}s:\n{log[-1500:]}")

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; idempotent."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=REDIS_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def compare_with_redis(
    workload: Workload, frameworks: list[str] | None = None, rounds: Rounds = DEFAULT_ROUNDS
) -> Measurement:
    """compare() with a fresh redis-server behind /cache/redis, stopped before returning.

    redis-server shares the server's CPU: the generator's CPUs stay its own, so the
    figures are those of an application and its Redis on one core.
    """
    names = list(frameworks or servers.FRAMEWORKS)
    reason = redis_missing()
    if reason:
        return Measurement(workload.name, {}, {name: Skipped(reason) for name in names})
    server_cpu, _ = cpu_plan()
    with RedisServer(cpu=server_cpu) as redis:
        measured = compare(workload.with_server_args("--redis-port", str(redis.port)), names, rounds)
    setup = dict(measured.setup, redis="redis-server on 127.0.0.1, pinned with the server, no persistence")
    return dataclasses.replace(measured, setup=setup)
