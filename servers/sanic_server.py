"""Sanic server for the endpoint contract (servers/contract.py), on Sanic's own HTTP server, in Sanic's
idiom: handlers routed on the app (what ``@app.get`` and ``@app.websocket`` register), the app's
state on ``app.ctx``, limits in ``app.config``.

Sanic normally runs its own event loop in worker processes (``app.run``, ``sanic`` CLI); the suite
runs every server in its own loop on a socket it bound, so this module uses Sanic's low-level API,
``app.create_server(sock=...)``, and drives the server's lifecycle as Sanic documents for it
(startup, before/after start; before stop, close, after stop). No worker processes, no auto-reload,
no banner: create_server starts none of them, and the config says so too.

Sanic negotiates no permessage-deflate: its WebSocket protocol is the websockets library's Sans-I/O
ServerProtocol created without extensions (sanic/server/protocols/websocket_protocol.py), so a
client's offer is declined whatever --compression says (the registry's ws_deflate=False).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import socket
from collections.abc import Callable
from typing import Any

from sanic import Request, Sanic, Websocket
from sanic.exceptions import WebsocketClosed
from sanic.response import HTTPResponse, JSONResponse, json, text
from websockets.exceptions import ConnectionClosed

import servers
from servers import ServerOptions, Stop, contract
from servers.cache_backend import Backend

# Sanic keeps every app in a per-process registry by name and refuses a second app of the same
# name: each app this process builds gets its own.
APP_NAMES = (f"bench_sanic_{n}" for n in itertools.count())
# Open websockets get this long to finish their close handshake when the server stops, then they
# are failed (Sanic's own runner waits GRACEFUL_SHUTDOWN_TIMEOUT, 15 s: beyond the suite's 5 s).
CLOSE_GRACE_S = 1.0


def json_response(request: Request, body: Any) -> JSONResponse:
    # Sanic's json() writes with its own default dumps (compact separators, or ujson when
    # installed); passing the server's codec makes the bytes exactly the codec's, as the
    # contract wants (the stdlib's '{"message": "Hello, World!"}', with its space).
    return json(body, dumps=request.app.ctx.dumps)


async def plaintext(request: Request) -> HTTPResponse:
    return text(contract.PLAINTEXT_BODY.decode())


async def json_message(request: Request) -> JSONResponse:
    return json_response(request, contract.JSON_MESSAGE)


async def json_echo(request: Request) -> HTTPResponse:
    # The codec's loads on the raw body rather than request.load_json(): that one answers every
    # failure with the same BadRequest, and reads an empty body as None (JSON null).
    try:
        return json_response(request, request.app.ctx.loads(request.body))
    except servers.JSON_REFUSED as error:
        return text(servers.json_refusal(error), status=400)


async def health(request: Request) -> HTTPResponse:
    return text(contract.HEALTH_BODY.decode())


async def ws_echo(request: Request, ws: Websocket) -> None:
    async for message in ws:  # str for a text message, bytes for a binary one
        await ws.send(message)


async def ws_broadcast(request: Request, ws: Websocket) -> None:
    subscribers: set[Websocket] = request.app.ctx.subscribers
    subscribers.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str):
                for subscriber in tuple(subscribers):
                    try:
                        await subscriber.send(message)
                    except (ConnectionClosed, WebsocketClosed):  # gone meanwhile: its own handler drops it
                        pass
    finally:
        subscribers.discard(ws)


async def cache_none(request: Request) -> JSONResponse:
    return json_response(request, await request.app.ctx.backend.load())


async def cache_stats(request: Request) -> JSONResponse:
    return json_response(request, request.app.ctx.backend.stats())


async def cache_clear(request: Request) -> HTTPResponse:
    return text(contract.HEALTH_BODY.decode())  # Sanic has no cache of its own: nothing to empty


async def cache_bump(request: Request) -> HTTPResponse:
    request.app.ctx.backend.bump()
    return text(contract.HEALTH_BODY.decode())


def make_app(options: ServerOptions) -> Sanic:
    """The application: the contract's routes (no cached ones: Sanic has no cache facility), its
    state on app.ctx, the contract's limits in app.config."""
    # configure_logging=False: Sanic's default logging config writes its info lines to stdout,
    # which carries only the ready line here; its warnings and errors still reach stderr through
    # Python's last-resort handler, as the other servers' do.
    app = Sanic(next(APP_NAMES), configure_logging=False)
    app.config.update(
        {
            "ACCESS_LOG": False,
            "MOTD": False,
            "AUTO_RELOAD": False,
            "REQUEST_MAX_SIZE": contract.MAX_MESSAGE_BYTES,
            "WEBSOCKET_MAX_SIZE": contract.MAX_MESSAGE_BYTES,
            "WEBSOCKET_PING_INTERVAL": None,  # no keep-alive pings: the others send none either
        }
    )
    dumps: Callable[[Any], bytes]
    dumps, app.ctx.loads = servers.json_codec(options.json_codec)
    app.ctx.dumps = dumps
    app.ctx.backend = Backend(options.backend_ms)
    app.ctx.subscribers = set()
    app.add_route(plaintext, contract.PLAINTEXT, methods=["GET"])
    app.add_route(json_message, contract.JSON, methods=["GET"])
    app.add_route(json_echo, contract.JSON_ECHO, methods=["POST"])
    app.add_route(health, contract.HEALTH, methods=["GET"])
    app.add_websocket_route(ws_echo, contract.WS_ECHO)
    app.add_websocket_route(ws_broadcast, contract.WS_BROADCAST)
    app.add_route(cache_none, contract.CACHE_NONE, methods=["GET"])
    app.add_route(cache_stats, contract.CACHE_STATS, methods=["GET"])
    app.add_route(cache_clear, contract.CACHE_CLEAR, methods=["POST"])
    app.add_route(cache_bump, contract.CACHE_BUMP, methods=["POST"])
    return app


def ssl_setting(options: ServerOptions) -> dict[str, str] | None:
    """TLS: Sanic's own, its ssl= dict of certificate and key files (what app.run(ssl=...) takes;
    Sanic builds the context, with its own cipher list and ALPN http/1.1, in every worker)."""
    return {"cert": options.tls_cert, "key": options.tls_key} if options.tls else None


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    app = make_app(options)
    # start_serving=False: the socket accepts only once the app has started (its routes finalized
    # and its listeners run), so the ready line printed after start() is true.
    server = await app.create_server(
        sock=sock, ssl=ssl_setting(options), return_asyncio_server=True, asyncio_server_kwargs={"start_serving": False}
    )
    assert server is not None  # only None with return_asyncio_server=False
    await server.startup()
    await server.before_start()
    await server.after_start()
    await server.start_serving()

    async def stop() -> None:
        await server.before_stop()  # Sanic's own listener cancels the websocket handlers' tasks
        # Stops accepting now. The task it returns waits (from Python 3.12) until every connection
        # has gone, so it is awaited only once they have been closed below: awaited first, an idle
        # keep-alive connection, or one over TLS waiting for the client's close_notify, held it up.
        closed = server.close()
        for connection in server.connections:
            connection.close_if_idle()  # idle keep-alive connections close, websockets start closing
        deadline = asyncio.get_running_loop().time() + CLOSE_GRACE_S
        while server.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for connection in tuple(server.connections):  # what is left is failed, as Sanic's runner does
            if getattr(connection, "websocket", None) is not None:
                connection.websocket.fail_connection(code=1001)
            else:
                connection.abort()
        if closed is not None:
            # Over TLS a connection closed above still waits for the client's close_notify (asyncio's
            # ssl_shutdown_timeout, 30 s), which a client that reads nothing never sends: cut short.
            try:
                await asyncio.wait_for(asyncio.shield(closed), CLOSE_GRACE_S)
            except asyncio.TimeoutError:
                for connection in tuple(server.connections):
                    connection.abort()
                await closed
        await server.after_stop()

    return stop


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``) as Sanic runs them: its worker manager (``app.prepare(...,
    workers=N)`` then ``Sanic.serve``, what ``app.run(workers=N)`` does) spawns the workers, which
    accept from the socket bound before them, and stops them on SIGTERM or SIGINT. Each worker
    builds the application with worker_app, through the AppLoader Sanic documents for an
    application made by a factory."""
    from sanic.worker.loader import AppLoader

    loader = AppLoader(factory=functools.partial(worker_app, options, loop))
    app = loader.load()  # the manager's copy, which only carries the settings to the workers
    app.prepare(sock=sock, workers=workers, ssl=ssl_setting(options))
    Sanic.serve(primary=app, app_loader=loader)


def worker_app(options: ServerOptions, loop: str) -> Sanic:
    """The application as each worker (and the manager) builds it: make_app's, on the loop --loop
    names (Sanic's own USE_UVLOOP), closing what is left of its connections after CLOSE_GRACE_S as
    stop() does with one process (Sanic's own default waits 15 s), and telling the root it
    accepts once its server has started (after_server_start runs after the socket is served)."""
    from servers.workers import bind_to_supervisor, report_ready  # not at one worker (servers/workers.py)

    bind_to_supervisor()
    app = make_app(options)
    app.config.USE_UVLOOP = loop == "uvloop"
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = CLOSE_GRACE_S

    async def ready(app: Sanic) -> None:
        report_ready()

    app.after_server_start(ready)
    return app
