"""The cache's paths one request at a time (a hit, a miss, no cache) and a stampede: many
requests at the same moment on an empty cache, counting how often the backend ran."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass

import servers
from harness import stats
from harness.generator import Generator, GeneratorError
from harness.outcomes import Failed, Measurement, Skipped
from harness.process import ServerError, ServerProcess, cpu_plan
from harness.workloads import http_get
from servers import contract

LONE_WARMUP_S = 0.2
# Hits must stay hits while the lone and stampede requests run: only a clear empties it.
LONG_TTL_S = 3600.0
LONG_TTL_ARGS = ("--cache-ttl", str(LONG_TTL_S))


@dataclass(frozen=True)
class Stampede:
    connections: int
    backend_calls: float  # median over the bursts
    backend_calls_all: list[int]
    burst_s: float  # median time from sending the requests to the last reply
    latency_p50_s: float
    latency_max_s: float


@dataclass(frozen=True)
class CachePaths:
    framework: str
    version: str
    hit_latency_s: float
    miss_latency_s: float
    uncached_latency_s: float
    stampede: Stampede

    @property
    def uncached_to_hit(self) -> float:
        """How many times faster a hit is than no cache, for readers."""
        return self.uncached_latency_s / self.hit_latency_s


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
    spec = http_get(path, 1, json_codec=json_codec).load_spec(server, warmup_s=LONE_WARMUP_S)
    with Generator(spec, cpus, 1) as generator:
        generator.wait_ready()
        latencies = []
        for _ in range(repeats):
            if clear_first:
                request(server, "POST", contract.CACHE_CLEAR)
            latencies.append(generator.burst().latencies_us[0] / 1e6)
        return latencies


def stampede(
    server: ServerProcess, connections: int, repeats: int, json_codec: str, cpus: list[int | None]
) -> Stampede:
    """``connections`` requests at the same moment on an empty cache, ``repeats`` times."""
    spec = http_get(contract.CACHE_MEMORY, connections, json_codec=json_codec).load_spec(server, warmup_s=LONE_WARMUP_S)
    calls, burst_s, latencies = [], [], []
    with Generator(spec, cpus, 1) as generator:  # one process: one moment
        generator.wait_ready()
        for _ in range(repeats):
            request(server, "POST", contract.CACHE_CLEAR)
            before = backend_calls(server)
            burst = generator.burst()
            calls.append(backend_calls(server) - before)
            burst_s.append(burst.seconds)
            latencies.extend(burst.latencies_us)
    latencies.sort()
    return Stampede(
        connections=connections,
        backend_calls=stats.median(calls),
        backend_calls_all=calls,
        burst_s=stats.median(burst_s),
        latency_p50_s=stats.percentile(latencies, 50) / 1e6,
        latency_max_s=latencies[-1] / 1e6,
    )


def unsupported(framework: str) -> str | None:
    reason = servers.unavailable(framework)
    if reason is None and not servers.get(framework).http:
        reason = f"{framework} has no HTTP server"
    if reason is None and framework == "baseline":
        reason = "the baseline has no cache"
    return reason or servers.get(framework).cache_unsupported(contract.CACHE_MEMORY)


def cache_paths(
    frameworks: list[str],
    *,
    lone_repeats: int = 20,
    stampede_connections: int = 100,
    stampede_repeats: int = 5,
    json_codec: str = "stdlib",
) -> Measurement[CachePaths]:
    """Per framework, on the in-process cache (/cache/memory) and without one (/cache/none):
    the lone-request latency of a hit, a miss and an uncached request (medians), and the
    stampede."""
    server_cpu, generator_cpus = cpu_plan()
    outcomes: dict[str, CachePaths | Skipped | Failed] = {}
    for name in frameworks:
        if reason := unsupported(name):
            outcomes[name] = Skipped(reason)
            continue
        try:
            with ServerProcess(name, json_codec=json_codec, cpu=server_cpu, extra_args=LONG_TTL_ARGS) as server:
                lone = {
                    kind: stats.median(lone_latencies(server, path, lone_repeats, clear, json_codec, generator_cpus))
                    for kind, path, clear in (
                        ("hit", contract.CACHE_MEMORY, False),
                        ("miss", contract.CACHE_MEMORY, True),
                        ("uncached", contract.CACHE_NONE, False),
                    )
                }
                burst = stampede(server, stampede_connections, stampede_repeats, json_codec, generator_cpus)
                server.check_alive()
            outcomes[name] = CachePaths(name, servers.version(name), lone["hit"], lone["miss"], lone["uncached"], burst)
        except (ServerError, GeneratorError) as exc:
            outcomes[name] = Failed(str(exc))
    setup = {
        "backend_ms": contract.DEFAULT_BACKEND_MS,
        "cache_ttl_s": LONG_TTL_S,
        "lone_repeats": lone_repeats,
        "stampede_connections": stampede_connections,
        "stampede_repeats": stampede_repeats,
        "json_codec": json_codec,
        "server_cpu": server_cpu,
        "generator_cpus": generator_cpus,
    }
    return Measurement("cache_paths", setup, outcomes)
