"""granian (a Rust HTTP server) for the endpoint contract (servers/contract.py), serving over ASGI the
Starlette application servers/starlette_server.py builds: what changes from the starlette entry
is the server under the application (uvicorn there, granian here).

granian normally runs its workers as processes or threads of its own (``granian`` CLI); the suite
runs every server inside its own process and event loop, so this module uses granian's embedded
server (granian.server.embed.Server): one worker, a task on the running loop, whose HTTP and
WebSocket I/O happens on granian's Rust (tokio) threads, which hand each request to the loop.

Limits that are granian's own and cannot be configured through its Python API (checked on 2.8.9):
the WebSocket layer is tungstenite with its default configuration (granian passes none), so a
single frame over 16 MiB (tungstenite's max_frame_size, the contract's MAX_MESSAGE_BYTES) is
refused without being buffered, but with a close frame that has no status code (the client reads
1005, not 1009) and then a reset, and the application sees a plain disconnect; a message
fragmented into frames of at most 16 MiB is accepted up to 64 MiB (tungstenite's
max_message_size). No permessage-deflate is negotiated, whatever the client offers or
--compression says (the registry's ws_deflate=False).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import ssl
from pathlib import Path
from typing import Any

from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.net import SocketHolder
from granian.server.embed import Server

from servers import LISTEN_BACKLOG, ServerOptions, Stop, contract
from servers.starlette_server import make_app

THREADS_EXIT_TIMEOUT_S = 2.0  # within servers.__main__.STOP_TIMEOUT
READY_TIMEOUT_S = 8.0  # within the harness's 10 s for the ready line
# granian's log configuration writes its logger ("_granian") to stdout, which carries only the
# ready line here: to stderr instead, warnings and errors only (its info lines say which worker
# started; the one warning at every start says the embedded server is experimental).
LOG_CONFIG = {
    "handlers": {
        "console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
}

APP_EXCEPTION = "Application callable raised an exception"


class ClientFaultsInOneLine(logging.Filter):
    """granian logs an exception the application raised with its traceback formatted into the
    message (so servers.ClientFaultsInOneLine, which reads the record's exc_info, cannot see it).
    Two such exceptions are no bug in the server, and are written as one warning line instead:
    Starlette's ClientDisconnect, a client gone before its request body arrived, and the
    CancelledError of an open websocket's pending receive, which granian cancels when it stops."""

    FAULTS = ("ClientDisconnect", "CancelledError")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(APP_EXCEPTION):
            error = message.rstrip().rsplit("\n", 1)[-1]
            if error.split(":", 1)[0] in self.FAULTS:
                record.msg, record.args = f"{APP_EXCEPTION}: {error}", ()
                record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


# granian's Rust side logs through pyo3-log, as the logger named after the Rust module.
logging.getLogger("_granian.utils").addFilter(ClientFaultsInOneLine())


class SocketServer(Server):
    """granian's embedded server on a listening socket bound by someone else.

    granian binds its listener itself from an address and port (``_init_shared_socket``); its
    workers take either that address (Linux: each worker binds it with SO_REUSEPORT) or a
    SocketHolder, the listening socket by file descriptor, which is what they get elsewhere and
    what its multi-process mode pickles across processes. Here the hook hands them a
    SocketHolder for a duplicate of the suite's socket: no second bind, so no moment when the
    port is free for another process to take, and granian closes only its own duplicate.
    """

    def __init__(self, target: Any, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(target, address=host, port=port, **kwargs)
        self.listening_socket = sock

    def _init_shared_socket(self) -> None:
        self._ssp = None  # no address for the workers to bind (granian 2.8 hands them (spec, holder))
        self._shd = SocketHolder(os.dup(self.listening_socket.fileno()), False, self.backlog)
        self._sfd = self._shd.get_fd()


def threads() -> set[str]:
    """The ids of this process's threads, Rust's included (which the threading module does not see)."""
    return set(os.listdir("/proc/self/task"))


# granian (hyper) closes a keep-alive connection that sends no request head for 30 s. In an
# interleaved comparison a contender's connections sit idle while a dozen others start and run,
# and a closed connection fails the generator; so an hour, as Tornado's idle timeout.
HTTP1_SETTINGS = HTTP1Settings(header_read_timeout=3_600_000)


def tls_settings(options: ServerOptions) -> dict[str, Any]:
    """TLS: granian's own, its ssl_cert and ssl_key files (`granian --ssl-certificate --ssl-keyfile`),
    served by rustls with granian's defaults (TLS 1.3 only, ALPN h2 and http/1.1); none without TLS."""
    return {"ssl_cert": Path(options.tls_cert), "ssl_key": Path(options.tls_key)} if options.tls else {}


def probe_context(options: ServerOptions) -> ssl.SSLContext | None:
    """The readiness probe's client context over TLS: it trusts the server's own certificate only,
    without a name check (the probe connects to whatever address was bound, which the certificate
    need not name: that is the clients' concern, not whether the server is up)."""
    if not options.tls:
        return None
    context = ssl.create_default_context(cafile=options.tls_cert)
    context.check_hostname = False
    return context


async def answers_health(host: str, port: int, context: ssl.SSLContext | None = None) -> bool:
    """True once GET /health on the server is answered 200 (over TLS with ``context``)."""
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        writer.write(f"GET {contract.HEALTH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return (await reader.read()).startswith(b"HTTP/1.1 200 ")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    server = SocketServer(
        make_app(options),
        sock,
        interface=Interfaces.ASGI,  # with lifespan, as Starlette expects
        # One Rust runtime thread: the suite pins a server to one CPU, where more threads would
        # only take turns on it. The Python side is the one worker on this loop.
        runtime_threads=1,
        websockets=True,
        http1_settings=HTTP1_SETTINGS,
        backlog=LISTEN_BACKLOG,  # granian calls listen() again, with 128 unless told
        log_level=LogLevels.warning,
        log_dictconfig=LOG_CONFIG,
        log_access=False,
        **tls_settings(options),
    )
    threads_before = threads()
    serving = asyncio.create_task(server.serve())
    # The socket accepts connections from the start (the suite listens on it); granian serves
    # them once its worker has run the app's lifespan start-up and started its Rust runtime, with
    # no event to await for that. So it is ready when a request made now is answered (the request
    # waits in the listen queue until then), unless start-up fails first.
    probe = asyncio.create_task(answers_health(*sock.getsockname()[:2], probe_context(options)))
    await asyncio.wait((probe, serving), timeout=READY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    if not (probe.done() and not probe.cancelled() and probe.exception() is None and probe.result()):
        probe.cancel()
        serving.cancel()
        raise RuntimeError("granian did not start serving")

    async def stop() -> None:
        server.stop()  # the worker stops accepting, ends its connections, runs lifespan shutdown
        await serving
        sock.close()  # granian closed its duplicate; nothing listens on the port any more
        # granian's worker can report itself stopped while its Rust threads are still ending, and a
        # Rust thread that calls into Python once the interpreter is finalizing panics (seen with
        # 2.7.9 at exit): wait until they are gone.
        deadline = asyncio.get_running_loop().time() + THREADS_EXIT_TIMEOUT_S
        while threads() - threads_before and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    return stop


# Several processes (--workers): granian's own.
WORKERS_KILL_TIMEOUT_S = 3  # granian then kills a worker that has not stopped (within STOP_TIMEOUT)


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``) as ``granian --workers N`` runs them: granian's
    multi-process server (MPServer) spawns them, stops them on SIGTERM or SIGINT, and exits
    non-zero when one dies (it respawns none unless told). Its workers are given the suite's socket
    as SocketServer's one is, so that all accept from the socket bound before them, as granian
    shares its own before 2.8 and off Linux (on Linux, 2.8 has each worker bind the address with
    SO_REUSEPORT instead). Each has the settings one process has, on the loop --loop names."""
    from granian.constants import Loops
    from granian.server.mp import MPServer

    class SocketMPServer(MPServer):
        def __init__(self, target: str, sock: socket.socket, **kwargs: Any) -> None:
            host, port = sock.getsockname()[:2]
            super().__init__(target, address=host, port=port, **kwargs)
            self.listening_socket = sock

        def _init_shared_socket(self) -> None:
            # SocketServer's hook, and the inheritable socket MPServer hands its spawned workers
            # beside the holder (it carries the descriptor across).
            self._ssp = None
            self._shd = SocketHolder(os.dup(self.listening_socket.fileno()), False, self.backlog)
            self._sfd = self._shd.get_fd()
            self._sso = socket.socket(fileno=self._sfd)
            self._sso.set_inheritable(True)

    server = SocketMPServer(
        "servers.starlette_server:make_app",  # named only: each worker builds it with worker_app
        sock,
        interface=Interfaces.ASGI,
        workers=workers,
        runtime_threads=1,  # per worker, as one process has
        websockets=True,
        http1_settings=HTTP1_SETTINGS,
        backlog=LISTEN_BACKLOG,
        log_level=LogLevels.warning,
        log_dictconfig=LOG_CONFIG,
        log_access=False,
        loop=Loops(loop),
        workers_kill_timeout=WORKERS_KILL_TIMEOUT_S,
        **tls_settings(options),
    )
    server.serve(target_loader=functools.partial(worker_app, options), wrap_loader=False)


def worker_app(options: ServerOptions) -> Any:
    """The application as each worker builds it (granian's target loader, called in the worker
    before its server starts)."""
    from servers.workers import bind_to_supervisor  # not at one worker (servers/workers.py)

    bind_to_supervisor()
    report_once_serving()
    return make_app(options)


def report_once_serving() -> None:
    """Tell the root once this worker accepts. granian has no hook for it: its spawn target runs the
    application's lifespan start-up, then builds the Rust worker (ASGIWorker) and calls its serve
    method, which takes the listening socket and starts the runtime accepting on it, then returns
    and the event loop runs (2.8), or runs the loop itself (before). So this worker's ASGIWorker is
    wrapped, in this process only, to put the report on the loop just before serve is called: it
    runs once the loop turns, after the worker accepts."""
    import granian.server.mp

    from servers.workers import report_ready

    worker_class = granian.server.mp.ASGIWorker

    class Reporting:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.worker = worker_class(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            serve = getattr(self.worker, name)

            def reporting_serve(scheduler: Any, loop: asyncio.AbstractEventLoop, *args: Any) -> Any:
                loop.call_soon(report_ready)
                return serve(scheduler, loop, *args)

            return reporting_serve

    granian.server.mp.ASGIWorker = Reporting
