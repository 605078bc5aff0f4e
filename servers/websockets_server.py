"""websockets server for the WebSocket part of the contract (servers/contract.py).

The library has no HTTP framework: only /health is answered over plain HTTP, 404 elsewhere.

Two of its server APIs, side by side, so that the release history reaches back to 10.4: the
asyncio API (``websockets.asyncio.server``, new in 13.0 and the library's API since 14.0) and,
on releases without it, the legacy API it replaced (``websockets.legacy.server``, which
``websockets.server.serve`` re-exports up to 13.x). Both run the same connection handlers; they
differ in how a plain HTTP answer is given (``process_request``) and where a connection keeps
its request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import socket
from collections.abc import Awaitable, Callable

from websockets.exceptions import ConnectionClosedError, InvalidHandshake

import servers
from servers import ServerOptions, Stop, contract

try:
    from websockets.asyncio.server import Request, Response, Server, ServerConnection, broadcast, serve

    ASYNCIO_API = True
except ImportError:  # before 13.0: the legacy API (broadcast() exists from 10.1)
    from websockets.datastructures import Headers
    from websockets.legacy.protocol import broadcast
    from websockets.legacy.server import WebSocketServer, WebSocketServerProtocol, serve

    ASYNCIO_API = False

# The asyncio API before 17.0 logs a request that is no valid handshake (a malformed request line,
# an oversized header; 13.x even a /health answer) with a traceback after refusing it: the client's
# doing, so one line each. 13.x raises ValueError for a malformed request line. (The legacy server
# answers such a request 400 and logs it at debug level only.)
LOGGER = servers.client_fault_logger(
    "servers.websockets", "opening handshake failed", (InvalidHandshake, ValueError, EOFError)
)
# How long a connection waits for the client's part of a closing handshake (default 10 s): a
# client that reads nothing when the server stops (close 1001), or that goes on sending a message
# over max_size, which the legacy server stops reading (close 1009), would hold it up for that long.
CLOSE_TIMEOUT_S = 2.0
# How long stop() waits for the connections to close (__main__ allows it 5 s). Those still in their
# opening handshake hold it up for open_timeout (10 s), or without limit on 10.4's legacy server,
# which has none: they end with the event loop.
STOP_GRACE_S = 3.0

# ServerConnection (asyncio API) or WebSocketServerProtocol (legacy): both iterate over the
# messages they receive and send().
WebSocket = ServerConnection if ASYNCIO_API else WebSocketServerProtocol
Handler = Callable[[WebSocket], Awaitable[None]]


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


async def fan_out(ws: WebSocket, subscribers: set[WebSocket]) -> None:
    subscribers.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str):
                broadcast(subscribers, message)
    finally:
        subscribers.discard(ws)


def make_routes() -> dict[str, Handler]:
    subscribers: set[WebSocket] = set()
    return {contract.WS_ECHO: echo, contract.WS_BROADCAST: lambda ws: fan_out(ws, subscribers)}


async def run(route: Handler, ws: WebSocket) -> None:
    try:
        await route(ws)
    except ConnectionClosedError:
        # Closed by a fault (a message over max_size, a client gone without a close frame): the
        # library has closed the connection with the right code already; nothing for the log,
        # where it would be written with a traceback as "connection handler failed".
        pass


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    settings = {
        "sock": sock,
        "compression": "deflate" if options.compression else None,
        "max_size": contract.MAX_MESSAGE_BYTES,
        "ping_interval": None,  # no keep-alive pings: the others send none either
        "close_timeout": CLOSE_TIMEOUT_S,
        "logger": LOGGER,
        # TLS: the library's own, serve(ssl=...) (both APIs hand it to loop.create_server).
        "ssl": servers.server_ssl_context(options),
    }
    routes = make_routes()
    if ASYNCIO_API:
        server = await serve_asyncio(routes, settings)
    else:
        server = await serve_legacy(routes, settings)

    async def stop() -> None:
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), STOP_GRACE_S)

    return stop


async def serve_asyncio(routes: dict[str, Handler], settings: dict) -> Server:
    def process_request(ws: ServerConnection, request: Request) -> Response | None:
        if request.path == contract.HEALTH:
            return ws.respond(http.HTTPStatus.OK, contract.HEALTH_BODY.decode())
        if request.path not in routes:
            return ws.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        await run(routes[ws.request.path], ws)

    return await serve(handler, process_request=process_request, **settings)


async def serve_legacy(routes: dict[str, Handler], settings: dict) -> WebSocketServer:
    text_plain = [("Content-Type", contract.TEXT_PLAIN)]

    # (status, headers, body) answers the request over plain HTTP, with Connection: close.
    async def process_request(path: str, headers: Headers) -> tuple[http.HTTPStatus, list, bytes] | None:
        if path == contract.HEALTH:
            return http.HTTPStatus.OK, text_plain, contract.HEALTH_BODY
        if path not in routes:
            return http.HTTPStatus.NOT_FOUND, text_plain, b"not found\n"
        return None

    async def handler(ws: WebSocketServerProtocol) -> None:
        await run(routes[ws.path], ws)

    return await serve(handler, process_request=process_request, **settings)


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``), as the library's deployment guide runs a server on several
    cores: one server process each, the operating system routing connections to them, all on the
    same port (``serve(..., reuse_port=True)``: here each on its own SO_REUSEPORT socket)."""
    from servers.workers import reuse_port  # not at one worker (servers/workers.py)

    reuse_port(start, sock, options, workers, loop)
