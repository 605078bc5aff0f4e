"""Caching measurements that a steady closed loop cannot make, and the redis-server that the
Redis workloads need.

- cache_paths(): one request at a time on the hit, miss and uncached paths (a lone
  request's latency), and a stampede: many requests at the same moment on an empty cache,
  counting how often the backend ran (the server's /cache/stats) and timing the burst.
- RedisServer: a real redis-server on a free loopback port, dying with its parent.
- compare_with_redis(): measure.compare() with that redis-server behind /cache/redis.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import servers
from harness import stats
from harness.measure import Generator, GeneratorError, Workload, compare, http_get
from harness.process import ServerError, ServerProcess, cpu_plan, die_with_parent
from servers import contract

REDIS_READY_TIMEOUT = 10.0
REDIS_START_ATTEMPTS = 5
REDIS_STOP_TIMEOUT = 5.0
LONE_WARMUP_S = 0.2
# Hits must stay hits while the lone and stampede requests run: only a clear empties it.
LONG_TTL_S = 3600.0


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


def skipped_everywhere(workload_name: str, frameworks: list[str], reason: str) -> dict:
    return {"workload": workload_name, "setup": {}, "results": {name: {"skipped": reason} for name in frameworks}}


def compare_with_redis(workload: Workload, frameworks: list[str] | None = None, **options) -> dict:
    """compare() with a fresh redis-server behind /cache/redis, stopped before returning.

    redis-server shares the server's CPU: the generator's CPUs stay its own, so the
    figures are those of an application and its Redis on one core.
    """
    names = list(frameworks or servers.FRAMEWORKS)
    reason = redis_missing()
    if reason:
        return skipped_everywhere(workload.name, names, reason)
    server_cpu, _ = cpu_plan()
    with RedisServer(cpu=server_cpu) as redis:
        args = workload.server_args + ("--redis-port", str(redis.port))
        result = compare(dataclasses.replace(workload, server_args=args), names, **options)
    result["setup"]["redis"] = "redis-server on 127.0.0.1, pinned with the server, no persistence"
    return result


def request(server: ServerProcess, method: str, path: str) -> bytes:
    """One request from the harness itself (stdlib client); anything but 200 is an error."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise ServerError(f"{server.framework}: {method} {path} answered {response.status}: {body[:200]!r}")
    return body


def backend_calls(server: ServerProcess) -> int:
    return json.loads(request(server, "GET", contract.CACHE_STATS))["backend_calls"]


def lone_latencies(
    server: ServerProcess, path: str, repeats: int, clear_first: bool, json_codec: str, cpus: list[int | None]
) -> list[float]:
    """``repeats`` requests one at a time on one connection, the cache emptied before each
    if ``clear_first``; their latencies in seconds."""
    spec = http_get(path, 1).generator_spec(server, json_codec, 1)
    generator = Generator(dict(spec, warmup_s=LONE_WARMUP_S), cpus, 1)
    try:
        generator.wait_ready()
        latencies = []
        for _ in range(repeats):
            if clear_first:
                request(server, "POST", contract.CACHE_CLEAR)
            latencies.append(generator.burst()["latencies_us"][0] / 1e6)
        return latencies
    finally:
        generator.close()


def stampede(server: ServerProcess, connections: int, repeats: int, json_codec: str, cpus: list[int | None]) -> dict:
    """``connections`` requests at the same moment on an empty cache, ``repeats`` times."""
    spec = http_get(contract.CACHE_MEMORY, connections).generator_spec(server, json_codec, connections)
    generator = Generator(dict(spec, warmup_s=LONE_WARMUP_S), cpus, 1)  # one process: one moment
    try:
        generator.wait_ready()
        calls, burst_s, latencies = [], [], []
        for _ in range(repeats):
            request(server, "POST", contract.CACHE_CLEAR)
            before = backend_calls(server)
            burst = generator.burst()
            calls.append(backend_calls(server) - before)
            burst_s.append(burst["seconds"])
            latencies.extend(burst["latencies_us"])
    finally:
        generator.close()
    latencies.sort()
    return {
        "stampede_connections": connections,
        "stampede_backend_calls": stats.median(calls),
        "stampede_backend_calls_all": calls,
        "stampede_burst_s": stats.median(burst_s),
        "stampede_latency_p50_s": stats.percentile(latencies, 50) / 1e6,
        "stampede_latency_max_s": latencies[-1] / 1e6,
    }


def cache_paths(
    frameworks: list[str],
    *,
    lone_repeats: int = 20,
    stampede_connections: int = 100,
    stampede_repeats: int = 5,
    loop: str = "asyncio",
    json_codec: str = "stdlib",
) -> dict:
    """Per framework, on the in-process cache (/cache/memory) and without one (/cache/none):
    the lone-request latency of a hit, a miss and an uncached request (medians), and the
    stampede. Returns {"workload", "setup", "results": {framework: figures | skipped | error}}."""
    server_cpu, generator_cpus = cpu_plan()
    results = {}
    for name in frameworks:
        reason = servers.missing(name)
        if reason is None and not servers.get(name).http:
            reason = f"{name} has no HTTP server"
        if reason is None and name == "baseline":
            reason = "the baseline has no cache"
        if reason:
            results[name] = {"skipped": reason}
            continue
        server = ServerProcess(
            name, loop=loop, json_codec=json_codec, cpu=server_cpu, extra_args=("--cache-ttl", str(LONG_TTL_S))
        )
        try:
            server.start()
            lone = {
                kind: stats.median(lone_latencies(server, path, lone_repeats, clear, json_codec, generator_cpus))
                for kind, path, clear in (
                    ("hit", contract.CACHE_MEMORY, False),
                    ("miss", contract.CACHE_MEMORY, True),
                    ("uncached", contract.CACHE_NONE, False),
                )
            }
            figures = {"framework": name, "version": servers.version(name)}
            figures.update({f"{kind}_latency_s": seconds for kind, seconds in lone.items()})
            figures["uncached_to_hit"] = lone["uncached"] / lone["hit"]  # the speedup, for readers
            figures.update(stampede(server, stampede_connections, stampede_repeats, json_codec, generator_cpus))
            server.check_alive()
            results[name] = figures
        except (ServerError, GeneratorError) as exc:
            results[name] = {"error": str(exc)}
        finally:
            server.stop()
    return {
        "workload": "cache_paths",
        "setup": {
            "backend_ms": contract.DEFAULT_BACKEND_MS,
            "cache_ttl_s": LONG_TTL_S,
            "lone_repeats": lone_repeats,
            "stampede_connections": stampede_connections,
            "stampede_repeats": stampede_repeats,
            "loop": loop,
            "json_codec": json_codec,
            "server_cpu": server_cpu,
            "generator_cpus": generator_cpus,
        },
        "results": results,
    }
