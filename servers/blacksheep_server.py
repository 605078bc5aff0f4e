"""BlackSheep server for the endpoint contract (servers/contract.py), served by uvicorn
(servers/uvicorn_runner.py), in BlackSheep's own idiom: module-level request handlers on the
application's router, the application's state as services its dependency injection hands to the
handlers that name them, BlackSheep's response helpers (``json``, ``text``) and an exception
handler for the one client fault BlackSheep would log as a server error.

Handlers are added with ``app.router.add_get`` and friends, the call the router's decorators
make: BlackSheep binds a router to one application, so module-level decorators would tie the
handlers to a single application, while make_app(options) builds one per set of options.

No cached endpoints but /cache/none (and its stats, clear, bump): BlackSheep has no caching facility
of its own (the registry says n/a for the others). No request body limit either: BlackSheep reads a
request body whatever its size, so the contract's MAX_MESSAGE_BYTES has nothing to be set on.
"""

from __future__ import annotations

import json as stdlib_json
import logging
import socket
from collections.abc import Callable
from typing import Any

from blacksheep import Application, Request, Response, Router, WebSocket, json, text
from blacksheep.exceptions import MessageAborted
from blacksheep.server.websocket import WebSocketDisconnectError, WebSocketError
from blacksheep.settings.json import json_settings

import servers
from servers import ServerOptions, Stop, contract, uvicorn_runner
from servers.cache_backend import Backend

LOGGER = logging.getLogger("servers.blacksheep")


class Subscribers(set[WebSocket]):
    """The /ws/broadcast connections: one set per application, a service its handler is given."""


def use_json_codec(name: str) -> None:
    """Make BlackSheep's JSON helpers (``json()``, ``request.json()``) use the codec ``name``.

    json_settings is BlackSheep's documented switch for the JSON library; it is process-wide (one
    server runs per process here) and its dumps returns str: the stdlib's json.dumps with its default
    separators (BlackSheep's own default is compact, which would not be the codec's bytes), orjson's
    bytes decoded, which json() encodes back, byte for byte what orjson wrote."""
    dumps, loads = servers.json_codec(name)
    text_dumps: Callable[[Any], str] = stdlib_json.dumps if name == "stdlib" else lambda obj: dumps(obj).decode()
    json_settings.use(loads=loads, dumps=text_dumps)


async def plaintext() -> Response:
    return text(contract.PLAINTEXT_BODY.decode())


async def json_message() -> Response:
    return json(contract.JSON_MESSAGE)


async def json_echo(request: Request) -> Response:
    # The raw body through the codec rather than request.json(): that one answers a body it cannot
    # read with its own 400, reads an empty body as None, and skips a body not declared as JSON.
    try:
        return json(json_settings.loads(await request.read() or b""))
    except servers.JSON_REFUSED as error:
        return text(servers.json_refusal(error), 400)


async def health() -> Response:
    return text(contract.HEALTH_BODY.decode())


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()  # the ASGI event: "text" for a text message, else "bytes"
            if (data := message.get("text")) is not None:
                await websocket.send_text(data)
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnectError:  # the client closed: BlackSheep would log it as an error
        pass


async def ws_broadcast(websocket: WebSocket, subscribers: Subscribers) -> None:
    await websocket.accept()
    subscribers.add(websocket)
    try:
        while True:
            if (data := (await websocket.receive()).get("text")) is None:
                continue
            for subscriber in tuple(subscribers):
                try:
                    await subscriber.send_text(data)
                # Gone meanwhile (BlackSheep's state error once that socket has read its disconnect,
                # uvicorn's ClientDisconnected, an OSError, before): its own handler drops it.
                except (WebSocketError, OSError):
                    pass
    except WebSocketDisconnectError:
        pass
    finally:
        subscribers.discard(websocket)


async def cache_none(backend: Backend) -> Response:
    return json(await backend.load())


async def cache_stats(backend: Backend) -> Response:
    return json(backend.stats())


async def cache_clear() -> Response:
    return text(contract.HEALTH_BODY.decode())  # BlackSheep has no cache of its own: nothing to empty


async def cache_bump(backend: Backend) -> Response:
    backend.bump()
    return text(contract.HEALTH_BODY.decode())


async def client_gone(app: Application, request: Request, error: MessageAborted) -> Response:
    """A client gone before its request body arrived (the body read raises MessageAborted), which
    BlackSheep would log as an unhandled exception with its traceback: one warning line instead. The
    answer is never read."""
    LOGGER.warning("%s %s: the client went away before its body arrived", request.method, request.url.value.decode())
    return text("request body incomplete", 400)


def make_app(options: ServerOptions) -> Application:
    """The application: the contract's routes (no cached ones), its state as services."""
    use_json_codec(options.json_codec)
    app = Application(router=Router(), show_error_details=False)
    app.services.register(Backend, instance=Backend(options.backend_ms))
    app.services.register(Subscribers, instance=Subscribers())
    app.exceptions_handlers[MessageAborted] = client_gone
    router = app.router
    router.add_get(contract.PLAINTEXT, plaintext)
    router.add_get(contract.JSON, json_message)
    router.add_post(contract.JSON_ECHO, json_echo)
    router.add_get(contract.HEALTH, health)
    router.add_ws(contract.WS_ECHO, ws_echo)
    router.add_ws(contract.WS_BROADCAST, ws_broadcast)
    router.add_get(contract.CACHE_NONE, cache_none)
    router.add_get(contract.CACHE_STATS, cache_stats)
    router.add_post(contract.CACHE_CLEAR, cache_clear)
    router.add_post(contract.CACHE_BUMP, cache_bump)
    return app


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    # uvicorn's lifespan start-up runs app.start(): routes, services and handlers are set up before
    # the socket serves.
    return await uvicorn_runner.serve(make_app(options), sock, options)


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``): uvicorn's own supervisor, as ``uvicorn --workers`` runs it."""
    uvicorn_runner.serve_workers(make_app, sock, options, workers, loop)
