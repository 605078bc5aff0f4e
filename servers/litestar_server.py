"""Litestar server for the endpoint contract (servers/contract.py), served by uvicorn
(servers/uvicorn_runner.py), in Litestar's own idiom: module-level route handlers declared with
its decorators, the application's state on ``app.state``, its stores in the app's store registry
(entered and closed with the app's lifespan), its response cache behind the cached routes, and a
start-up hook that checks the redis-server.

JSON: Litestar serializes a handler's return value with msgspec, compactly
(``{"message":"Hello, World!"}``), while the contract wants the bytes of the server's codec
(``--json``). The application's ``response_class`` is a Response whose ``render`` writes JSON with
that codec (Litestar's documented way to change how responses are rendered), so handlers still
return plain data; POST /json/echo encodes in the handler, where the codec's refusal to write a
document back can still be answered 400.

Caching: Litestar's response cache (``cache=True`` on a route) stores the whole response (status,
headers, body) under a key built from the request, in one store per application
(``ResponseCacheConfig.store``). The contract wants /cache/memory in memory and /cache/redis in
Redis, so that one store is StorePerPath, which hands each cached path's entries to the store
registered for it: a MemoryStore, and a RedisStore under the key namespace "litestar" (servers in
one comparison share a redis-server). A second Litestar application mounted for /cache/redis would
do the same without it, but would add a second application's routing to every /cache/redis request.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import redis.asyncio
from litestar import Litestar, MediaType, Request, Response, WebSocket, get, post, websocket
from litestar.config.response_cache import ResponseCacheConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, WebSocketDisconnect
from litestar.serialization import default_serializer
from litestar.status_codes import HTTP_200_OK, HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.types import Scope

import servers
from servers import ServerOptions, Stop, contract, uvicorn_runner
from servers.cache_backend import Backend

REDIS_NAMESPACE = "litestar"  # its own key prefix: servers in one comparison share a redis-server
RESPONSE_CACHE_STORE = "response_cache"  # the store ResponseCacheConfig names (Litestar's default name)
MEMORY_STORE, REDIS_STORE = "memory", "redis"
# Litestar answers a client gone before its request body arrived with this 500 (the client never
# reads it): the client's doing, written as one warning line rather than a server error.
CLIENT_GONE = "client disconnected prematurely"
LOGGER = logging.getLogger("servers.litestar")


def codec_response_class(dumps: Callable[[Any], bytes]) -> type[Response]:
    """A Response class rendering JSON content with ``dumps`` (the server's codec) rather than
    Litestar's msgspec encoder, so that every JSON body is exactly the codec's bytes."""

    class CodecResponse(Response):
        def render(self, content: Any, media_type: str, enc_hook: Callable[[Any], Any] = default_serializer) -> bytes:
            if media_type == MediaType.JSON and not isinstance(content, bytes):
                return dumps(content)
            return super().render(content, media_type, enc_hook)

    return CodecResponse


class StorePerPath(Store):
    """The response cache's one store, keeping each cached path's responses in the store given for
    that path (the key is the request path: see cache_key). A path without a store (/cache/redis
    without --redis-port) has nothing cached: its lookups miss and its answers are not kept."""

    def __init__(self, stores: Mapping[str, Store]) -> None:
        self.stores = dict(stores)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        if (store := self.stores.get(key)) is not None:
            await store.set(key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        store = self.stores.get(key)
        return None if store is None else await store.get(key, renew_for)

    async def delete(self, key: str) -> None:
        if (store := self.stores.get(key)) is not None:
            await store.delete(key)

    async def delete_all(self) -> None:
        for store in set(self.stores.values()):
            await store.delete_all()

    async def exists(self, key: str) -> bool:
        store = self.stores.get(key)
        return store is not None and await store.exists(key)

    async def expires_in(self, key: str) -> int | None:
        store = self.stores.get(key)
        return None if store is None else await store.expires_in(key)


def cache_key(request: Request) -> str:
    """The response cache's key: the path alone (each cached route serves one document; Litestar's
    default key adds the method and the sorted query, which StorePerPath would have to parse)."""
    return request.scope["path"]


def text(body: str | bytes, status_code: int = HTTP_200_OK) -> Response:
    return Response(body, status_code=status_code, media_type=MediaType.TEXT)


@get(contract.PLAINTEXT, media_type=MediaType.TEXT)
async def plaintext() -> bytes:
    return contract.PLAINTEXT_BODY


@get(contract.JSON)
async def json_message() -> dict[str, str]:
    return contract.JSON_MESSAGE


@post(contract.JSON_ECHO, status_code=HTTP_200_OK)
async def json_echo(request: Request) -> Response:
    # The raw body through the codec, not a typed ``data`` parameter: Litestar would decode that
    # with msgspec and answer every failure with its own 400 (a JSON document, not the reason).
    state = request.app.state
    try:
        body = state.dumps(state.loads(await request.body()))
    except servers.JSON_REFUSED as error:
        return text(servers.json_refusal(error), 400)
    return Response(body, media_type=MediaType.JSON)


@get(contract.HEALTH, media_type=MediaType.TEXT)
async def health() -> bytes:
    return contract.HEALTH_BODY


# @websocket handlers reading the raw ASGI events: websocket_listener receives in one mode, text or
# binary, and the echo must answer each message in its own type.
@websocket(contract.WS_ECHO)
async def ws_echo(socket: WebSocket) -> None:
    await socket.accept()
    while (event := await socket.receive())["type"] == "websocket.receive":
        if (text_data := event.get("text")) is not None:
            await socket.send_text(text_data)
        else:
            await socket.send_bytes(event["bytes"])


@websocket(contract.WS_BROADCAST)
async def ws_broadcast(socket: WebSocket) -> None:
    subscribers: set[WebSocket] = socket.app.state.subscribers
    await socket.accept()
    subscribers.add(socket)
    try:
        while (event := await socket.receive())["type"] == "websocket.receive":
            if (text_data := event.get("text")) is None:
                continue
            for subscriber in tuple(subscribers):
                try:
                    await subscriber.send_text(text_data)
                # Gone meanwhile (Litestar's WebSocketDisconnect once that socket has read its
                # disconnect, uvicorn's ClientDisconnected, an OSError, before): its handler drops it.
                except (WebSocketDisconnect, OSError):
                    pass
    finally:
        subscribers.discard(socket)


@get(contract.CACHE_MEMORY, cache=True)
async def cache_memory(state: State) -> dict[str, Any]:
    return await state.backend.load()


@get(contract.CACHE_NONE)
async def cache_none(state: State) -> dict[str, Any]:
    return await state.backend.load()


@get(contract.CACHE_REDIS, cache=True)
async def cache_redis(state: State) -> dict[str, Any] | Response:
    if state.redis is None:
        return text("no --redis-port given", HTTP_503_SERVICE_UNAVAILABLE)  # not cached: not a 2xx
    return await state.backend.load()


@get(contract.CACHE_STATS)
async def cache_stats(state: State) -> dict[str, int]:
    return state.backend.stats()


@post(contract.CACHE_CLEAR, status_code=HTTP_200_OK, media_type=MediaType.TEXT)
async def cache_clear(request: Request) -> bytes:
    await request.app.stores.get(RESPONSE_CACHE_STORE).delete_all()  # the memory store and the Redis one
    return contract.HEALTH_BODY


@post(contract.CACHE_BUMP, status_code=HTTP_200_OK, media_type=MediaType.TEXT)
async def cache_bump(state: State) -> bytes:
    state.backend.bump()
    return contract.HEALTH_BODY


async def ping_redis(app: Litestar) -> None:
    """On start-up: a redis-server that does not answer stops the server here, loudly (the
    response cache would otherwise fail every /cache/redis request with a 500)."""
    if app.state.redis is not None:
        await app.state.redis.ping()


async def log_server_errors(exception: Exception, scope: Scope) -> None:
    """Litestar answers every exception a handler raises (a 4xx for an HTTPException, 500 for the
    rest) and logs none of them unless in debug mode: the server's own errors are logged here,
    with their traceback; the client's faults (4xx, a client gone mid-request) are not errors."""
    status = exception.status_code if isinstance(exception, HTTPException) else HTTP_500_INTERNAL_SERVER_ERROR
    if status < HTTP_500_INTERNAL_SERVER_ERROR:
        return
    if isinstance(exception, HTTPException) and exception.detail == CLIENT_GONE:
        LOGGER.warning("%s %s: %s", scope.get("method", "WEBSOCKET"), scope["path"], CLIENT_GONE)
        return
    LOGGER.error("Exception in %s %s", scope.get("method", "WEBSOCKET"), scope["path"], exc_info=exception)


def whole_seconds(ttl_s: float) -> int:
    """The cache TTL as the response cache takes it, in whole seconds (at least one)."""
    return max(1, math.ceil(ttl_s))


def make_app(options: ServerOptions) -> Litestar:
    """The application: the contract's routes, its state, the response cache's stores."""
    dumps, loads = servers.json_codec(options.json_codec)
    memory = MemoryStore()
    stores: dict[str, Store] = {MEMORY_STORE: memory}
    redis_client = None
    if options.redis_port is not None:
        redis_client = redis.asyncio.Redis(host="127.0.0.1", port=options.redis_port)
        # handle_client_shutdown: the store closes the client when the application stops.
        stores[REDIS_STORE] = RedisStore(redis_client, namespace=REDIS_NAMESPACE, handle_client_shutdown=True)
    paths = {contract.CACHE_MEMORY: MEMORY_STORE, contract.CACHE_REDIS: REDIS_STORE}
    stores[RESPONSE_CACHE_STORE] = StorePerPath({path: stores[name] for path, name in paths.items() if name in stores})
    return Litestar(
        route_handlers=[
            *(plaintext, json_message, json_echo, health, ws_echo, ws_broadcast),
            *(cache_memory, cache_none, cache_redis, cache_stats, cache_clear, cache_bump),
        ],
        state=State(
            {
                "dumps": dumps,
                "loads": loads,
                "backend": Backend(options.backend_ms),
                "subscribers": set(),
                "redis": redis_client,
            }
        ),
        stores=stores,
        response_cache_config=ResponseCacheConfig(
            default_expiration=whole_seconds(options.cache_ttl_s), key_builder=cache_key, store=RESPONSE_CACHE_STORE
        ),
        response_class=codec_response_class(dumps),
        request_max_body_size=contract.MAX_MESSAGE_BYTES,
        on_startup=[ping_redis],
        after_exception=[log_server_errors],
        # No OpenAPI routes (/schema): the contract's routes only. No logging configuration: the
        # default one installs handlers on the root logger, at INFO, through a queue and a thread.
        openapi_config=None,
        logging_config=None,
    )


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    # uvicorn runs the app's lifespan: the stores are entered, and ping_redis runs, before it serves.
    return await uvicorn_runner.serve(make_app(options), sock, options)


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``): uvicorn's own supervisor, as ``uvicorn --workers`` runs it."""
    uvicorn_runner.serve_workers(make_app, sock, options, workers, loop)
