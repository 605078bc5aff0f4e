"""Starlette server for the endpoint contract (servers/contract.py), on uvicorn, in Starlette's own
idiom: module-level endpoints in Route and WebSocketRoute, the application's state on ``app.state``,
what lives while it runs set up in its ``lifespan`` context manager.

make_app(options) builds a plain ASGI Starlette application with every route, which the granian
entry (servers/granian_server.py) serves too: Starlette and granian differ from this entry only
in the server under the application.

JSON is written with the server's codec (--json) through a JSONResponse whose render() is the
codec's dumps: Starlette's own JSONResponse writes compact separators, not the bytes the stdlib
codec gives. The cached endpoints (contract.CACHED_PATHS) are not served (404): Starlette has no
cache facility (the registry says n/a). Like Starlette's default, no limit is set on a request body.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

import servers
from servers import ServerOptions, Stop, contract
from servers.cache_backend import Backend


def json_response_class(dumps: Callable[[Any], bytes]) -> type[JSONResponse]:
    """A JSONResponse that renders with ``dumps``, the server's codec, byte for byte."""

    class CodecJSONResponse(JSONResponse):
        def render(self, content: Any) -> bytes:
            return dumps(content)

    return CodecJSONResponse


async def plaintext(request: Request) -> Response:
    return PlainTextResponse(contract.PLAINTEXT_BODY)


async def json_message(request: Request) -> Response:
    return request.app.state.json_response(contract.JSON_MESSAGE)


async def json_echo(request: Request) -> Response:
    # The codec's loads on the raw body, not request.json(), which is always the stdlib's.
    state = request.app.state
    try:
        return state.json_response(state.loads(await request.body()))
    except servers.JSON_REFUSED as error:
        return PlainTextResponse(servers.json_refusal(error), status_code=400)


async def health(request: Request) -> Response:
    return PlainTextResponse(contract.HEALTH_BODY)


async def cache_none(request: Request) -> Response:
    return request.app.state.json_response(await request.app.state.backend.load())


async def cache_stats(request: Request) -> Response:
    return request.app.state.json_response(request.app.state.backend.stats())


async def cache_clear(request: Request) -> Response:
    return PlainTextResponse(contract.HEALTH_BODY)  # Starlette has no cache of its own: nothing to empty


async def cache_bump(request: Request) -> Response:
    request.app.state.backend.bump()
    return PlainTextResponse(contract.HEALTH_BODY)


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    # receive() rather than iter_text()/iter_bytes(): the echo takes both kinds, each sent back as
    # it came ("text" for a text message, "bytes" for a binary one).
    with contextlib.suppress(WebSocketDisconnect):  # a send to a peer gone meanwhile; nothing to log
        while (message := await websocket.receive())["type"] != "websocket.disconnect":
            text = message.get("text")
            if text is not None:
                await websocket.send_text(text)
            else:
                await websocket.send_bytes(message["bytes"])


async def ws_broadcast(websocket: WebSocket) -> None:
    subscribers: set[WebSocket] = websocket.app.state.subscribers
    await websocket.accept()
    subscribers.add(websocket)
    try:
        while (message := await websocket.receive())["type"] != "websocket.disconnect":
            text = message.get("text")
            if text is None:
                continue
            for subscriber in tuple(subscribers):
                try:
                    await subscriber.send_text(text)
                except (WebSocketDisconnect, RuntimeError):
                    # Gone meanwhile (WebSocketDisconnect), or closing: Starlette's RuntimeError for a
                    # socket it saw close, uvicorn's for one past its close frame (e.g. a 1009). Its
                    # own endpoint drops it; the others still get the message.
                    pass
    finally:
        subscribers.discard(websocket)


async def client_gone(request: Request, exc: Exception) -> Response:
    # A client that went away before its request body had all arrived: request.body() raises
    # ClientDisconnect, which would reach uvicorn and be logged with a traceback as an error in
    # the application. The answer goes nowhere (the server drops it); nothing to log.
    return Response(status_code=400)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """What lives while the application runs: the backend (its counts start afresh) and the
    subscribers of /ws/broadcast."""
    app.state.backend = Backend(app.state.options.backend_ms)
    app.state.subscribers = set()
    yield
    app.state.subscribers.clear()


def make_app(options: ServerOptions) -> Starlette:
    """The application: the contract's routes (no cached ones: Starlette has no cache), the codec
    on app.state, the rest of its state from the lifespan."""
    app = Starlette(
        routes=[
            Route(contract.PLAINTEXT, plaintext),
            Route(contract.JSON, json_message),
            Route(contract.JSON_ECHO, json_echo, methods=["POST"]),
            Route(contract.HEALTH, health),
            WebSocketRoute(contract.WS_ECHO, ws_echo),
            WebSocketRoute(contract.WS_BROADCAST, ws_broadcast),
            Route(contract.CACHE_NONE, cache_none),
            Route(contract.CACHE_STATS, cache_stats),
            Route(contract.CACHE_CLEAR, cache_clear, methods=["POST"]),
            Route(contract.CACHE_BUMP, cache_bump, methods=["POST"]),
        ],
        exception_handlers={ClientDisconnect: client_gone},
        lifespan=lifespan,
    )
    dumps, app.state.loads = servers.json_codec(options.json_codec)
    app.state.json_response = json_response_class(dumps)
    app.state.options = options
    return app


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    # Imported here: granian serves make_app's application in environments without uvicorn.
    from servers import uvicorn_runner

    return await uvicorn_runner.serve(make_app(options), sock, options)


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``): uvicorn's own supervisor, as ``uvicorn --workers`` runs it."""
    from servers import uvicorn_runner  # as in start()

    uvicorn_runner.serve_workers(make_app, sock, options, workers, loop)
