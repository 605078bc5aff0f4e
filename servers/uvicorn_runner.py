"""An ASGI application on uvicorn, for the servers that run on it (uvicorn's bare ASGI, Starlette,
FastAPI, Litestar, BlackSheep).

uvicorn's implementations are named, not left to its "auto" choice, which depends on what else is
installed: httptools for HTTP and the websockets library's Sans-I/O protocol for WebSocket, what
"auto" picks with ``uvicorn[standard]`` (its documented install). Release environments pin both
(servers.UVICORN_STACK). The event loop is the suite's own (``--loop``), not uvicorn's.
"""

from __future__ import annotations

import asyncio
import socket
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
