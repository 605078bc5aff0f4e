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
from harness import documents, stats
from harness.process import (
    MALLOC_ENV,
    ServerError,
    ServerProcess,
    child_env,
    cpu_plan,
    die_with_parent,
    ensure_fd_limit,
)
from servers import contract

GENERATOR_ENV = MALLOC_ENV  # see harness/process.py: servers and generators alike
GENERATOR_READY_TIMEOUT = 30.0
SPEC_ARGV_LIMIT = 64 * 1024  # larger specs (big request bodies) go through a file: argv caps one argument at 128 KiB
WINDOW_GRACE = 15.0  # beyond the window: the generator's own reply timeout plus slack
# Set to 1 for a smoke run (tests): one short round, results not meant to be read.
QUICK_ENV = "BENCH_QUICK"
FDS_BESIDES_CONNECTIONS = 256  # the interpreter, pipes, the listening socket, slack
MEMORY_SETTLE_S = 0.5  # let the server finish allocating before its RSS is read
# The baseline is the generator's reference ceiling, so it runs as fast as it can.
BASELINE_LOOP = "uvloop"


@dataclass(frozen=True)
class Workload:
    """What the generator sends and what it must get back. ``spec`` goes to loadgen.py."""

    name: str
    path: str
    scheme: str  # "ws" or "http"
    spec: dict
    connections: int = 1
    needs_http: bool = False
    server_args: tuple[str, ...] = ()  # extra ``python -m servers`` options (servers/__main__.py)
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
            body = dumps(spec.pop("expect_json"))
            spec["expect"] = {"content_type": contract.APPLICATION_JSON, "body": body.decode()}
            if spec.pop("etag", False):
                spec["expect"]["etag"] = contract.etag(body)
            if spec.pop("if_none_match", False):  # the client holds the current version
                spec["headers"] = {"If-None-Match": contract.etag(body)}
                spec["expect"] = {"status": 304, "content_type": "", "body": "", "etag": contract.etag(body)}
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


def http_get(
    path: str, connections: int, *, if_none_match: bool = False, server_args: tuple[str, ...] = ()
) -> Workload:
    """GET ``path`` again and again. On /cache/etag the ETag is checked too, and with
    ``if_none_match`` every request carries the current tag and must be answered 304."""
    name = f"http_get{path.replace('/', '_')}{'_if_none_match' if if_none_match else ''}_c{connections}"
    if path == contract.JSON:
        spec = {"kind": "http", "method": "GET", "expect_json": contract.JSON_MESSAGE}
    elif path in contract.CACHE_DOCUMENT_PATHS:
        spec = {"kind": "http", "method": "GET", "expect_json": contract.cache_document()}
        if path == contract.CACHE_ETAG:
            spec.update(etag=True, if_none_match=if_none_match)
    elif path == contract.PLAINTEXT:
        expect = {"content_type": contract.TEXT_PLAIN, "body": contract.PLAINTEXT_BODY.decode()}
        spec = {"kind": "http", "method": "GET", "expect": expect}
    else:
        raise ValueError(f"no expected response known for GET {path}")
    if if_none_match and path != contract.CACHE_ETAG:
        raise ValueError(f"no ETag known for GET {path}")
    return Workload(name, path, "http", spec, connections, needs_http=True, server_args=server_args)


def http_post_json(size_name: str, connections: int) -> Workload:
    """POST /json/echo of a documents.document(size_name); the reply must be the server's
    codec's exact bytes for the same document."""
    document = documents.document(size_name)
    spec = {"kind": "http", "method": "POST", "body_json": document, "expect_json": document}
    return Workload(
        f"http_post_json_echo_{size_name}_c{connections}",
        contract.JSON_ECHO,
        "http",
        spec,
        connections,
        needs_http=True,
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
        self.shares: list[float] = []  # each process's fraction of the connections (and of an open-loop rate)
        self.spec_files: list[str] = []
        for i in range(processes):
            share = connections // processes + (1 if i < connections % processes else 0)
            self.shares.append(share / connections)
            err = tempfile.TemporaryFile()
            self.stderr.append(err)
            encoded = json.dumps(dict(spec, connections=share))
            if len(encoded) > SPEC_ARGV_LIMIT:
                with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                    f.write(encoded)
                self.spec_files.append(f.name)
                encoded = "@" + f.name
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "harness.loadgen", encoded],
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

    def window(self, seconds: float, rate: float | None = None) -> dict:
        """One measurement window on every process at once; merged counts and latencies.

        Closed loop, or open loop at ``rate`` requests/s in total (HTTP only), shared out
        like the connections. Open-loop results add ``schedule_lag_us``.
        """
        for process, share in zip(self.processes, self.shares, strict=True):
            command = f"go {seconds}" if rate is None else f"go {seconds} {rate * share}"
            process.stdin.write(f"{command}\n".encode())
            process.stdin.flush()
        deadline = time.monotonic() + seconds + WINDOW_GRACE
        result = self._merge(
            [self._read(p, e, deadline, "measuring") for p, e in zip(self.processes, self.stderr, strict=True)]
        )
        if rate is not None:
            result["rate"] = rate
        return result

    def burst(self) -> dict:
        """Every connection of every process sends one request at once; merged replies."""
        for process in self.processes:
            process.stdin.write(b"burst\n")
            process.stdin.flush()
        deadline = time.monotonic() + WINDOW_GRACE
        return self._merge(
            [self._read(p, e, deadline, "bursting") for p, e in zip(self.processes, self.stderr, strict=True)]
        )

    @staticmethod
    def _merge(parts: list[dict]) -> dict:
        result = {
            "ops": sum(p["ops"] for p in parts),
            "bytes": sum(p["bytes"] for p in parts),
            "seconds": max(p["seconds"] for p in parts),
            "client_cpu_s": sum(p["client_cpu_s"] for p in parts),
            "deflate_connections": sum(p.get("deflate_connections", 0) for p in parts),
        }
        for key in ("latencies_us", "schedule_lag_us"):
            if key in parts[0]:
                values = array.array("f")
                for part in parts:
                    values.frombytes(base64.b64decode(part[key]))
                result[key] = values
        return result

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
        for path in self.spec_files:
            os.unlink(path)
        self.spec_files = []


@dataclass
class Contender:
    """One framework in a comparison: its server, its generator, its rounds."""

    framework: str
    server: ServerProcess | None = None
    generator: Generator | None = None
    rounds: list[dict] = field(default_factory=list)
    open_rounds: dict[float, dict] = field(default_factory=dict)  # load fraction -> open-loop window
    error: str | None = None
    skipped: str | None = None
    ready: dict = field(default_factory=dict)

    def close(self) -> None:
        if self.generator:
            self.generator.close()
        if self.server:
            self.server.stop()


def measure_round(contender: Contender, window_s: float, rate: float | None = None) -> dict:
    server, generator = contender.server, contender.generator
    cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
    try:
        result = generator.window(window_s, rate)
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
    if any(r["bytes"] for r in rounds):  # counted by HTTP clients only: head and body on the wire
        summary["response_bytes"] = sum(r["bytes"] for r in rounds) / sum(r["ops"] for r in rounds)
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


def start_contenders(
    workload: Workload,
    names: list[str],
    *,
    warmup_s: float,
    loop: str,
    json_codec: str,
    generator_processes: int | None,
    server_env: dict[str, str] | None = None,
) -> tuple[list[Contender], dict]:
    """A started server and warmed-up generator per framework (or the reason it has none),
    and the record of the set-up. Callers must close every contender (try/finally)."""
    server_cpu, generator_cpus = cpu_plan()
    processes = generator_processes or workload.generator_processes or len(generator_cpus)
    server_loop_default = workload.loop or loop
    contenders = [Contender(name) for name in names]
    setup = {
        "warmup_s": warmup_s if workload.warmup else 0,
        "loop": server_loop_default,
        "compression": workload.compression,
        "baseline_loop": BASELINE_LOOP,
        "json_codec": json_codec,
        "server_cpu": server_cpu,
        "generator_cpus": generator_cpus,
        "generator_processes": processes,
        "generator_env": GENERATOR_ENV,
        "server_env": MALLOC_ENV if server_env is None else server_env,
        "python": sys.version.split()[0],
        "pinned": server_cpu is not None,
        "cpus": os.cpu_count(),
    }
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
                extra_args=workload.server_args,
                env=server_env,
            ).start()
            spec = workload.generator_spec(c.server, json_codec, workload.connections)
            spec["warmup_s"] = warmup_s if workload.warmup else 0
            c.generator = Generator(spec, generator_cpus, processes)
            c.ready = c.generator.wait_ready()
        except (ServerError, GeneratorError) as exc:
            c.error = str(exc)
            c.close()
    return contenders, setup


def interleaved(contenders: list[Contender], round_index: int, measure) -> None:
    """``measure(contender)`` on every live contender, rotating who goes first; a failure
    ends that contender (its error is kept), not the others."""
    active = [c for c in contenders if c.generator and not c.error]
    shift = round_index % len(active) if active else 0
    for c in active[shift:] + active[:shift]:
        try:
            measure(c)
        except (ServerError, GeneratorError) as exc:
            c.error = str(exc)
            c.close()


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
    server_env: dict[str, str] | None = None,
) -> dict:
    """Measure ``workload`` on every framework (and the baseline), interleaved.

    ``server_env``: the servers' allocator settings, MALLOC_ENV by default; {} runs them
    with glibc's defaults.

    Returns {"workload": ..., "setup": ..., "results": {framework: summary}}, where a
    summary is the statistics of summarize(), or {"skipped": reason}, or {"error": cause}.
    """
    quick = os.environ.get(QUICK_ENV) == "1"
    if quick:  # a fixed job (warmup False) keeps its window: that is only its time bound
        rounds, warmup_s = 1, 0.1
        window_s = min(window_s, 0.2) if workload.warmup else window_s
    names = list(frameworks or servers.FRAMEWORKS)
    contenders: list[Contender] = []
    try:
        contenders, setup = start_contenders(
            workload,
            names,
            warmup_s=warmup_s,
            loop=loop,
            json_codec=json_codec,
            generator_processes=generator_processes,
            server_env=server_env,
        )
        for i in range(rounds):
            interleaved(contenders, i, lambda c: c.rounds.append(measure_round(c, window_s)))
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
        "setup": dict(setup, rounds=rounds, window_s=window_s, quick=quick),
        "results": results,
    }


def open_loop(
    frameworks: list[str] | None = None,
    *,
    fractions: tuple[float, ...] = (0.5, 0.8),
    connections: int = 64,
    capacity_rounds: int = 3,
    window_s: float = 0.5,
    open_window_s: float = 2.0,
    warmup_s: float = 0.5,
    loop: str = "asyncio",
    json_codec: str = "stdlib",
) -> dict:
    """Latency at fixed request rates: GET /json, open loop, at each fraction of the capacity
    that the same server showed closed loop on the same connections in the same run.

    Latency counts from each request's intended send time (harness.loadgen.OpenLoopSchedule).
    Returns {"workload", "setup", "results": {framework: {"capacity_rps", "at": {fraction:
    {latency_p50_s, latency_p99_s, latency_p999_s, ...}}}}} or {"skipped"}/{"error"} per framework.
    """
    quick = os.environ.get(QUICK_ENV) == "1"
    if quick:
        capacity_rounds, window_s, open_window_s, warmup_s = 1, 0.2, 0.3, 0.1
    workload = http_get(contract.JSON, connections)
    names = list(frameworks or servers.FRAMEWORKS)
    contenders: list[Contender] = []
    try:
        contenders, setup = start_contenders(
            workload, names, warmup_s=warmup_s, loop=loop, json_codec=json_codec, generator_processes=None
        )
        for i in range(capacity_rounds):
            interleaved(contenders, i, lambda c: c.rounds.append(measure_round(c, window_s)))
        for i, fraction in enumerate(fractions):

            def at_fraction(c: Contender, fraction: float = fraction) -> None:
                capacity = stats.median([r["ops"] / r["seconds"] for r in c.rounds])
                c.open_rounds[fraction] = measure_round(c, open_window_s, rate=fraction * capacity)

            interleaved(contenders, i, at_fraction)
    finally:
        for c in contenders:
            c.close()
    results = {}
    for c in contenders:
        if c.skipped:
            results[c.framework] = {"skipped": c.skipped}
        elif c.error:
            results[c.framework] = {"error": c.error}
        else:
            results[c.framework] = {
                "framework": c.framework,
                "version": servers.version(c.framework),
                "capacity_rps": stats.median([r["ops"] / r["seconds"] for r in c.rounds]),
                "capacity_server_cpu_pct": stats.median([r["server_cpu_pct"] for r in c.rounds]),
                "at": {str(f): open_summary(r) for f, r in c.open_rounds.items()},
            }
    return {
        "workload": f"http_get_json_open_loop_c{connections}",
        "setup": dict(
            setup,
            capacity_rounds=capacity_rounds,
            window_s=window_s,
            open_window_s=open_window_s,
            fractions=fractions,
            quick=quick,
        ),
        "results": results,
    }


def open_summary(result: dict) -> dict:
    """Latency percentiles of one open-loop window, with what shows it was honest: the
    rate achieved and how late the generator itself was in sending."""
    latencies = sorted(result["latencies_us"])
    lags = sorted(result["schedule_lag_us"])
    return {
        "rate_rps": result["rate"],
        "requests": result["ops"],
        "achieved_rps": result["ops"] / result["seconds"],
        "latency_p50_s": stats.percentile(latencies, 50) / 1e6,
        "latency_p99_s": stats.percentile(latencies, 99) / 1e6,
        "latency_p999_s": stats.percentile(latencies, 99.9) / 1e6,
        "schedule_lag_p99_s": stats.percentile(lags, 99) / 1e6,
        "server_cpu_pct": result["server_cpu_pct"],
        "client_cpu_pct": result["client_cpu_pct"],
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
