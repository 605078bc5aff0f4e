"""Interleaved measurements: every framework's server and the baseline's run side by side,
each driven by its own load-generator processes, round after round (A B C A B C ...), so
host drift hits all of them alike and ratios from one run can be the headline.
"""

from __future__ import annotations

import array
import base64
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import servers
from harness import stats
from harness.process import (
    ServerError,
    ServerProcess,
    child_env,
    cpu_plan,
    die_with_parent,
    ensure_fd_limit,
)
from servers import contract

# glibc serves asyncio's 256 KiB read buffers with mmap/munmap on every read, which halves
# an asyncio client's speed (shared/reference/measurements.md). Generators get these
# settings; servers run as users deploy them, without.
GENERATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "16777216"}
GENERATOR_READY_TIMEOUT = 30.0
WINDOW_GRACE = 15.0
FDS_BESIDES_CONNECTIONS = 256  # the interpreter, pipes, the listening socket, slack
MEMORY_SETTLE_S = 0.5  # let the server finish allocating before its RSS is read
# The baseline is the generator's reference ceiling, so it runs as fast as it can.
BASELINE_LOOP = "uvloop"  # beyond the window: the generator's own reply timeout plus slack


@dataclass(frozen=True)
class Workload:
    """What the generator sends and what it must get back. ``spec`` goes to loadgen.py."""

    name: str
    path: str
    scheme: str  # "ws" or "http"
    spec: dict
    connections: int = 1
    needs_http: bool = False
    # permessage-deflate: "off", "on" (the server enables it, the generator requires it) or
    # "default" (each library as deployed by default; the generator offers it as the
    # websockets client does, which is what the article ran).
    compression: str = "off"
    loop: str | None = None  # the servers' event loop; None: compare()'s ``loop``
    generator_processes: int | None = None  # None: one per generator CPU
    warmup: bool = True  # False for fixed jobs that include their own set-up

    def server_compression(self, framework: str) -> bool:
        if self.compression == "default":
            return servers.get(framework).ws_deflate_by_default
        return self.compression == "on"

    def unsupported(self, framework: str) -> str | None:
        """Why ``framework`` cannot run this workload (asv shows n/a), or None."""
        if self.needs_http and not servers.get(framework).http:
            return f"{framework} has no HTTP server"
        if self.compression == "on" and not servers.get(framework).ws_deflate:
            return f"{framework} implements no permessage-deflate"
        return None

    def generator_spec(self, server: ServerProcess, json_codec: str, connections: int) -> dict:
        spec = dict(self.spec, url=server.url(self.path, self.scheme), connections=connections)
        if self.scheme == "ws":
            spec["compression"] = {"off": "off", "on": "require", "default": "offer"}[self.compression]
        if "expect_json" in spec:  # the exact bytes the server's codec must produce
            dumps, _ = servers.json_codec(json_codec)
            spec["expect"] = {
                "content_type": contract.APPLICATION_JSON,
                "body": dumps(spec.pop("expect_json")).decode(),
            }
            if "body_json" in spec:
                spec["body"] = dumps(spec.pop("body_json")).decode()
        return spec


def ws_echo(size: int, connections: int, binary: bool = False, loop: str | None = None) -> Workload:
    kind = "binary" if binary else "text"
    return Workload(
        f"ws_echo_{kind}_{size}B_c{connections}" + (f"_{loop}" if loop else ""),
        contract.WS_ECHO,
        "ws",
        {"kind": "ws_echo", "size": size, "binary": binary},
        connections,
        loop=loop,
    )


def ws_echo_json(size: int, connections: int, compression: str) -> Workload:
    """Echo of JSON text documents of ``size`` bytes, with permessage-deflate on or off."""
    return Workload(
        f"ws_echo_json_{size}B_c{connections}_deflate_{compression}",
        contract.WS_ECHO,
        "ws",
        {"kind": "ws_echo", "size": size, "payload": "json"},
        connections,
        compression=compression,
    )


def ws_echo_fragmented(size: int, fragment_size: int, connections: int) -> Workload:
    """Binary echo of ``size``-byte messages, each sent as ``fragment_size``-byte fragments."""
    return Workload(
        f"ws_echo_binary_{size}B_in_{fragment_size}B_fragments_c{connections}",
        contract.WS_ECHO,
        "ws",
        {"kind": "ws_echo", "size": size, "binary": True, "fragment_size": fragment_size},
        connections,
    )


def ws_handshake(connections: int) -> Workload:
    """WebSocket connections opened and cleanly closed, ``connections`` slots at a time."""
    return Workload(f"ws_handshake_c{connections}", contract.WS_ECHO, "ws", {"kind": "ws_handshake"}, connections)


def ws_broadcast(subscribers: int, size: int = 32) -> Workload:
    """One text message in flight from one publisher to ``subscribers`` (publisher included).
    An op is one message delivered to all; latencies are per delivery."""
    return Workload(
        f"ws_broadcast_{size}B_to_{subscribers}",
        contract.WS_BROADCAST,
        "ws",
        {"kind": "ws_broadcast", "size": size, "connect_timeout_s": 10 + subscribers / 100},
        subscribers,
        generator_processes=1,  # the publisher must see every delivery to time the fan-out
    )


def ws_article(total_connections: int = 1000, messages: int = 100, concurrency: int = 100) -> Workload:
    """The article's WebSocket workload, as its script ran it: ``total_connections`` x
    ``messages`` echoes of "Hello", at most ``concurrency`` connections open at a time, each
    opened, used and closed inside the timing; permessage-deflate offered as the websockets
    client does and accepted or declined by each server's defaults. An op is one message."""
    spec = {
        "kind": "ws_article",
        "total_connections": total_connections,
        "messages": messages,
        "concurrency": concurrency,
        "message": "Hello",
    }
    name = f"ws_article_{total_connections}x{messages}_at_most_{concurrency}"
    return Workload(name, contract.WS_ECHO, "ws", spec, 1, compression="default", generator_processes=1, warmup=False)


def http_get(path: str, connections: int) -> Workload:
    if path == contract.JSON:
        spec = {"kind": "http", "method": "GET", "expect_json": contract.JSON_MESSAGE}
    elif path == contract.PLAINTEXT:
        expect = {"content_type": contract.TEXT_PLAIN, "body": contract.PLAINTEXT_BODY.decode()}
        spec = {"kind": "http", "method": "GET", "expect": expect}
    else:
        raise ValueError(f"no expected response known for GET {path}")
    return Workload(
        f"http_get{path.replace('/', '_')}_c{connections}", path, "http", spec, connections, needs_http=True
    )


class GeneratorError(RuntimeError):
    pass


class Generator:
    """Load-generator processes (one per generator CPU) driving one server."""

    def __init__(self, spec: dict, cpus: list[int | None], processes: int) -> None:
        connections = spec["connections"]
        processes = max(1, min(processes, connections))
        self.processes: list[subprocess.Popen] = []
        self.stderr = []
        for i in range(processes):
            share = connections // processes + (1 if i < connections % processes else 0)
            err = tempfile.TemporaryFile()
            self.stderr.append(err)
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "harness.loadgen", json.dumps(dict(spec, connections=share))],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=child_env(GENERATOR_ENV),
                    preexec_fn=die_with_parent(cpus[i % len(cpus)]),
                )
            )

    def _read(self, process: subprocess.Popen, stderr, deadline: float, doing: str) -> dict:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while not selector.select(max(0.0, min(0.5, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    raise GeneratorError(f"load generator gave no answer while {doing}")
        line = process.stdout.readline()
        record = json.loads(line) if line.strip() else None
        if record is None or "error" in record:
            stderr.seek(0)
            detail = record["error"] if record else f"exited with status {process.wait()}"
            tail = stderr.read().decode(errors="replace").strip()[-1500:]
            raise GeneratorError(f"load generator failed while {doing}: {detail}" + (f"\n{tail}" if tail else ""))
        return record

    def wait_ready(self) -> dict:
        """Wait until every process has connected and warmed up: the slowest connect time,
        connections open, and how many of them negotiated permessage-deflate."""
        deadline = time.monotonic() + GENERATOR_READY_TIMEOUT
        parts = [
            self._read(p, e, deadline, "connecting and warming up")
            for p, e in zip(self.processes, self.stderr, strict=True)
        ]
        return {
            "connect_s": max(p["connect_s"] for p in parts),
            "connections": sum(p["connections"] for p in parts),
            "deflate_connections": sum(p["deflate_connections"] for p in parts),
        }

    def window(self, seconds: float) -> dict:
        """One measurement window on every process at once; merged counts and latencies."""
        for process in self.processes:
            process.stdin.write(f"go {seconds}\n".encode())
            process.stdin.flush()
        deadline = time.monotonic() + seconds + WINDOW_GRACE
        parts = [self._read(p, e, deadline, "measuring") for p, e in zip(self.processes, self.stderr, strict=True)]
        latencies = array.array("f")
        for part in parts:
            latencies.frombytes(base64.b64decode(part["latencies_us"]))
        return {
            "ops": sum(p["ops"] for p in parts),
            "seconds": max(p["seconds"] for p in parts),
            "client_cpu_s": sum(p["client_cpu_s"] for p in parts),
            "latencies_us": latencies,
            "deflate_connections": sum(p["deflate_connections"] for p in parts),
        }

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    process.stdin.write(b"quit\n")
                    process.stdin.close()
                    process.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    process.kill()
                    process.wait()
        for err in self.stderr:
            err.close()


@dataclass
class Contender:
    """One framework in a comparison: its server, its generator, its rounds."""

    framework: str
    server: ServerProcess | None = None
    generator: Generator | None = None
    rounds: list[dict] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    ready: dict = field(default_factory=dict)

    def close(self) -> None:
        if self.generator:
            self.generator.close()
        if self.server:
            self.server.stop()


def measure_round(contender: Contender, window_s: float) -> dict:
    server, generator = contender.server, contender.generator
    cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
    try:
        result = generator.window(window_s)
    except GeneratorError as exc:
        # A dead server is the real cause: say so. Its sockets close a moment before its
        # exit status is visible, so give it that moment.
        try:
            server.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
        server.check_alive()
        raise ServerError(f"{contender.framework}: {exc}") from None
    wall = time.monotonic() - wall_before
    result["server_cpu_pct"] = (server.cpu_seconds() - cpu_before) / wall * 100
    result["client_cpu_pct"] = result["client_cpu_s"] / result["seconds"] * 100 / len(generator.processes)
    server.check_alive()
    if result["ops"] == 0:
        raise ServerError(f"{contender.framework}: no reply completed in a {window_s:g}s window")
    return result


def summarize(contender: Contender, baseline: Contender | None) -> dict:
    rounds = contender.rounds
    per_op = [r["seconds"] / r["ops"] for r in rounds]
    latencies = sorted(x for r in rounds for x in r["latencies_us"])
    summary = {
        "framework": contender.framework,
        "version": servers.version(contender.framework),
        "rounds": len(rounds),
        "ops": sum(r["ops"] for r in rounds),
        "seconds_per_op": stats.median(per_op),
        "spread_pct": stats.spread_pct(per_op),
        "ops_per_second": stats.median([r["ops"] / r["seconds"] for r in rounds]),
        "server_cpu_pct": stats.median([r["server_cpu_pct"] for r in rounds]),
        "client_cpu_pct": stats.median([r["client_cpu_pct"] for r in rounds]),
        "latency_p50_s": stats.percentile(latencies, 50) / 1e6,
        "latency_p99_s": stats.percentile(latencies, 99) / 1e6,
        "latency_p999_s": stats.percentile(latencies, 99.9) / 1e6,
        "connect_s": contender.ready.get("connect_s", 0.0),
        # Connections that negotiated permessage-deflate, out of those opened (by the
        # generator before the rounds, or inside them for fixed jobs like the article's).
        "deflate_connections": contender.ready.get("deflate_connections", 0)
        + sum(r["deflate_connections"] for r in rounds),
    }
    summary["saturated"] = summary["server_cpu_pct"] >= stats.SATURATED_CPU_PCT
    if contender is baseline:
        summary["ratio_to_baseline"] = 1.0
    elif baseline and baseline.rounds:
        # Same-round ratios: drift between rounds cancels out.
        ratios = [
            (r["seconds"] / r["ops"]) / (b["seconds"] / b["ops"]) for r, b in zip(rounds, baseline.rounds, strict=False)
        ]
        summary["ratio_to_baseline"] = stats.median(ratios)
    return summary


def compare(
    workload: Workload,
    frameworks: list[str] | None = None,
    *,
    rounds: int = 5,
    window_s: float = 1.0,
    warmup_s: float = 0.5,
    loop: str = "asyncio",
    json_codec: str = "stdlib",
    generator_processes: int | None = None,
) -> dict:
    """Measure ``workload`` on every framework (and the baseline), interleaved.

    Returns {"workload": ..., "setup": ..., "results": {framework: summary}}, where a
    summary is the statistics of summarize(), or {"skipped": reason}, or {"error": cause}.
    """
    names = list(frameworks or servers.FRAMEWORKS)
    server_cpu, generator_cpus = cpu_plan()
    processes = generator_processes or workload.generator_processes or len(generator_cpus)
    server_loop_default = workload.loop or loop
    contenders = [Contender(name) for name in names]
    try:
        for c in contenders:
            reason = servers.missing(c.framework) or workload.unsupported(c.framework)
            if reason:
                c.skipped = reason
                continue
            try:
                server_loop = BASELINE_LOOP if c.framework == "baseline" else server_loop_default
                c.server = ServerProcess(
                    c.framework,
                    loop=server_loop,
                    json_codec=json_codec,
                    compression=workload.server_compression(c.framework),
                    cpu=server_cpu,
                ).start()
                spec = workload.generator_spec(c.server, json_codec, workload.connections)
                spec["warmup_s"] = warmup_s if workload.warmup else 0
                c.generator = Generator(spec, generator_cpus, processes)
                c.ready = c.generator.wait_ready()
            except (ServerError, GeneratorError) as exc:
                c.error = str(exc)
                c.close()
        for i in range(rounds):
            active = [c for c in contenders if c.generator and not c.error]
            shift = i % len(active) if active else 0
            for c in active[shift:] + active[:shift]:  # rotate who goes first
                try:
                    c.rounds.append(measure_round(c, window_s))
                except (ServerError, GeneratorError) as exc:
                    c.error = str(exc)
                    c.close()
    finally:
        for c in contenders:
            c.close()
    baseline = next((c for c in contenders if c.framework == "baseline" and not c.error), None)
    results = {}
    for c in contenders:
        if c.skipped:
            results[c.framework] = {"skipped": c.skipped}
        elif c.error:
            results[c.framework] = {"error": c.error}
        else:
            results[c.framework] = summarize(c, baseline)
    return {
        "workload": workload.name,
        "setup": {
            "rounds": rounds,
            "window_s": window_s,
            "warmup_s": warmup_s if workload.warmup else 0,
            "loop": server_loop_default,
            "compression": workload.compression,
            "baseline_loop": BASELINE_LOOP,
            "json_codec": json_codec,
            "server_cpu": server_cpu,
            "generator_cpus": generator_cpus,
            "generator_processes": processes,
            "generator_env": GENERATOR_ENV,
            "python": sys.version.split()[0],
            "pinned": server_cpu is not None,
            "cpus": os.cpu_count(),
        },
        "results": results,
    }


def setup_record(workload: Workload, **extra: object) -> dict:
    server_cpu, generator_cpus = cpu_plan()
    return {
        "workload": workload.name,
        "compression": workload.compression,
        "server_cpu": server_cpu,
        "generator_cpus": generator_cpus,
        "python": sys.version.split()[0],
        "pinned": server_cpu is not None,
        **extra,
    }


def compare_each(workloads: list[Workload], frameworks: list[str] | None = None, **options) -> dict:
    """compare() for several workloads, one after another: {workload name: comparison}."""
    return {w.name: compare(w, frameworks, **options) for w in workloads}


def memory_per_connection(
    workload: Workload,
    counts: list[int],
    frameworks: list[str] | None = None,
    *,
    loop: str = "asyncio",
    settle_s: float = MEMORY_SETTLE_S,
) -> dict:
    """Server resident memory per open connection: a fresh server per framework and count,
    its RSS read before and after the generator opened ``count`` connections of
    ``workload`` and echoed at least one message on each (its warm-up), then left them idle.

    Returns {"setup": ..., "results": {framework: {count: {"bytes_per_connection", ...} or
    {"skipped"} or {"error"}}}}.
    """
    ensure_fd_limit(max(counts) + FDS_BESIDES_CONNECTIONS)  # raises FdLimitError with the fix
    names = list(frameworks or servers.FRAMEWORKS)
    server_cpu, generator_cpus = cpu_plan()
    results: dict[str, dict] = {}
    for name in names:
        results[name] = {}
        reason = servers.missing(name) or workload.unsupported(name)
        for count in counts:
            if reason:
                results[name][count] = {"skipped": reason}
                continue
            server = generator = None
            try:
                server = ServerProcess(
                    name,
                    loop=BASELINE_LOOP if name == "baseline" else loop,
                    compression=workload.server_compression(name),
                    cpu=server_cpu,
                ).start()
                time.sleep(settle_s)
                before = server.rss_bytes()
                spec = workload.generator_spec(server, "stdlib", count)
                spec.update(warmup_s=0.05, connect_timeout_s=10 + count / 200)
                generator = Generator(spec, generator_cpus, 1)
                try:
                    ready = generator.wait_ready()
                except GeneratorError as exc:
                    server.check_alive()
                    raise ServerError(f"{name}: {exc}") from None
                if ready["connections"] != count:
                    raise ServerError(f"{name}: {ready['connections']} connections open, expected {count}")
                time.sleep(settle_s)
                server.check_alive()
                after = server.rss_bytes()
                results[name][count] = {
                    "connections": count,
                    "rss_before_bytes": before,
                    "rss_after_bytes": after,
                    "bytes_per_connection": (after - before) / count,
                    "deflate_connections": ready["deflate_connections"],
                }
            except (ServerError, GeneratorError) as exc:
                results[name][count] = {"error": str(exc)}
            finally:
                if generator:
                    generator.close()
                if server:
                    server.stop()
    return {"setup": setup_record(workload, counts=counts, loop=loop, settle_s=settle_s), "results": results}
