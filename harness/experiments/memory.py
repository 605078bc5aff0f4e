"""Server resident memory per open connection: a fresh server per framework and count, its
RSS read before and after the generator opened the connections and left them idle."""

from __future__ import annotations

import time
from dataclasses import dataclass

import servers
from harness.compare import setup_record
from harness.generator import Generator, GeneratorError
from harness.outcomes import Failed, Measurement, Skipped
from harness.process import ServerError, cpu_plan, ensure_fd_limit
from harness.workloads import Workload

FDS_BESIDES_CONNECTIONS = 256  # the interpreter, pipes, the listening socket, slack
SETTLE_S = 0.5  # let the server finish allocating before its RSS is read
WARMUP_S = 0.05  # one message echoed on each connection: buffers and contexts exist


@dataclass(frozen=True)
class MemoryResult:
    connections: int
    rss_before_bytes: int
    rss_after_bytes: int
    bytes_per_connection: float
    deflate_connections: int


def measure_one(workload: Workload, framework: str, count: int, settle_s: float) -> MemoryResult:
    server_cpu, generator_cpus = cpu_plan()
    with workload.server(framework, server_cpu) as server:
        time.sleep(settle_s)
        before = server.rss_bytes()
        spec = workload.load_spec(server, connections=count, warmup_s=WARMUP_S, connect_timeout_s=10 + count / 200)
        with Generator(spec, generator_cpus, 1) as generator:
            try:
                ready = generator.wait_ready()
            except GeneratorError as exc:
                server.check_alive()
                raise ServerError(f"{framework}: {exc}") from None
            if ready.connections != count:
                raise ServerError(f"{framework}: {ready.connections} connections open, expected {count}")
            time.sleep(settle_s)
            server.check_alive()
            after = server.rss_bytes()
    return MemoryResult(count, before, after, (after - before) / count, ready.deflate_connections)


def memory_per_connection(
    workload: Workload, counts: list[int], frameworks: list[str] | None = None, *, settle_s: float = SETTLE_S
) -> Measurement[MemoryResult]:
    """Per (framework, count): the growth of the server's RSS per open connection of
    ``workload`` (each echoed one message during the warm-up, then idle)."""
    ensure_fd_limit(max(counts) + FDS_BESIDES_CONNECTIONS)  # raises FdLimitError with the fix
    outcomes: dict[tuple[str, int], MemoryResult | Skipped | Failed] = {}
    for name in frameworks or servers.FRAMEWORKS:
        reason = servers.unavailable(name) or workload.unsupported(name)
        for count in counts:
            if reason:
                outcomes[name, count] = Skipped(reason)
                continue
            try:
                outcomes[name, count] = measure_one(workload, name, count, settle_s)
            except (ServerError, GeneratorError) as exc:
                outcomes[name, count] = Failed(str(exc))
    setup = setup_record(workload, counts=counts, settle_s=settle_s)
    return Measurement(f"memory_per_connection_{workload.name}", setup, outcomes)
