"""Several worker processes for one server (``python -m servers <framework> --workers N``).

Each framework runs its workers the way its own multi-process mode arranges their sockets
(servers.Framework.workers_mode), because that arrangement decides how connections reach them:

- ``shared``: one listening socket, bound before the workers are forked, accepted from by all
  of them (one accept queue). Tornado's ``bind_sockets`` + ``fork_processes``; uvicorn's
  ``--workers``, under which Starlette, FastAPI, Litestar and BlackSheep run; granian's
  ``--workers``; gunicorn's model.
- ``reuse_port``: each worker binds its own socket to the port with SO_REUSEPORT, and the
  kernel spreads new connections over them by hash. aiohttp's ``web.run_app(reuse_port=True)``
  in several processes, the websockets library's "deploy to multiple cores", Sanic's
  ``workers=N`` (its workers bind with ``reuse_port``), and the baseline.

The processes are this module's, not each framework's supervisor (uvicorn's Multiprocess,
Sanic's WorkerManager, granian's Rust supervisor, Tornado's restart loop): a supervisor
restarts a dead worker, where a benchmark must fail naming it, and none of them tells when
every worker accepts connections. What runs in each worker is the framework's own server,
exactly as with one process. The root process prints the ready line once every worker has
started its server, forwards SIGTERM/SIGINT to them, and exits non-zero, stopping the rest, as
soon as one dies; each worker dies with the root (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable

SHARED, REUSE_PORT = "shared", "reuse_port"
MODES = (SHARED, REUSE_PORT)
READY_TIMEOUT_S = 9.0  # within the harness's 10 s for the ready line
PR_SET_PDEATHSIG = 1
EXIT_WORKER_DIED = 5


class WorkersError(RuntimeError):
    """A worker could not start or died; the message says which and how."""


def reuse_port_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket on ``host:port`` in a SO_REUSEPORT group (port 0: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def _die_with_root(root: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != root:
        os._exit(EXIT_WORKER_DIED)


def run(
    workers: int,
    mode: str,
    sock: socket.socket,
    make_socket: Callable[[], socket.socket],
    serve_worker: Callable[[socket.socket, Callable[[], None]], None],
    ready: Callable[[list[int]], None],
) -> int:
    """Fork ``workers`` processes, each calling ``serve_worker(its socket, started)`` (which
    runs the framework's server until SIGTERM, calling ``started()`` once it accepts); call
    ``ready(worker pids)`` once all have started; supervise until stopped. Returns the exit
    status. ``sock`` is the bound socket: shared by every worker, or (reuse_port) the group's
    first member, which keeps the port until every worker has bound its own (``make_socket``)."""
    if mode not in MODES:
        raise ValueError(f"unknown multi-process mode {mode!r}")
    root = os.getpid()
    started_r, started_w = os.pipe()
    pids: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker
            try:
                _die_with_root(root)
                os.close(started_r)
                own = sock if mode == SHARED else make_socket()
                if mode == REUSE_PORT:
                    sock.close()

                def started() -> None:
                    os.write(started_w, b"s")

                serve_worker(own, started)
                os._exit(0)
            except BaseException as exc:  # noqa: BLE001 - a worker reports and ends, whatever happened
                print(f"python -m servers: worker {os.getpid()}: {type(exc).__name__}: {exc}", file=sys.stderr)
                os._exit(EXIT_WORKER_DIED)
        pids.append(pid)
    os.close(started_w)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        _wait_started(started_r, pids)
    except WorkersError as exc:
        print(f"python -m servers: error: {exc}", file=sys.stderr)
        _end(pids)
        return EXIT_WORKER_DIED
    finally:
        os.close(started_r)
    if mode == REUSE_PORT:
        # The root's member of the group accepts nothing: it kept the port until every worker
        # had bound its own (a started worker has), and goes before any connection can wait on it.
        sock.close()
    ready(pids)
    return _supervise(pids, lambda: stopping)


def _wait_started(started_r: int, pids: list[int]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    count = 0
    while count < len(pids):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkersError(f"{len(pids) - count} of {len(pids)} workers did not start within {READY_TIMEOUT_S:g} s")
        readable, _, _ = select.select([started_r], [], [], min(remaining, 0.2))
        if readable:
            got = os.read(started_r, len(pids))
            if not got:  # every worker has exited or closed the pipe
                raise WorkersError(f"workers exited before all {len(pids)} started")
            count += len(got)
        for pid in pids:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                raise WorkersError(f"worker {pid} exited with status {os.waitstatus_to_exitcode(status)} at start")


def _supervise(pids: list[int], stopping: Callable[[], bool]) -> int:
    """Wait for the workers; the first to exit while not stopping ends them all (status 5)."""
    alive = set(pids)
    status = 0
    while alive:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        alive.discard(pid)
        code = os.waitstatus_to_exitcode(raw)
        if not stopping() and status == 0:
            print(f"python -m servers: error: worker {pid} died (exit status {code}); stopping the others",
                  file=sys.stderr)  # fmt: skip
            status = EXIT_WORKER_DIED
            _end(list(alive))
    return status


def _end(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 4.0
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            time.sleep(0.02)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
