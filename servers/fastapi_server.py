"""FastAPI server for the endpoint contract (servers/contract.py), on uvicorn, in FastAPI's own idiom:
path operations declared with the app's decorators (``@app.get``, ``@app.websocket``) in an
application factory, the state on ``app.state``, what lives while it runs in its ``lifespan``.

JSON is written with the server's codec (--json) through a response class whose render() is the
codec's dumps (servers/starlette_server.py, json_response_class), and every path operation returns
its Response itself: FastAPI then sends it as it is. Returned as a dict, even with that class as
``response_class``, the value would first go through FastAPI's jsonable_encoder (pydantic's path
for data without a response model), which is the slow path FastAPI's docs advise against for
speed; a pydantic response model would serialize with pydantic's own JSON writer, not the codec.

The application is FastAPI's default otherwise: its OpenAPI schema and docs routes stay, ahead of
the contract's in the route list, as its users run it. The cached endpoints
(contract.CACHED_PATHS) are not served (404): FastAPI has no cache facility (the registry says n/a).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect

import servers
from servers import ServerOptions, Stop, contract, uvicorn_runner
from servers.cache_backend import Backend
from servers.starlette_server import json_response_class


async def client_gone(request: Request, exc: Exception) -> Response:
    # A client that went away before its request body had all arrived: request.body() raises
    # Starlette's ClientDisconnect, which would reach uvicorn and be logged with a traceback as an
    # error in the application. The answer goes nowhere (the server drops it); nothing to log.
    return Response(status_code=400)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """What lives while the application runs: the backend (its counts start afresh) and the
    subscribers of /ws/broadcast."""
    app.state.backend = Backend(app.state.options.backend_ms)
    app.state.subscribers = set()
    yield
    app.state.subscribers.clear()


def make_app(options: ServerOptions) -> FastAPI:
    """The application: the contract's path operations (no cached ones: FastAPI has no cache), JSON
    in the server's codec, the state from the lifespan."""
    dumps, loads = servers.json_codec(options.json_codec)
    JsonResponse = json_response_class(dumps)  # noqa: N806 - a class, named as one
    app = FastAPI(
        lifespan=lifespan,
        default_response_class=JsonResponse,
        exception_handlers={ClientDisconnect: client_gone},
    )
    app.state.options = options

    @app.get(contract.PLAINTEXT, response_class=PlainTextResponse)
    async def plaintext() -> Response:
        return PlainTextResponse(contract.PLAINTEXT_BODY)

    @app.get(contract.JSON, response_class=JsonResponse)
    async def json_message() -> Response:
        return JsonResponse(contract.JSON_MESSAGE)

    @app.post(contract.JSON_ECHO, response_class=JsonResponse)
    async def json_echo(request: Request) -> Response:
        # The raw body and the codec's loads: any JSON value is echoed (a body parameter would
        # have FastAPI parse and validate it with pydantic, into a declared type).
        try:
            return JsonResponse(loads(await request.body()))
        except servers.JSON_REFUSED as error:
            return PlainTextResponse(servers.json_refusal(error), status_code=400)

    @app.get(contract.HEALTH, response_class=PlainTextResponse)
    async def health() -> Response:
        return PlainTextResponse(contract.HEALTH_BODY)

    @app.get(contract.CACHE_NONE, response_class=JsonResponse)
    async def cache_none(request: Request) -> Response:
        return JsonResponse(await request.app.state.backend.load())

    @app.get(contract.CACHE_STATS, response_class=JsonResponse)
    async def cache_stats(request: Request) -> Response:
        return JsonResponse(request.app.state.backend.stats())

    @app.post(contract.CACHE_CLEAR, response_class=PlainTextResponse)
    async def cache_clear() -> Response:
        return PlainTextResponse(contract.HEALTH_BODY)  # FastAPI has no cache of its own: nothing to empty

    @app.post(contract.CACHE_BUMP, response_class=PlainTextResponse)
    async def cache_bump(request: Request) -> Response:
        request.app.state.backend.bump()
        return PlainTextResponse(contract.HEALTH_BODY)

    @app.websocket(contract.WS_ECHO)
    async def ws_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        # receive() rather than receive_text()/receive_bytes(): the echo takes both kinds, each
        # sent back as it came ("text" for a text message, "bytes" for a binary one).
        with contextlib.suppress(WebSocketDisconnect):  # a send to a peer gone meanwhile
            while (message := await websocket.receive())["type"] != "websocket.disconnect":
                text = message.get("text")
                if text is not None:
                    await websocket.send_text(text)
                else:
                    await websocket.send_bytes(message["bytes"])

    @app.websocket(contract.WS_BROADCAST)
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
                        # Gone meanwhile, or closing (Starlette's RuntimeError for a socket it saw
                        # close, uvicorn's for one past its close frame, e.g. a 1009): its own
                        # path operation drops it; the others still get the message.
                        pass
        finally:
            subscribers.discard(websocket)

    return app


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    return await uvicorn_runner.serve(make_app(options), sock, options)
