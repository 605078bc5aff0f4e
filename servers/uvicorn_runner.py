"""An ASGI application on uvicorn, for the servers that run on it (uvicorn's bare ASGI, Starlette,
FastAPI, Litestar, BlackSheep).

uvicorn's implementations are named, not left to its "auto" choice, which depends on what else is
installed: httptools for HTTP and the websockets library's Sans-I/O protocol for WebSocket, what
"auto" picks with ``uvicorn[standard]`` (its documented install). Release environments pin both
(servers.UVICORN_STACK). The event loop is the suite's own (``--loop``), not uvicorn's.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from servers import LISTEN_BACKLOG, ServerOptions, Stop, contract

HTTP_IMPLEMENTATION = "httptools"
WS_IMPLEMENTATION = "websockets-sansio"
GRACEFUL_SHUTDOWN_S = 3.0  # within servers.__main__.STOP_TIMEOUT
# uvicorn closes a keep-alive connection idle for 5 s. In an interleaved comparison a contender's
# connections sit idle while the others' windows run (a dozen frameworks: 15 s and more), and a
# closed connection fails the generator; so idle connections stay open as on aiohttp (75 s),
# Sanic (120 s) or Tornado (an hour). Nothing is idle within a window, so no figure moves.
KEEP_ALIVE_S = 3600


def config(app: Any, options: ServerOptions) -> uvicorn.Config:
    """uvicorn's configuration for the contract: no access log, no keep-alive pings (the others
    send none), the contract's message limit, permessage-deflate only with --compression."""
    return uvicorn.Config(
        app,
        http=HTTP_IMPLEMENTATION,
        ws=WS_IMPLEMENTATION,
        lifespan="on",
        access_log=False,
        log_config=None,  # the suite's logging, not uvicorn's handlers and formats
        ws_max_size=contract.MAX_MESSAGE_BYTES,
        ws_ping_interval=None,
        ws_per_message_deflate=options.compression,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_keep_alive=KEEP_ALIVE_S,
        backlog=LISTEN_BACKLOG,  # uvicorn calls listen() again, with 2048 unless told
        # TLS: uvicorn's own, what `uvicorn --ssl-certfile --ssl-keyfile` sets (its context and defaults).
        ssl_certfile=options.tls_cert,
        ssl_keyfile=options.tls_key,
    )


async def serve(app: Any, sock: socket.socket, options: ServerOptions) -> Stop:
    """Serve ``app`` on ``sock`` until the returned ``stop()``: uvicorn's own start-up, its main
    loop (which refreshes the Date header every second, part of what uvicorn costs) and its
    shutdown, without its signal handling (python -m servers owns SIGINT and SIGTERM)."""
    server = uvicorn.Server(config(app, options))
    server.config.load()
    server.lifespan = server.config.lifespan_class(server.config)
    await server.startup(sockets=[sock])
    if server.should_exit:  # the application's start-up failed; uvicorn has logged why
        raise RuntimeError("the ASGI application's lifespan start-up failed")
    main_loop = asyncio.create_task(server.main_loop())

    async def stop() -> None:
        server.should_exit = True
        await main_loop
        await server.shutdown(sockets=[sock])

    return stop


# Several processes (--workers): uvicorn's own.
READY_TIMEOUT_S = 30.0  # for a worker to answer uvicorn's health check as started


def serve_workers(
    make_app: Callable[[ServerOptions], Any], sock: socket.socket, options: ServerOptions, workers: int, loop: str
) -> None:
    """Serve ``make_app(options)``'s application from ``workers`` processes as ``uvicorn --workers``
    does: uvicorn's supervisor (uvicorn.supervisors.Multiprocess) spawns them on the socket bound
    before them, and restarts one that dies (the root then ends the server: servers/workers.py).
    Each worker runs uvicorn's Server.run with the configuration one process has (config()), on
    the loop ``--loop`` names through uvicorn's own setting. The application is built in each
    worker by a factory: a picklable callable, what uvicorn's import string amounts to."""
    from uvicorn.supervisors import Multiprocess

    from servers.workers import report_ready  # not at one worker (servers/workers.py)

    class ReadyMultiprocess(Multiprocess):
        def init_processes(self) -> None:
            super().init_processes()
            # uvicorn's own health check says when a worker's server has started (its socket
            # served: Server.started): each is reported then.
            for process in self.processes:
                if process.wait_until_ready(READY_TIMEOUT_S, self.should_exit):
                    report_ready(process.pid)

    settings = config(functools.partial(worker_app, make_app, options), options)
    settings.factory = True
    settings.workers = workers
    settings.loop = loop
    ReadyMultiprocess(settings, sockets=[sock]).run()


def worker_app(make_app: Callable[[ServerOptions], Any], options: ServerOptions) -> Any:
    """The application in a worker (uvicorn's factory): the worker dies with the supervisor."""
    from servers.workers import bind_to_supervisor

    bind_to_supervisor()
    return make_app(options)
