"""Interleaved comparisons: every framework's server and the baseline's run side by side,
each driven by its own load-generator processes, round after round (A B C A B C ...), so
host drift hits all of them alike and ratios from one run can be the headline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import servers
from harness import stats, tls, topology
from harness.generator import GENERATOR_ENV, Generator, GeneratorError
from harness.loadspec import Ready, WindowResult
from harness.outcomes import Failed, Measurement, Skipped, Summary
from harness.process import ServerError, ServerProcess, stop_all
from harness.topology import LOOPBACK
from harness.workloads import BASELINE_LOOP, Workload

# Set to 1 for a smoke run (tests): one short round, results not meant to be read.
QUICK_ENV = "BENCH_QUICK"


# A smoke run's window: enough for every connection's reply (those in flight when a window
# ends count too), short enough that the whole suite, twelve frameworks, fits 5 minutes.
QUICK_WINDOW_S = 0.05


def quick() -> bool:
    return os.environ.get(QUICK_ENV) == "1"


# The interpreter every benchmark runs on (harness/interpreters.py), as python -m harness.asv_run
# tells the benchmarks; the other interpreters run the headline only, in shorter rounds.
PRIMARY_PYTHON_ENV = "BENCH_PRIMARY_PYTHON"


def on_primary_interpreter() -> bool:
    """Whether this process runs on the primary interpreter (or nobody said which that is:
    asv run by hand, a test)."""
    primary = os.environ.get(PRIMARY_PYTHON_ENV)
    return not primary or primary == f"{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class Rounds:
    """How long to measure: ``rounds`` windows of ``window_s`` after a ``warmup_s`` warm-up."""

    rounds: int = 5
    window_s: float = 1.0
    warmup_s: float = 0.5

    def for_this_run(self, fixed_job: bool = False) -> Rounds:
        """These settings, or one short round without a warm-up in a smoke run (QUICK_ENV),
        whose figures are not for reading. A fixed job keeps its window, which is only its
        time bound."""
        if not quick():
            return self
        return Rounds(1, self.window_s if fixed_job else min(self.window_s, QUICK_WINDOW_S), 0.0)


DEFAULT_ROUNDS = Rounds()


@dataclass
class Contender:
    """One framework in a comparison: its server, its generator, its rounds."""

    framework: str
    server: ServerProcess | None = None
    generator: Generator | None = None
    rounds: list[Round] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    ready: Ready = Ready(0.0, 0, 0)
    pooled: bool = False  # the server belongs to a ServerPool, which stops it

    @property
    def live(self) -> bool:
        return self.generator is not None and self.error is None

    def close(self) -> None:
        close_all([self])

    @property
    def server_to_stop(self) -> ServerProcess | None:
        # A failed contender's server stops even when pooled: it may be hung, and the pool
        # starts a fresh one for the next workload.
        return self.server if self.server and (not self.pooled or self.error) else None

    def outcome(self, summary: Callable[[Contender], object]) -> object:
        if self.skipped:
            return Skipped(self.skipped)
        if self.error:
            return Failed(self.error)
        return summary(self)


def close_all(contenders: list[Contender]) -> None:
    """Close every contender's generator, then stop the servers that are theirs to stop, together."""
    for c in contenders:
        if c.generator:
            c.generator.quit()  # all told first: they close their connections side by side
    for c in contenders:
        if c.generator:
            c.generator.close()
    stop_all(server for c in contenders if (server := c.server_to_stop) is not None)


class ServerPool:
    """Servers kept running from one workload to the next (compare_each over a grid), so that
    a grid's workloads start each framework's server once, not once each. A server is
    reused only for a workload that would start it with the same command line, environment and
    CPU; the next workload's generator warms it up again before any window is timed."""

    def __init__(self) -> None:
        self._running: dict[tuple, ServerProcess] = {}

    @staticmethod
    def key(
        workload: Workload,
        framework: str,
        cpus: tuple[int, ...],
        host: str = LOOPBACK,
        certificate: tls.Certificate | None = None,
    ) -> tuple:
        """What must agree for two workloads to share ``framework``'s server (a TLS server's
        command line names its certificate: plain and TLS never share one)."""
        wanted = workload.server(framework, cpus, host, certificate)
        return tuple(wanted.command), tuple(sorted(wanted.env.items())), cpus

    def server(
        self,
        workload: Workload,
        framework: str,
        cpus: tuple[int, ...],
        host: str = LOOPBACK,
        certificate: tls.Certificate | None = None,
    ) -> ServerProcess:
        """The running server for this workload, or one launched for it (ServerProcess.ready waits)."""
        key = self.key(workload, framework, cpus, host, certificate)
        running = self._running.get(key)
        if running is not None and running.process is not None and running.process.poll() is None:
            return running
        if running is not None:
            running.stop()
        self._running[key] = workload.server(framework, cpus, host, certificate).launch()
        return self._running[key]

    def close(self) -> None:
        stop_all(self._running.values())
        self._running.clear()


CERTIFICATE_DIR_PREFIX = "asyncweb-bench-tls-"


@contextlib.contextmanager
def run_certificate(workloads: Iterable[Workload], address: str) -> Iterator[tls.Certificate | None]:
    """The certificate TLS servers present and generators verify, made for this measurement
    in a temporary folder (never the checkout: it is never committed) for ``address``, the
    one the servers bind and generators connect to (harness.topology: not loopback when the
    generators are remote), and deleted when the measurement ends, failed or not; None, and
    nothing made, when no workload uses TLS."""
    if not any(workload.tls for workload in workloads):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix=CERTIFICATE_DIR_PREFIX) as directory:
        yield tls.make_certificate(directory, hosts=(address,))


@dataclass(frozen=True)
class Round:
    """One window's counts with the CPU the server and the generator used during it."""

    window: WindowResult
    server_cpu_pct: float
    client_cpu_pct: float
    server_cpu_s: float = 0.0  # the server's CPU seconds over the window (and its drain)

    @property
    def seconds_per_op(self) -> float:
        return self.window.seconds / self.window.ops

    @property
    def ops_per_second(self) -> float:
        return self.window.ops / self.window.seconds


def measure_round(contender: Contender, window_s: float, rate: float | None = None) -> Round:
    """One window on one contender; ServerError naming the server when it died or hung."""
    server, generator = contender.server, contender.generator
    cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
    try:
        window = generator.window(window_s, rate)
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
    server.check_alive()
    if window.ops == 0:
        raise ServerError(f"{contender.framework}: no reply completed in a {window_s:g}s window")
    server_cpu_s = server.cpu_seconds() - cpu_before
    return Round(
        window,
        server_cpu_pct=server_cpu_s / wall * 100,
        client_cpu_pct=window.client_cpu_s / window.seconds * 100 / len(generator.processes),
        server_cpu_s=server_cpu_s,
    )


def summarize(
    framework: str, rounds: list[Round], ready: Ready, baseline: list[Round] | None, server_cpus: int = 1
) -> Summary:
    """The statistics of a contender's rounds; the ratio pairs each round with the
    baseline's round of the same index, so drift between rounds cancels out."""
    per_op = [r.seconds_per_op for r in rounds]
    latencies = sorted(x for r in rounds for x in r.window.latencies_us)
    ratio = None
    if baseline:
        ratio = stats.median([r.seconds_per_op / b.seconds_per_op for r, b in zip(rounds, baseline, strict=False)])
    total_bytes = sum(r.window.bytes for r in rounds)
    total_ops = sum(r.window.ops for r in rounds)
    return Summary(
        framework=framework,
        version=servers.version(framework),
        rounds=len(rounds),
        ops=total_ops,
        seconds_per_op=stats.median(per_op),
        iqr_pct=stats.iqr_pct(per_op),
        ops_per_second=stats.median([r.ops_per_second for r in rounds]),
        server_cpu_pct=stats.median([r.server_cpu_pct for r in rounds]),
        client_cpu_pct=stats.median([r.client_cpu_pct for r in rounds]),
        latency_p50_s=stats.percentile(latencies, 50) / 1e6,
        latency_p99_s=stats.percentile(latencies, 99) / 1e6,
        latency_p999_s=stats.percentile(latencies, 99.9) / 1e6,
        connect_s=ready.connect_s,
        deflate_connections=ready.deflate_connections + sum(r.window.deflate_connections for r in rounds),
        ratio_to_baseline=ratio,
        # counted by HTTP generators only: head and body on the wire
        response_bytes=total_bytes / total_ops if total_bytes else None,
        server_cpus=server_cpus,
        tls=ready.tls,
    )


def setup_record(workload: Workload, **extra: object) -> dict:
    """How a measurement was set up, kept with its results."""
    place = topology.current()
    plan = place.plan(workload.workers)
    server_cpu = plan.server_cpu
    generator_cpus = [slot.cpu for slot in plan.generators]
    placement = place.record()
    if workload.workers != 1:
        placement.update(workers=workload.workers, server_cpus=list(plan.server_cpus), workers_note=plan.note)
    return {
        "workload": workload.name,
        "loop": workload.loop,
        "baseline_loop": BASELINE_LOOP,
        "json_codec": workload.json_codec,
        "compression": workload.compression,
        "tls": workload.tls,  # over TLS, each Summary says what its connections negotiated
        "server_env": workload.server_env,
        "generator_env": GENERATOR_ENV,
        "server_cpu": server_cpu,
        "generator_cpus": generator_cpus,
        "python": sys.version.split()[0],
        "pinned": server_cpu is not None,
        "cpus": os.cpu_count(),
        **placement,
        **extra,
    }


def baseline_alone(workload: Workload, names: list[str]) -> str | None:
    """Why the baseline is not measured: BENCH_FRAMEWORKS names frameworks and none of them
    among ``names`` can serve ``workload`` here; else None.

    The baseline is the reference a framework's ratio is taken against, measured beside it in
    the same rounds. Alone it is no comparison: in the release history's websockets
    environments it measured GET /json by itself, 16 s in each of eight. Named by itself
    (BENCH_FRAMEWORKS=baseline) it runs.
    """
    chosen = [name for name in names if name != "baseline" and name in servers.named()]
    reasons = [servers.missing(name) or workload.unsupported(name) for name in chosen]
    if "baseline" not in names or not chosen or not all(reasons):
        return None
    return f"measured only beside a framework, and none selected here can run {workload.name}: " + "; ".join(
        r for r in reasons if r
    )


def start_contenders(
    workload: Workload,
    names: list[str],
    warmup_s: float,
    pool: ServerPool | None = None,
    certificate: tls.Certificate | None = None,
    before_rounds: Callable[[Contender], None] | None = None,
) -> list[Contender]:
    """A started server (from ``pool`` if given) and warmed-up generator per framework (or the
    reason it has none); over TLS the servers present ``certificate`` and the generators
    verify them against it. ``before_rounds`` is called on each live contender, one at a time,
    after its warm-up (a flame graph: bench_cost.flamegraphs_before_rounds). Callers must
    close every contender (try/finally)."""
    place = topology.current()
    plan = place.plan(workload.workers)
    processes = workload.generator_processes or len(plan.generators)
    contenders = [Contender(name, pooled=pool is not None) for name in names]
    alone = baseline_alone(workload, names)
    try:
        # Set-up measures nothing, so it overlaps where it can: every server launches at once
        # and imports its framework on every core (ServerProcess.launch), each generator
        # starts as soon as its server is ready and connects (warmup 0 in its spec); then,
        # one at a time with nothing else running, each server is warmed up.
        for c in contenders:
            reason = servers.unavailable(c.framework) or workload.unsupported(c.framework)
            if c.framework == "baseline" and alone:
                reason = alone
            if reason:
                c.skipped = reason
            elif pool is not None:
                c.server = pool.server(workload, c.framework, plan.server_cpus, place.address, certificate)
            else:
                c.server = workload.server(c.framework, plan.server_cpus, place.address, certificate).launch()
        for c in contenders:
            if c.server is not None:
                with _failing(c):
                    c.server.ready()
                    spec = workload.load_spec(c.server, certificate, warmup_s=0)
                    c.generator = Generator(spec, plan.generators, processes)
        for c in contenders:
            if c.generator is not None and c.error is None:
                with _failing(c):
                    c.ready = c.generator.wait_ready()
        for c in contenders:
            if c.live and workload.warmup and warmup_s > 0:
                with _failing(c):
                    c.generator.warm_up(warmup_s)
            if c.live and before_rounds is not None:
                with _failing(c):
                    before_rounds(c)
    except BaseException:  # interrupted, or a server that could not even launch: stop those that did
        close_all(contenders)
        raise
    return contenders


@contextlib.contextmanager
def _failing(c: Contender) -> Iterator[None]:
    """A server or generator error ends this contender (its error kept), not the others."""
    try:
        yield
    except (ServerError, GeneratorError) as exc:
        c.error = str(exc)
        c.close()


def interleaved(contenders: list[Contender], round_index: int, measure: Callable[[Contender], None]) -> None:
    """``measure(contender)`` on every live contender, rotating who goes first; a failure
    ends that contender (its error is kept), not the others."""
    active = [c for c in contenders if c.live]
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
    rounds: Rounds = DEFAULT_ROUNDS,
    pool: ServerPool | None = None,
    certificate: tls.Certificate | None = None,
    before_rounds: Callable[[Contender], None] | None = None,
) -> Measurement:
    """Measure ``workload`` on every framework (and the baseline), interleaved: a
    Measurement whose outcome per framework is a Summary, Skipped or Failed. Servers come
    from ``pool`` when given (which stops them), else start and stop here. A TLS workload
    uses ``certificate``, or one made for this comparison alone (run_certificate).
    ``before_rounds``: as in start_contenders."""
    if workload.tls and certificate is None:
        with run_certificate([workload], topology.current().address) as certificate:
            return compare(workload, frameworks, rounds, pool, certificate, before_rounds)
    run = rounds.for_this_run(fixed_job=not workload.warmup)
    contenders: list[Contender] = []
    try:
        names = list(frameworks or servers.FRAMEWORKS)
        contenders = start_contenders(workload, names, run.warmup_s, pool, certificate, before_rounds)
        for i in range(run.rounds):
            interleaved(contenders, i, lambda c: c.rounds.append(measure_round(c, run.window_s)))
    finally:
        close_all(contenders)
    return _measurement(workload, contenders, run)


def _measurement(workload: Workload, contenders: list[Contender], run: Rounds) -> Measurement:
    """One workload's Measurement from its contenders' rounds, each ratio to the baseline's."""
    baseline = next((c.rounds for c in contenders if c.framework == "baseline" and c.live), None)
    outcomes = {
        c.framework: c.outcome(
            lambda c: summarize(c.framework, c.rounds, c.ready, baseline, max(1, len(c.server.cpus)))
        )
        for c in contenders
    }
    setup = setup_record(workload, **dataclasses.asdict(run), quick=quick())
    return Measurement(workload.name, setup, outcomes)


def compare_together(
    workloads: list[Workload],
    frameworks: list[str] | None = None,
    rounds: Rounds = DEFAULT_ROUNDS,
    certificate: tls.Certificate | None = None,
) -> dict[str, Measurement]:
    """Several variants of one workload in the same rounds: {workload name: Measurement}. Each
    round measures every framework on every variant, rotating who goes first, so that the ratio
    between two variants of a framework (plain and TLS) holds no more of the host's drift than
    the ratio between two frameworks does; one after another (compare_each), seconds apart,
    it held all of it. Every variant's servers and generators are up at once, idle outside
    their windows. TLS variants share ``certificate``, or one made here (run_certificate)."""
    if any(w.tls for w in workloads) and certificate is None:
        with run_certificate(workloads, topology.current().address) as certificate:
            return compare_together(workloads, frameworks, rounds, certificate)
    if not all(w.warmup for w in workloads):
        raise ValueError("compare_together interleaves windows of steady state, not fixed jobs")
    run = rounds.for_this_run()
    names = list(frameworks or servers.FRAMEWORKS)
    started: dict[str, list[Contender]] = {}
    try:
        for workload in workloads:
            started[workload.name] = start_contenders(workload, names, run.warmup_s, None, certificate)
        everyone = [c for contenders in started.values() for c in contenders]
        for i in range(run.rounds):
            interleaved(everyone, i, lambda c: c.rounds.append(measure_round(c, run.window_s)))
    finally:
        for contenders in started.values():
            close_all(contenders)
    return {w.name: _measurement(w, started[w.name], run) for w in workloads}


def compare_each(
    workloads: list[Workload],
    frameworks: list[str] | None = None,
    rounds: Rounds = DEFAULT_ROUNDS,
    rounds_by_name: Mapping[str, Rounds] | None = None,
    before_rounds: Callable[[Workload], Callable[[Contender], None] | None] | None = None,
) -> dict:
    """compare() for several workloads, one after another: {workload name: Measurement}, each
    in ``rounds`` unless ``rounds_by_name`` names its own. Servers are shared between
    workloads that start them alike (ServerPool); TLS workloads share one certificate, made
    for these measurements (run_certificate) and deleted once their servers have stopped.
    ``before_rounds(workload)``: compare()'s before_rounds for that workload, if any."""
    chosen = rounds_by_name or {}
    with run_certificate(workloads, topology.current().address) as certificate:
        pool = ServerPool()
        try:
            return {
                w.name: compare(
                    w, frameworks, chosen.get(w.name, rounds), pool, certificate, before_rounds and before_rounds(w)
                )
                for w in workloads
            }
        finally:
            pool.close()
