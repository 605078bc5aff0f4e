"""Server resident memory per open connection: a fresh server per framework, its RSS read
before the generator opened any connection and again at each count, the connections opened
so far left idle and open while more are added (1,000, then 4,000 more for 5,000). The
figure at 5,000 is the same as a fresh server's with 5,000 opened at once, and each
framework's server starts, and its first connections open, once instead of once per count."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import servers
from harness import topology
from harness.compare import quick, setup_record
from harness.generator import Generator, GeneratorError
from harness.outcomes import Failed, Measurement, Skipped
from harness.process import ServerError, ServerProcess, ensure_fd_limit, stop_all
from harness.workloads import Workload

FDS_BESIDES_CONNECTIONS = 256  # the interpreter, pipes, the listening socket, slack
SETTLE_S = 0.5  # let the server finish allocating before its RSS is read
WARMUP_S = 0.05  # one message echoed on each connection: buffers and contexts exist
# A smoke run (asv --quick) proves the wiring on a fiftieth of each count, settling briefly:
# the full counts took 95 of its 570 s with twelve frameworks, a tenth of them still 20 s.
# Its figures are recorded under the counts' names; the results' setup says what was opened.
QUICK_SHARE, QUICK_SETTLE_S = 0.02, 0.05


@dataclass(frozen=True)
class MemoryResult:
    connections: int
    rss_before_bytes: int
    rss_after_bytes: int
    bytes_per_connection: float
    deflate_connections: int


def measure_counts(
    workload: Workload,
    server: ServerProcess,
    counts: list[int],
    settle_s: float,
    results: dict[int, MemoryResult],
) -> None:
    """Fill ``results`` ({count: result}) on one launched server, ``counts`` ascending and
    distinct, each generator keeping its connections open while the next opens more; a
    failure (ServerError) leaves the counts measured before it."""
    generators_at = topology.current().plan().generators
    framework = server.framework
    try:
        server.ready()
        with contextlib.ExitStack() as generators:
            time.sleep(settle_s)
            before = server.rss_bytes()
            opened = deflated = 0
            for count in counts:  # ascending
                more = count - opened
                timeout = 10 + more / 200
                spec = workload.load_spec(server, connections=more, warmup_s=WARMUP_S, connect_timeout_s=timeout)
                generator = generators.enter_context(Generator(spec, generators_at, 1))
                try:
                    ready = generator.wait_ready()
                except GeneratorError as exc:
                    server.check_alive()
                    raise ServerError(f"{framework}: {exc}") from None
                if ready.connections != more:
                    raise ServerError(f"{framework}: {opened + ready.connections} connections open, expected {count}")
                opened, deflated = count, deflated + ready.deflate_connections
                time.sleep(settle_s)
                server.check_alive()
                after = server.rss_bytes()
                results[count] = MemoryResult(count, before, after, (after - before) / count, deflated)
        # Its figures are read and its connections closed: a graceful shutdown measures
        # nothing and took 0.7-1.9 s a framework (Sanic's the longest).
        server.kill()
    finally:
        server.stop()


def memory_per_connection(
    workload: Workload, counts: list[int], frameworks: list[str] | None = None, *, settle_s: float = SETTLE_S
) -> Measurement[MemoryResult]:
    """Per (framework, count): the growth of the server's RSS per open connection of
    ``workload`` (each echoed one message during the warm-up, then idle)."""
    if not counts or min(counts) < 1:
        raise ValueError(f"connection counts must be at least 1: {counts}")
    counts = sorted(set(counts))
    opened = {count: max(1, round(count * QUICK_SHARE)) if quick() else count for count in counts}
    settle_s = min(settle_s, QUICK_SETTLE_S) if quick() else settle_s
    ensure_fd_limit(max(opened.values()) + FDS_BESIDES_CONNECTIONS)  # raises FdLimitError with the fix
    outcomes: dict[tuple[str, int], MemoryResult | Skipped | Failed] = {}
    names = list(frameworks or servers.FRAMEWORKS)
    reasons = {name: servers.unavailable(name) or workload.unsupported(name) for name in names}
    place = topology.current()
    server_cpus = place.plan().server_cpus
    # Every server launches at once and imports side by side (ServerProcess.launch); each is
    # then measured alone, the others idle, and stopped before the next.
    launched = {name: workload.server(name, server_cpus, place.address).launch() for name in names if not reasons[name]}
    try:
        for name in names:
            if reasons[name]:
                outcomes.update({(name, count): Skipped(reasons[name]) for count in counts})
                continue
            measured: dict[int, MemoryResult] = {}
            try:
                measure_counts(workload, launched[name], sorted(set(opened.values())), settle_s, measured)
            except (ServerError, GeneratorError) as exc:
                # The counts measured before the failure stand; the others fail with its cause.
                outcomes.update({(name, c): Failed(str(exc)) for c in counts if opened[c] not in measured})
            outcomes.update({(name, c): measured[opened[c]] for c in counts if opened[c] in measured})
    finally:
        stop_all(launched.values())
    setup = setup_record(
        workload,
        counts=counts,
        opened=list(opened.values()),
        settle_s=settle_s,
        counts_on_one_server=True,
        quick=quick(),
    )
    return Measurement(f"memory_per_connection_{workload.name}", setup, outcomes)
