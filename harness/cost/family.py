"""The cost family's measurement: for each framework, the cases replayed on a native server
with strace counting system calls, then on the same server under callgrind counting
instructions, one server start of each kind per server configuration (JSON codec; Redis).
Frameworks are measured side by side, one per CPU (cost_cpus).

A case that fails (a wrong reply) fails alone with its cause; a server that dies or hangs
fails the cases it had left at once, naming the case where it happened. A missing tool
makes its figures n/a with the cause; strace refused (no ptrace) leaves the instructions.
Every server, redis-server and strace is stopped before this returns.
"""

from __future__ import annotations

import contextlib
import os
import platform
import queue
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import servers
from harness.compare import run_certificate
from harness.cost import callgrind, quiet, syscalls
from harness.cost.cases import CostCase
from harness.cost.records import CostRecord
from harness.cost.replay import NATIVE_REPLY_TIMEOUT_S, REPLY_TIMEOUT_S, NoReply, Replay, ReplayError, replay_for
from harness.loadgen.verify import ReplyError
from harness.outcomes import Failed, Measurement, Skipped
from harness.process import ServerError, ServerProcess
from harness.redis_server import RedisError, RedisServer, redis_missing
from harness.tls import Certificate
from harness.topology import LOOPBACK

Key = tuple[str, str]  # (framework, case name)
DEATH_GRACE_S = 3.0
# What a replay can fail with, other than the server dying.
CASE_ERRORS = (
    OSError,
    ReplyError,
    ReplayError,
    callgrind.CallgrindError,
    syscalls.StraceError,
    quiet.NeverQuiet,
    ServerError,
)


# The environment a measured server runs with: str hashes seeded alike in every run, so
# dict and set layouts (and the instructions spent probing them) repeat.
DETERMINISTIC_ENV = {"PYTHONHASHSEED": "0"}


def server_config(case: CostCase, framework: str, certificate: Certificate | None = None) -> tuple:
    """Cases with equal configurations share one server start. Only the Redis case's server
    is told where Redis is: an extra argument would shift every other case's figures (the TLS
    cases' servers are told where the run's certificate is, in a folder whose name has the
    same length in every run)."""
    server = case.workload.server(framework, None, certificate=certificate)
    return tuple(server.command), tuple(sorted(server.env.items())), case.needs_redis


def server_groups(
    cases: list[CostCase], framework: str, certificate: Certificate | None = None
) -> list[list[CostCase]]:
    """``cases`` by server configuration: each group is measured on one server start natively
    and one under valgrind."""
    groups: dict[tuple, list[CostCase]] = {}
    for case in cases:
        groups.setdefault(server_config(case, framework, certificate), []).append(case)
    return list(groups.values())


def measured_pid(server: ServerProcess) -> int:
    """The server's own process, as its ready line names it (the process started may be a
    launcher; under valgrind the two are one)."""
    return server.server_pid or server.pid


def replay(case: CostCase, server: ServerProcess, timeout: float, certificate: Certificate | None = None) -> Replay:
    """The case's replay on ``server``, each operation starting once the server is idle."""
    pid = measured_pid(server)
    spec = case.workload.load_spec(server, certificate)
    return replay_for(spec, timeout, settle=lambda: quiet.wait_quiet(pid))


def server_for(
    case: CostCase, framework: str, redis_port: int | None, cpu: int | None, certificate: Certificate | None = None
) -> ServerProcess:
    """The (unstarted, native) server of ``case``'s configuration, seeded alike in every run."""
    workload = case.workload
    if case.needs_redis and redis_port is not None:
        workload = workload.with_server_args("--redis-port", str(redis_port))
    server = workload.server(framework, cpu, certificate=certificate)
    server.env = {**server.env, **DETERMINISTIC_ENV}
    server.inherit_env = False  # the figure must not depend on who runs it (process.MEASURED_ENV_KEEP)
    return server


class FrameworkRun:
    """One framework's cases that share a server configuration, on a native server (system
    calls) and then under callgrind (instructions)."""

    def __init__(
        self,
        framework: str,
        cases: list[CostCase],
        redis_port: int | None,
        cpu: int | None,
        interrupted: threading.Event | None = None,
        certificate: Certificate | None = None,
    ) -> None:
        self.framework = framework
        self.certificate = certificate  # the run's, for the TLS cases
        self.interrupted = interrupted or threading.Event()  # set: measure no further case
        self.cases = cases
        self.redis_port = redis_port
        self.cpu = cpu
        self.syscalls: dict[str, dict[str, float] | Failed] = {}
        self.outcomes: dict[Key, CostRecord | Failed] = {}
        self.stuck: str = ""  # the failure that ended the current server's usefulness, if any

    def count_syscalls(self) -> str:
        """Count each case's system calls; returns why none could be counted ("" if they were)."""
        self.stuck = ""
        with server_for(self.cases[0], self.framework, self.redis_port, self.cpu, self.certificate) as server:
            for case in self.cases:
                if self.interrupted.is_set():
                    break
                if self.stuck:
                    self.syscalls[case.name] = Failed(f"{case.name}: not measured: {self.stuck}")
                    continue
                try:
                    with replay(case, server, NATIVE_REPLY_TIMEOUT_S, self.certificate) as r:
                        r.run(case.warmup_ops)
                        self.syscalls[case.name] = syscalls.per_op(measured_pid(server), r.run, case.syscall_ops)
                except syscalls.AttachRefused as exc:
                    self.syscalls.clear()
                    return f"{exc}; {syscalls.PTRACE_HINT}"
                except CASE_ERRORS as exc:
                    self.syscalls[case.name] = self._failure(server, case, "counting system calls", exc)
        return ""

    def valgrind_server(self, tmp: Path, cpu: int | None) -> ServerProcess:
        """This run's (unstarted) server under callgrind, its dumps in ``tmp``, pinned to ``cpu``."""
        server = server_for(self.cases[0], self.framework, self.redis_port, cpu, self.certificate)
        server.command = callgrind.command_prefix(tmp) + server.command
        server.ready_timeout = callgrind.READY_TIMEOUT_S
        return server

    def count_instructions(
        self, unavailable: str, tools: dict[str, str], launched: tuple[ServerProcess, Path] | None = None
    ) -> None:
        """Count each case's instructions under callgrind, on ``launched`` (a valgrind_server
        already launched, and its folder) or on one started here."""
        release = servers.version(self.framework)
        for case in self.cases:
            if isinstance(self.syscalls.get(case.name), Failed):  # the native run already failed it
                self.outcomes[self.framework, case.name] = self.syscalls[case.name]
        if self.interrupted.is_set() or all(
            key in self.outcomes for key in ((self.framework, case.name) for case in self.cases)
        ):
            return
        self.stuck = ""
        with contextlib.ExitStack() as stack:
            if launched is None:
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-callgrind-")))
                server = stack.enter_context(self.valgrind_server(tmp, self.cpu))  # started: launched and ready
            else:
                server, tmp = launched
                stack.callback(server.stop)
                server.ready()
            window = callgrind.Window(measured_pid(server), tmp)
            window.instrument()
            for case in self.cases:
                key = (self.framework, case.name)
                if self.interrupted.is_set():
                    break
                if key in self.outcomes:
                    continue
                if self.stuck:
                    self.outcomes[key] = Failed(f"{case.name}: not measured: {self.stuck}")
                    continue
                counted = self.syscalls.get(case.name, {})
                try:
                    with replay(case, server, REPLY_TIMEOUT_S, self.certificate) as r:
                        r.run(case.warmup_ops)
                        window.open()
                        r.run(case.ops)
                        dump = window.close()
                    total, selves = callgrind.read_dump(dump)
                    dump.unlink()
                except CASE_ERRORS as exc:
                    self.outcomes[key] = self._failure(server, case, "counting instructions", exc)
                    continue
                self.outcomes[key] = CostRecord(
                    framework=self.framework,
                    release=release,
                    case=case.name,
                    ops=case.ops,
                    instructions=total,
                    syscall_ops=case.syscall_ops if not unavailable else 0,
                    syscalls=counted,
                    functions=callgrind.profile(selves, case.ops),
                    profiled=sum(selves.values()),
                    tool=tools,
                    syscalls_unavailable=unavailable,
                )
            # Every window is dumped and read: the instrumented shutdown (the framework's,
            # the interpreter's, callgrind's last dump) would only take seconds a server.
            server.kill()

    def _failure(self, server: ServerProcess, case: CostCase, doing: str, exc: Exception) -> Failed:
        """The case's failure; a server that died or hung fails the cases after it at once
        (each would wait out its timeouts on it)."""
        if isinstance(exc, ReplayError | OSError):
            # A dying server's sockets close a moment before its exit status shows (longer
            # under valgrind, which cleans up after the guest): give it that moment.
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=DEATH_GRACE_S)
        try:
            server.check_alive()
        except ServerError as died:
            self.stuck = f"the server died during {case.name}"
            return Failed(f"{case.name}, {doing}: {died}")
        if isinstance(exc, quiet.NeverQuiet | NoReply):
            self.stuck = f"the server hung during {case.name}"
        return Failed(f"{case.name}, {doing}: {type(exc).__name__}: {exc}")


def cost_cpus() -> list[int | None]:
    """The CPUs the family's servers run on, one framework's server on each at a time.

    Unlike the wall-clock families, this one may use every core at once: a figure is what
    the server executes, and each operation is sent only once the server has settled from
    the last (quiet.py), so how fast it runs, or what runs beside it, does not enter the
    count (README, "Cost per operation", shows the figures alike either way). On one CPU
    nothing is pinned, as in cpu_plan."""
    cpus = sorted(os.sched_getaffinity(0))
    return list(cpus) if len(cpus) > 1 else [None]


def measure_costs(
    cases: Iterable[CostCase],
    frameworks: Iterable[str],
    cpus: list[int | None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    count_syscalls: bool = True,
) -> Measurement[CostRecord]:
    """Every framework's cost on every case, keyed (framework, case name); frameworks
    measured side by side, one on each of ``cpus`` (default: cost_cpus()). ``progress``
    is called with (framework, frameworks done, frameworks to do) as each one finishes.
    TLS cases share one certificate made for this measurement (compare.run_certificate).
    ``count_syscalls`` False: instructions only, the records saying so (no native run)."""
    cases, frameworks = list(cases), list(frameworks)
    with run_certificate([case.workload for case in cases], LOOPBACK) as certificate:
        return _measure_costs(cases, frameworks, cpus, progress, certificate, count_syscalls)


SYSCALLS_NOT_ASKED = "system calls not counted: this run did not ask for them"


def _measure_costs(
    cases: list[CostCase],
    frameworks: list[str],
    cpus: list[int | None] | None,
    progress: Callable[[str, int, int], None] | None,
    certificate: Certificate | None,
    count_syscalls: bool = True,
) -> Measurement[CostRecord]:
    cpus = cpus or cost_cpus()
    outcomes: dict[Key, CostRecord | Skipped | Failed] = {}
    missing_valgrind = callgrind.valgrind_missing() or quiet.unsupported()
    missing_strace = (syscalls.strace_missing() or "") if count_syscalls else SYSCALLS_NOT_ASKED
    tools = {"python": platform.python_version()}
    if not missing_valgrind:
        tools["valgrind"] = callgrind.valgrind_version()
    if not missing_strace:
        tools["strace"] = syscalls.strace_version()
    redis: RedisServer | None = None
    redis_unavailable = redis_missing() if any(c.needs_redis for c in cases) else None
    # Each worker thread takes a CPU for one framework's whole run and gives it back.
    free_cpus: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    for cpu in cpus:
        free_cpus.put(cpu)
    stopping = threading.Event()  # interrupted: start no other server

    def measure_framework(framework: str, runnable: list[CostCase], spare: bool) -> dict[Key, CostRecord | Failed]:
        taken = [free_cpus.get() for _ in range(2 if spare else 1)]
        measured: dict[Key, CostRecord | Failed] = {}
        try:
            for group in server_groups(runnable, framework, certificate):
                if stopping.is_set():
                    break
                run = FrameworkRun(framework, group, redis.port if redis else None, taken[0], stopping, certificate)
                try:
                    with contextlib.ExitStack() as stack:
                        launched = None
                        if spare and not missing_strace:
                            # Its valgrind server starts on the spare CPU while the native run
                            # counts system calls: its start (3-5 s) took the time of that run.
                            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-callgrind-")))
                            launched = (run.valgrind_server(tmp, taken[1]).launch(), tmp)
                            stack.callback(launched[0].stop)
                            stack.callback(launched[0].kill)  # unused when the native run failed every case
                        refused = "" if missing_strace else run.count_syscalls()
                        run.count_instructions(missing_strace or refused, tools, launched)
                except (ServerError, callgrind.CallgrindError, OSError) as exc:
                    for case in group:
                        run.outcomes.setdefault((framework, case.name), Failed(f"{framework} server: {exc}"))
                measured.update(run.outcomes)
        finally:
            for cpu in taken:
                free_cpus.put(cpu)
        return measured

    try:
        if any(c.needs_redis for c in cases) and not redis_unavailable:
            try:
                redis = RedisServer(cpu=cpus[0]).start()
            except RedisError as exc:
                redis_unavailable = str(exc)
        runs: dict[str, list[CostCase]] = {}
        for framework in frameworks:
            runs[framework] = []
            for case in cases:
                reason = servers.unavailable(framework) or case.workload.unsupported(framework) or missing_valgrind
                if case.needs_redis and redis_unavailable:
                    reason = reason or redis_unavailable
                if reason:
                    outcomes[framework, case.name] = Skipped(reason)
                else:
                    runs[framework].append(case)
        # A server a worker starts is bound to that thread's life (process.die_with_parent):
        # the pool ends only after every task has stopped its servers. Interrupted (Ctrl-C),
        # the frameworks not begun are dropped and those running stop after their case.
        with ThreadPoolExecutor(max_workers=len(cpus), thread_name_prefix="cost") as pool:
            # The frameworks with the most cases first, those with few (WebSocket only) last, to
            # fill in: in the frameworks' own order, granian and Sanic, among the costliest,
            # came last and one CPU idled while the other measured them.
            order = sorted((fw for fw, runnable in runs.items() if runnable), key=lambda fw: -len(runs[fw]))
            # Two CPUs or more for each framework (one framework alone, in a release environment):
            # each starts its valgrind server on the second while counting system calls on the first.
            spare = 2 * len(order) <= len(cpus)
            futures = {pool.submit(measure_framework, fw, runs[fw], spare): fw for fw in order}
            try:
                for done, future in enumerate(as_completed(futures), 1):
                    outcomes.update(future.result())
                    if progress is not None:
                        progress(futures[future], done, len(futures))
            except BaseException:
                stopping.set()
                pool.shutdown(cancel_futures=True)
                raise
    finally:
        if redis is not None:
            redis.stop()
    return Measurement("cost", {"tools": tools, "server_cpus": cpus}, outcomes)
