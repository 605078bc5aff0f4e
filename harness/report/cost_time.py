"""How closely instructions per operation follow time per operation: each cost case beside the
throughput benchmark that runs the same operation, in the same results.

The throughput figure compared is the server's CPU time per operation (time per op x the
server's CPU share), from runs where the server was the bottleneck: then it is what one
operation cost the server on real hardware, kernel and cache misses included, which is what
the instruction count stands for. Pairs where the server was not saturated are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import servers
from harness.report.results import BenchmarkCase, Run, usable

# cost case -> (throughput class, its parameters other than the framework)
TWINS: dict[str, tuple[str, tuple[str, ...]]] = {
    # The grid echoes text only: the binary cases have no twin.
    **{
        f"ws_echo_text_{name}": ("bench_websocket.EchoGrid", (size, "100", "text"))
        for size, name in (("32", "32B"), ("1024", "1KiB"), ("65536", "64KiB"))
    },
    "ws_handshake": ("bench_websocket.Handshakes", ()),
    "ws_broadcast_32B_to_100": ("bench_websocket.Broadcast", ("100",)),
    "http_get_plaintext": ("bench_http.GetPlaintext", ("64",)),
    "http_get_json": ("bench_http.GetJson", ()),
    **{
        f"http_post_json_echo_{size}{'_orjson' if codec == 'orjson' else ''}": (
            "bench_http.PostJsonEcho",
            (size, codec),
        )
        for size in ("1KB", "31KB", "1MB")
        for codec in ("stdlib", "orjson")
    },
    "http_get_cache_memory": ("bench_cache.CacheHitMemory", ()),
    "http_get_cache_redis": ("bench_cache.CacheHitRedis", ()),
    "http_get_cache_etag_304": ("bench_cache.EtagNotModified", ()),
    # Over TLS (bench_tls: plain and TLS in the same rounds).
    "ws_echo_text_32B_tls": ("bench_tls.EchoTLS", ("tls",)),
    "ws_handshake_tls": ("bench_tls.HandshakesTLS", ("tls",)),
    "http_get_json_tls": ("bench_tls.GetJsonTLS", ("tls",)),
}
COST_CLASSES = ("bench_cost.HeadlineCost", "bench_cost.WorkloadCost", "bench_cost.TlsCost")
SATURATED_PCT = 90.0


@dataclass(frozen=True)
class Pair:
    framework: str
    case: str
    instructions_per_op: float
    server_seconds_per_op: float  # the server's CPU time per op at full load

    @property
    def ns_per_instruction(self) -> float:
        return self.server_seconds_per_op / self.instructions_per_op * 1e9


def pairs(run: Run) -> list[Pair]:
    """Every (framework, case) of ``run`` with both a cost and a server-bound throughput figure."""
    found = []
    for case, (cls, variant) in TWINS.items():
        twin = BenchmarkCase(cls, cls, variant, ())
        for cost_class in COST_CLASSES:
            cost = BenchmarkCase(cost_class, cost_class, (case,), ())
            for framework in servers.FRAMEWORKS:
                instructions = run.value(cost, "track_instructions_per_op", framework)
                seconds = run.value(twin, "track_time_per_op", framework)
                cpu = run.value(twin, "track_server_cpu", framework)
                if usable(instructions) and usable(seconds) and usable(cpu) and cpu >= SATURATED_PCT:
                    found.append(Pair(framework, case, instructions, seconds * cpu / 100))
    return found


def log_correlation(found: list[Pair]) -> float:
    """Pearson's r between log instructions per op and log server CPU time per op."""
    xs = [math.log(p.instructions_per_op) for p in found]
    ys = [math.log(p.server_seconds_per_op) for p in found]
    n = len(found)
    if n < 3:
        return math.nan
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else math.nan


def render(run: Run) -> str:
    """The pairs as a table, and the correlation."""
    found = sorted(pairs(run), key=lambda p: (p.case, p.framework))
    lines = [
        f"results: {run.machine}, commit {run.commit[:8]}, {run.env}",
        f"{'case':<34} {'framework':<11} {'instructions/op':>16} {'server CPU us/op':>17} {'ns/instruction':>15}",
    ]
    for p in found:
        lines.append(
            f"{p.case:<34} {p.framework:<11} {p.instructions_per_op:>16,.0f} "
            f"{p.server_seconds_per_op * 1e6:>17.2f} {p.ns_per_instruction:>15.3f}"
        )
    lines.append(
        f"{len(found)} pairs (server CPU >= {SATURATED_PCT:g} %); Pearson r of the logs: {log_correlation(found):.3f}"
    )
    return "\n".join(lines)
