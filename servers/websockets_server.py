"""websockets server for the WebSocket part of the contract (servers/contract.py).

The library has no HTTP framework: only /health is answered over plain HTTP.
"""

from __future__ import annotations

import http
import socket

from websockets.asyncio.server import Request, Response, ServerConnection, broadcast, serve
from websockets.exceptions import InvalidHandshake

import servers
from servers import ServerOptions, Stop, contract

# Releases before 17.0 log a request that is no valid handshake (a malformed request line, an
# oversized header; 13.x even a /health answer) with a traceback after refusing it: the client's
# doing, so one line each. 13.x raises ValueError for a malformed request line.
LOGGER = servers.client_fault_logger(
    "servers.websockets", "opening handshake failed", (InvalidHandshake, ValueError, EOFError)
)


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    subscribers: set[ServerConnection] = set()

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def fan_out(ws: ServerConnection) -> None:
        subscribers.add(ws)
        try:
            async for message in ws:
                if isinstance(message, str):
                    broadcast(subscribers, message)
        finally:
            subscribers.discard(ws)

    routes = {contract.WS_ECHO: echo, contract.WS_BROADCAST: fan_out}

    def process_request(ws: ServerConnection, request: Request) -> Response | None:
        if request.path == contract.HEALTH:
            return ws.respond(http.HTTPStatus.OK, contract.HEALTH_BODY.decode())
        if request.path not in routes:
            return ws.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        await routes[ws.request.path](ws)

    server = await serve(
        handler,
        sock=sock,
        process_request=process_request,
        compression="deflate" if options.compression else None,
        max_size=contract.MAX_MESSAGE_BYTES,
        ping_interval=None,  # no keep-alive pings: the others send none either
        logger=LOGGER,
    )

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return stop
