"""FastAPI server for the endpoint contract (servers/contract.py), on uvicorn, in FastAPI's own idiom:
path operations declared with the app's decorators (``@app.get``, ``@app.websocket``) in an
application factory, the state on ``app.state``, what lives while it runs in its ``lifespan``.

JSON is written with the server's codec (--json) through a response class whose render() is the
codec's dumps (servers/starlette_server.py, json_response_class, whose lifespan, client-gone handler
and WebSocket endpoints FastAPI takes as they are, being Starlette underneath), and every path operation returns
its Response itself: FastAPI then sends it as it is. Returned as a dict, even with that class as
``response_class``, the value would first go through FastAPI's jsonable_encoder (pydantic's path
for data without a response model), which is the slow path FastAPI's docs advise against for
speed; a pydantic response model would serialize with pydantic's own JSON writer, not the codec.

The application is FastAPI's default otherwise: its OpenAPI schema and docs routes stay, ahead of
the contract's in the route list, as its users run it. The cached endpoints
(contract.CACHED_PATHS) are not served (404): FastAPI has no cache facility (the registry says n/a).
"""

from __future__ import annotations

import socket

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect

import servers
from servers import ServerOptions, Stop, contract, uvicorn_runner
from servers.starlette_server import client_gone, json_response_class, lifespan, ws_broadcast, ws_echo


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

    # The WebSocket endpoints are Starlette's own: FastAPI's WebSocket is Starlette's, and a path
    # operation taking one is run as Starlette runs an endpoint.
    app.websocket(contract.WS_ECHO)(ws_echo)
    app.websocket(contract.WS_BROADCAST)(ws_broadcast)
    return app


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    return await uvicorn_runner.serve(make_app(options), sock, options)


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``): uvicorn's own supervisor, as ``uvicorn --workers`` runs it."""
    uvicorn_runner.serve_workers(make_app, sock, options, workers, loop)
