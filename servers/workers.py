"""Several worker processes for one server: ``python -m servers <framework> --workers N``, N > 1.

Each framework runs in its own documented multi-process mode, its server module's
``serve_workers(sock, options, workers, loop)``: Tornado's ``fork_processes``, uvicorn's supervisor
(what ``uvicorn --workers`` runs) under the ASGI frameworks, Sanic's worker manager, granian's
workers, or, for aiohttp, the websockets library and the baseline, N processes each on its own
SO_REUSEPORT socket (``reuse_port`` below). This module is the plumbing around that mode, the same
for all of them. With one worker python -m servers is the server itself and never imports this
module: the cost family counts instructions per request there, and a different heap at start-up
moves them (harness/process.py, MEASURED_ENV_KEEP).

The process tree::

    root        python -m servers, the pid of the ready line: binds the socket, prints the ready
                line once every worker accepts, forwards SIGTERM and SIGINT, watches the workers
    supervisor  forked by the root, in a process group of its own: runs serve_workers()
    workers     the mode's processes (and its helpers: Sanic's multiprocessing manager, the
                multiprocessing resource tracker of the modes that spawn)

Readiness: each mode has its own signal that a worker accepts connections (a hook after its server
started listening, or its supervisor's own health check); there report_ready() sends the worker's
pid to the root over a datagram socket named in READY_ENV. The root prints the ready line, with
the workers' pids, once all have reported.

Ending: the root forwards SIGTERM or SIGINT to the supervisor, which stops its workers its own way;
what is left after STOP_TIMEOUT_S is killed with the process group. A worker that exits unasked
(a supervisor would restart it, and a figure measured meanwhile would be wrong) makes the root say
so, stop the rest and exit with EXIT_WORKER_DIED. If the root dies, even by SIGKILL, the
supervisor's guard thread reads end-of-file on a pipe only the root held open and kills the whole
process group, helpers included; workers also die with their supervisor (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import os
import secrets
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable

import servers
from servers import ServerOptions, Stop, contract

READY_ENV = "BENCH_SERVER_READY"  # the root's datagram socket, in the abstract namespace
SUPERVISOR_ENV = "BENCH_SERVER_SUPERVISOR"  # the supervisor's pid, which workers die with
EXIT_WORKER_DIED = 5
# How long the supervisor has to stop its workers after a signal, within the harness's 5 s before
# it kills the root (harness/process.py, STOP_TIMEOUT).
STOP_TIMEOUT_S = 4.5
WORKER_STOP_TIMEOUT_S = 4.0  # a worker's own stop(), within STOP_TIMEOUT_S
PR_SET_PDEATHSIG = 1

Start = Callable[[socket.socket, ServerOptions], Awaitable[Stop]]


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop ``--loop`` names, for a worker that runs the server module's start()."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


# In a worker.


def bind_to_supervisor() -> None:
    """Die with the supervisor, the worker's parent (SIGKILL when it exits), or at once if it has
    gone already. Called first thing in every worker, before the framework's server starts."""
    supervisor = int(os.environ[SUPERVISOR_ENV])
    if os.getpid() == supervisor:  # the supervisor itself (Sanic builds its app there too)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != supervisor:
        os._exit(EXIT_WORKER_DIED)


def report_ready(pid: int | None = None) -> None:
    """Tell the root that worker ``pid`` (this process by default) accepts connections."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(str(pid or os.getpid()).encode(), "\0" + os.environ[READY_ENV])


def run_worker(start: Start, sock: socket.socket, options: ServerOptions, loop: str) -> int:
    """Serve ``sock`` with a server module's ``start`` on a loop of this process until SIGTERM or
    SIGINT, as one python -m servers process does, reporting ready once it accepts. For a mode
    that forks: returns the exit status."""
    bind_to_supervisor()
    for signum in (signal.SIGTERM, signal.SIGINT):  # the supervisor's handlers, until the loop's own
        signal.signal(signum, signal.SIG_DFL)
    try:
        servers.run_on_new_loop(serve_worker(start, sock, options), loop_factory(loop))
        return 0
    except BaseException:  # noqa: BLE001 - a worker reports its failure and ends
        traceback.print_exc()
        return 1


async def serve_worker(start: Start, sock: socket.socket, options: ServerOptions) -> None:
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    stop = await start(sock, options)
    report_ready()
    await stop_requested.wait()
    await asyncio.wait_for(stop(), WORKER_STOP_TIMEOUT_S)


def listening_socket(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    """A socket on ``host:port`` in its SO_REUSEPORT group, made as python -m servers makes its
    own (servers/__main__.py): again from its descriptor, so that asyncio sees its protocol and
    sets TCP_NODELAY on the connections; non-blocking."""
    sock = socket.create_server((host, port), family=family, backlog=servers.LISTEN_BACKLOG, reuse_port=True)
    sock = socket.socket(fileno=sock.detach())
    sock.setblocking(False)
    return sock


# In the supervisor: the modes made of this module's parts.


def reuse_port(start: Start, sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """N processes serving one port, each on its own SO_REUSEPORT socket, the kernel spreading new
    connections over them by hash: aiohttp's ``web.run_app(reuse_port=True)`` in each process, the
    websockets library's deployment on several cores, and the baseline's. Each process runs
    ``start`` as one python -m servers process does. The supervisor forwards SIGTERM and SIGINT to
    them and exits 1 if one exits unasked, stopping the others.

    ``sock`` (bound with SO_REUSEPORT by python -m servers) keeps the port until the workers have
    bound their own; each closes its copy once it has, and so does the supervisor once they are
    forked, so that it is gone before the ready line and no connection is hashed to a socket
    nobody accepts from."""
    host, port = sock.getsockname()[:2]
    children: set[int] = set()
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                own = listening_socket(sock.family, host, port)  # bound first: the port stays held
                sock.close()
                code = run_worker(start, own, options, loop)
            except BaseException:  # noqa: BLE001 - a worker reports its failure and ends
                traceback.print_exc()
            finally:
                os._exit(code)
        children.add(pid)
    sock.close()
    failed = False
    while children:
        pid, status = os.wait()
        children.discard(pid)
        if status and not stopping:
            failed = stopping = True
            code = os.waitstatus_to_exitcode(status)
            print(f"python -m servers: worker {pid} ended with status {code}", file=sys.stderr, flush=True)
            forward(signal.SIGTERM, None)
    if failed:
        raise SystemExit(1)


def forward_signals_to_group() -> None:
    """For a supervisor that does not stop its workers itself (Tornado's fork_processes): SIGTERM
    or SIGINT is sent on to its process group, the workers, while the supervisor ignores it and
    waits for them to exit."""

    def forward(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)
        os.killpg(0, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)


# The root and its supervisor.


def run(framework: str, sock: socket.socket, options: ServerOptions, workers: int, loop: str, preload: str) -> int:
    """Run ``framework`` on ``sock`` with ``workers`` processes until SIGTERM or SIGINT (see the
    module's docstring); returns the root's exit status."""
    ready = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = f"bench-servers-{os.getpid()}-{secrets.token_hex(8)}"
    ready.bind("\0" + address)
    os.environ[READY_ENV] = address
    guard_read, guard_write = os.pipe()
    port = sock.getsockname()[1]
    sys.stdout.flush()
    sys.stderr.flush()
    supervisor = os.fork()
    if supervisor == 0:
        os.close(guard_write)
        ready.close()
        os._exit(supervise(framework, sock, options, workers, loop, preload, guard_read))
    os.close(guard_read)
    sock.close()  # the supervisor's and its workers' now
    try:
        return Root(framework, port, workers, supervisor, ready, tls=options.tls).run()
    finally:
        ready.close()
        os.close(guard_write)


def supervise(
    framework: str, sock: socket.socket, options: ServerOptions, workers: int, loop: str, preload: str, guard: int
) -> int:
    """The supervisor: the framework's multi-process mode in a process group of its own (so that
    the group is the server, to end as one), with stdout sent to stderr (stdout carries the root's
    ready line alone: a pipe nobody reads after it would fill and block a worker that logs there)."""
    try:
        os.setpgid(0, 0)
        os.dup2(2, 1)
        os.environ[SUPERVISOR_ENV] = str(os.getpid())
        threading.Thread(target=kill_group_at_eof, args=(guard,), name="root-guard", daemon=True).start()
        if preload:
            importlib.import_module(preload)
        servers.load(framework).serve_workers(sock, options, workers, loop)
        return 0
    except SystemExit as exc:  # Tornado's supervisor and the workers it forks end so
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except BaseException:  # noqa: BLE001 - the supervisor reports its failure and ends
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def kill_group_at_eof(fd: int) -> None:
    """Kill the supervisor's process group once ``fd`` reads end-of-file: only the root held the
    pipe's other end, and only its exit closes it, however it died."""
    while os.read(fd, 1):
        pass
    os.killpg(0, signal.SIGKILL)


class Root:
    """The root's part: the ready line, signals, and the workers' and supervisor's exits, all
    waited for in one selector (signals through their wakeup descriptor, exits through pidfds)."""

    def __init__(
        self, framework: str, port: int, workers: int, supervisor: int, ready: socket.socket, tls: bool = False
    ) -> None:
        self.framework, self.port, self.count, self.supervisor = framework, port, workers, supervisor
        self.tls = tls  # for the ready line: the workers serve TLS (each loads the certificate itself)
        self.ready = ready
        self.workers: dict[int, int] = {}  # pid -> pidfd, in the order they reported
        self.announced = False
        self.deadline: float | None = None  # set once the supervisor was told to stop
        self.worker_died: int | None = None
        self.selector = selectors.DefaultSelector()
        self.signals: list[int] = []

    def say(self, message: str) -> None:
        print(f"python -m servers: {self.framework}: {message}", file=sys.stderr, flush=True)

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, _frame: self.signals.append(signum))
        supervisor_fd = os.pidfd_open(self.supervisor)
        self.selector.register(self.ready, selectors.EVENT_READ, "ready")
        self.selector.register(wake_read, selectors.EVENT_READ, "signal")
        self.selector.register(supervisor_fd, selectors.EVENT_READ, "supervisor")
        try:
            return self.watch(wake_read)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            self.selector.close()
            for fd in (wake_read, wake_write, supervisor_fd, *self.workers.values()):
                os.close(fd)

    def watch(self, wake_read: int) -> int:
        while True:
            timeout = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            events = self.selector.select(timeout)
            if not events and self.deadline is not None and time.monotonic() >= self.deadline:
                self.say(f"the workers did not stop within {STOP_TIMEOUT_S:g} s: killed")
                return self.end(failed=True)
            for key, _ in events:
                if key.data == "ready":
                    self.on_report(self.ready.recv(64))
                elif key.data == "signal":
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_read, 64)  # the signals' numbers: self.signals has them
                    self.on_signals()
                elif key.data == "supervisor":
                    return self.end(failed=False)
                else:
                    self.on_worker_exit(key.data)

    def on_report(self, message: bytes) -> None:
        try:
            pid = int(message)
            # A worker of this server is in the supervisor's process group: anything else on the
            # socket is not one.
            if pid in self.workers or os.getpgid(pid) != self.supervisor:
                return
            pidfd = os.pidfd_open(pid)
        except (ValueError, ProcessLookupError):
            return
        self.workers[pid] = pidfd
        self.selector.register(pidfd, selectors.EVENT_READ, pid)
        if len(self.workers) == self.count and not self.announced and self.deadline is None:
            self.announced = True
            print(
                contract.ready_line(self.framework, self.port, os.getpid(), list(self.workers), tls=self.tls),
                flush=True,
            )

    def on_signals(self) -> None:
        for signum in self.signals:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.supervisor, signum)
        self.signals.clear()
        if self.deadline is None:
            self.deadline = time.monotonic() + STOP_TIMEOUT_S

    def on_worker_exit(self, pid: int) -> None:
        self.selector.unregister(self.workers[pid])
        if self.deadline is None:
            self.worker_died = pid
            self.say(f"worker {pid} died; stopping the others")
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.supervisor, signal.SIGTERM)
            self.deadline = time.monotonic() + STOP_TIMEOUT_S

    def end(self, failed: bool) -> int:
        """Kill what is left of the supervisor's process group (before reaping the supervisor, so
        that its pid, the group's id, cannot have been reused), reap it, and say how it ended."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.supervisor, signal.SIGKILL)
        _, status = os.waitpid(self.supervisor, 0)
        code = os.waitstatus_to_exitcode(status)
        if self.worker_died is not None:
            return EXIT_WORKER_DIED
        if failed:
            return 1
        if self.deadline is None:  # it ended unasked
            when = "" if self.announced else " before every worker was ready"
            self.say(f"the supervisor exited with status {code}{when}")
            return code or 1
        return 0 if code == 0 else 1
