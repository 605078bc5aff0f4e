"""uvicorn serving a bare ASGI application for the endpoint contract (servers/contract.py): no
framework, one ``async def app(scope, receive, send)`` that routes on the path and method, so what
it costs is uvicorn's (its HTTP and WebSocket protocols, the ASGI messages) and almost nothing else.
The rung of the ladder (servers.LADDER) under Starlette and FastAPI, which run on the same uvicorn.

The cached endpoints (contract.CACHED_PATHS) are not served (404): a bare application has no cache
facility (the registry says n/a). Like uvicorn and Starlette, the application sets no limit on a
request body; uvicorn limits a WebSocket message (ws_max_size, servers/uvicorn_runner.py), refusing
a larger one with close code 1009 as soon as its frame header says so, without buffering it.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import servers
from servers import ServerOptions, Stop, contract, uvicorn_runner
from servers.cache_backend import Backend

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TEXT_PLAIN = contract.TEXT_PLAIN.encode()
APPLICATION_JSON = contract.APPLICATION_JSON.encode()


@dataclass
class State:
    """What the handlers share: the server's JSON codec (--json), the backend, the subscribers of
    /ws/broadcast (each one's ``send``: the only handle on a connection ASGI gives)."""

    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]
    backend: Backend
    subscribers: set[Send] = field(default_factory=set)


Handler = Callable[[State, Receive, Send], Awaitable[None]]


async def respond(send: Send, body: bytes, content_type: bytes = TEXT_PLAIN, status: int = 200) -> None:
    # With a Content-Length: without one uvicorn would send the body chunked.
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client went away before it had all arrived."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def plaintext(state: State, receive: Receive, send: Send) -> None:
    await respond(send, contract.PLAINTEXT_BODY)


async def json_message(state: State, receive: Receive, send: Send) -> None:
    await respond(send, state.dumps(contract.JSON_MESSAGE), APPLICATION_JSON)


async def json_echo(state: State, receive: Receive, send: Send) -> None:
    body = await read_body(receive)
    if body is None:
        return  # nobody to answer; uvicorn expects no response then
    try:
        echoed = state.dumps(state.loads(body))
    except servers.JSON_REFUSED as error:
        await respond(send, servers.json_refusal(error).encode(), status=400)
        return
    await respond(send, echoed, APPLICATION_JSON)


async def health(state: State, receive: Receive, send: Send) -> None:
    await respond(send, contract.HEALTH_BODY)


async def cache_none(state: State, receive: Receive, send: Send) -> None:
    await respond(send, state.dumps(await state.backend.load()), APPLICATION_JSON)


async def cache_stats(state: State, receive: Receive, send: Send) -> None:
    await respond(send, state.dumps(state.backend.stats()), APPLICATION_JSON)


async def cache_clear(state: State, receive: Receive, send: Send) -> None:
    await respond(send, contract.HEALTH_BODY)  # no cache: nothing to empty


async def cache_bump(state: State, receive: Receive, send: Send) -> None:
    state.backend.bump()
    await respond(send, contract.HEALTH_BODY)


async def accept(receive: Receive, send: Send) -> bool:
    """Completes the opening handshake; False if the client went away first."""
    if (await receive())["type"] != "websocket.connect":
        return False
    await send({"type": "websocket.accept"})
    return True


async def ws_echo(state: State, receive: Receive, send: Send) -> None:
    if not await accept(receive, send):
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        # A text message arrives as "text" (str), a binary one as "bytes": sent back as it came. A
        # peer gone meanwhile makes send() raise uvicorn's ClientDisconnected, which uvicorn
        # expects and drops without a word.
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def ws_broadcast(state: State, receive: Receive, send: Send) -> None:
    if not await accept(receive, send):
        return
    state.subscribers.add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                continue
            outgoing = {"type": "websocket.send", "text": text}
            for subscriber in tuple(state.subscribers):
                try:
                    await subscriber(outgoing)
                except (OSError, RuntimeError):
                    # Gone meanwhile (ClientDisconnected, an OSError) or closing (uvicorn raises
                    # RuntimeError for a send after its close frame, e.g. a 1009): its own
                    # handler drops it; the others still get the message.
                    pass
    finally:
        state.subscribers.discard(send)


async def lifespan(state: State, receive: Receive, send: Send) -> None:
    # Nothing to open or close: the application's state is built with it (make_app).
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            state.subscribers.clear()
            await send({"type": "lifespan.shutdown.complete"})
            return


# path -> (method, handler). No cached paths: a bare application has no cache (404, n/a).
HTTP_ROUTES: dict[str, tuple[str, Handler]] = {
    contract.PLAINTEXT: ("GET", plaintext),
    contract.JSON: ("GET", json_message),
    contract.JSON_ECHO: ("POST", json_echo),
    contract.HEALTH: ("GET", health),
    contract.CACHE_NONE: ("GET", cache_none),
    contract.CACHE_STATS: ("GET", cache_stats),
    contract.CACHE_CLEAR: ("POST", cache_clear),
    contract.CACHE_BUMP: ("POST", cache_bump),
}
WS_ROUTES: dict[str, Handler] = {contract.WS_ECHO: ws_echo, contract.WS_BROADCAST: ws_broadcast}


def make_app(options: ServerOptions) -> ASGIApp:
    """The ASGI application: the contract's routes over one State."""
    dumps, loads = servers.json_codec(options.json_codec)
    state = State(dumps, loads, Backend(options.backend_ms))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            route = HTTP_ROUTES.get(scope["path"])
            if route is None:
                await respond(send, b"not found", status=404)
            elif scope["method"] != route[0]:
                await respond(send, b"method not allowed", status=405)
            else:
                await route[1](state, receive, send)
        elif kind == "websocket":
            handler = WS_ROUTES.get(scope["path"])
            if handler is None:
                await send({"type": "websocket.close"})  # refused before the handshake: uvicorn answers 403
            else:
                await handler(state, receive, send)
        elif kind == "lifespan":
            await lifespan(state, receive, send)
        else:
            raise NotImplementedError(f"unknown ASGI scope type {kind!r}")

    return app


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    return await uvicorn_runner.serve(make_app(options), sock, options)


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``): uvicorn's own supervisor, as ``uvicorn --workers`` runs it."""
    uvicorn_runner.serve_workers(make_app, sock, options, workers, loop)
