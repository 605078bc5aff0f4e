"""aiohttp server for the endpoint contract (servers/contract.py), in aiohttp's own idiom: module-level
handlers, the application's state under web.AppKeys, resources with a lifetime in its cleanup_ctx."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiocache import Cache, cached
from aiocache.serializers import JsonSerializer
from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError

import servers
from servers import ServerOptions, Stop, contract, json_codec
from servers.cache_backend import Backend

REDIS_KEY = "aiohttp:document"  # its own key: servers in one comparison share a redis-server
# aiohttp answers a malformed request 400 and then logs it with a traceback, as it does a client
# that goes away before its body has arrived: both are the client's doing, so one line each.
LOGGER = servers.client_fault_logger(
    "servers.aiohttp", "Error handling request", (HttpProcessingError, ConnectionResetError)
)


@dataclass(frozen=True)
class JsonCodec:
    """The server's JSON codec (--json), and JSON responses written with it."""

    dumps: Callable[[Any], bytes]
    loads: Callable[[str | bytes], Any]
    response: Callable[[Any], web.Response]


def json_codec_for(name: str) -> JsonCodec:
    """The codec ``name`` (stdlib or orjson) with the response helper that suits it."""
    dumps, loads = json_codec(name)
    # Each codec the idiomatic way: the stdlib through json_response's default dumps (a str); a
    # bytes encoder (orjson) through json_bytes_response where the release has it, which saves
    # the bytes -> str -> bytes round trip json_response would impose.
    if name == "stdlib":
        response = web.json_response
    elif hasattr(web, "json_bytes_response"):
        response = partial(web.json_bytes_response, dumps=dumps)
    else:
        response = partial(web.json_response, dumps=lambda obj: dumps(obj).decode())
    return JsonCodec(dumps, loads, response)


Loader = Callable[[], Awaitable[dict]]  # the backend's document, through a cache

OPTIONS = web.AppKey("options", ServerOptions)
JSON_CODEC = web.AppKey("json_codec", JsonCodec)
BACKEND = web.AppKey("backend", Backend)
SUBSCRIBERS = web.AppKey("subscribers", set)  # the /ws/broadcast connections
MEMORY_CACHED = web.AppKey("memory_cached", Loader)  # set by caches() while the app runs
REDIS_CACHED = web.AppKey("redis_cached", Loader | None)  # None without --redis-port


async def plaintext(request: web.Request) -> web.Response:
    return web.Response(body=contract.PLAINTEXT_BODY, content_type=contract.TEXT_PLAIN)


async def json_message(request: web.Request) -> web.Response:
    return request.app[JSON_CODEC].response(contract.JSON_MESSAGE)


async def json_echo(request: web.Request) -> web.Response:
    codec = request.app[JSON_CODEC]
    try:
        return codec.response(await request.json(loads=codec.loads))
    except (*servers.JSON_REFUSED, LookupError) as error:  # LookupError: a charset Python does not know
        raise web.HTTPBadRequest(text=servers.json_refusal(error)) from None


async def health(request: web.Request) -> web.Response:
    return web.Response(body=contract.HEALTH_BODY, content_type=contract.TEXT_PLAIN)


async def open_websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=request.app[OPTIONS].compression, max_msg_size=contract.MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    return ws


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = await open_websocket(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def ws_broadcast(request: web.Request) -> web.WebSocketResponse:
    ws = await open_websocket(request)
    subscribers = request.app[SUBSCRIBERS]
    subscribers.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                for subscriber in tuple(subscribers):
                    if not subscriber.closed:
                        await subscriber.send_str(msg.data)
    finally:
        subscribers.discard(ws)
    return ws


async def cache_memory(request: web.Request) -> web.Response:
    return request.app[JSON_CODEC].response(await request.app[MEMORY_CACHED]())


async def cache_none(request: web.Request) -> web.Response:
    return request.app[JSON_CODEC].response(await request.app[BACKEND].load())


async def cache_redis(request: web.Request) -> web.Response:
    redis_cached = request.app[REDIS_CACHED]
    if redis_cached is None:
        raise web.HTTPServiceUnavailable(text="no --redis-port given")
    return request.app[JSON_CODEC].response(await redis_cached())


async def cache_etag(request: web.Request) -> web.Response:
    # Hashes the body on every request, as Tornado's built-in ETag does.
    body = request.app[JSON_CODEC].dumps(await request.app[MEMORY_CACHED]())
    tag = contract.etag(body)
    if any(f'"{candidate.value}"' == tag for candidate in request.if_none_match or ()):
        raise web.HTTPNotModified(headers={"ETag": tag})
    response = web.Response(body=body, content_type=contract.APPLICATION_JSON)
    response.etag = tag.strip('"')
    return response


async def cache_stats(request: web.Request) -> web.Response:
    return request.app[JSON_CODEC].response(request.app[BACKEND].stats())


async def cache_clear(request: web.Request) -> web.Response:
    await request.app[MEMORY_CACHED].cache.clear()
    redis_cached = request.app[REDIS_CACHED]
    if redis_cached is not None:
        await redis_cached.cache.delete(REDIS_KEY)
    return web.Response(body=contract.HEALTH_BODY, content_type=contract.TEXT_PLAIN)


async def cache_bump(request: web.Request) -> web.Response:
    request.app[BACKEND].bump()
    return web.Response(body=contract.HEALTH_BODY, content_type=contract.TEXT_PLAIN)


async def caches(app: web.Application) -> AsyncIterator[None]:
    """The article's caches, open while the application runs: aiocache's ``cached`` over the
    backend call, with its memory backend and, given --redis-port, its Redis backend."""
    options, backend = app[OPTIONS], app[BACKEND]

    @cached(ttl=options.cache_ttl_s, cache=Cache.MEMORY, serializer=JsonSerializer())
    async def memory_cached() -> dict:
        return await backend.load()

    redis_cached = None
    if options.redis_port is not None:

        @cached(
            ttl=options.cache_ttl_s,
            key=REDIS_KEY,
            cache=Cache.REDIS,
            endpoint="127.0.0.1",
            port=options.redis_port,
            serializer=JsonSerializer(),
        )
        async def redis_cached() -> dict:
            return await backend.load()

        # aiocache logs and swallows Redis errors (every request would quietly go to the
        # backend), so an unreachable redis-server must stop the server here, loudly.
        await redis_cached.cache.raw("ping")

    app[MEMORY_CACHED], app[REDIS_CACHED] = memory_cached, redis_cached
    yield
    await memory_cached.cache.close()
    if redis_cached is not None:
        await redis_cached.cache.close()


def make_app(options: ServerOptions) -> web.Application:
    """The application: the contract's routes, its state under AppKeys, the caches' lifetime."""
    app = web.Application(client_max_size=contract.MAX_MESSAGE_BYTES)
    app[OPTIONS] = options
    app[JSON_CODEC] = json_codec_for(options.json_codec)
    app[BACKEND] = Backend(options.backend_ms)
    app[SUBSCRIBERS] = set()
    app.cleanup_ctx.append(caches)
    app.add_routes(
        [
            web.get(contract.PLAINTEXT, plaintext),
            web.get(contract.JSON, json_message),
            web.post(contract.JSON_ECHO, json_echo),
            web.get(contract.HEALTH, health),
            web.get(contract.WS_ECHO, ws_echo),
            web.get(contract.WS_BROADCAST, ws_broadcast),
            web.get(contract.CACHE_MEMORY, cache_memory),
            web.get(contract.CACHE_NONE, cache_none),
            web.get(contract.CACHE_REDIS, cache_redis),
            web.get(contract.CACHE_ETAG, cache_etag),
            web.get(contract.CACHE_STATS, cache_stats),
            web.post(contract.CACHE_CLEAR, cache_clear),
            web.post(contract.CACHE_BUMP, cache_bump),
        ]
    )
    return app


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    runner = web.AppRunner(make_app(options), access_log=None, handle_signals=False, logger=LOGGER)
    await runner.setup()  # runs cleanup_ctx's start-up: a redis-server that does not answer fails here
    # TLS: aiohttp's own, the site's ssl_context (what web.run_app(ssl_context=...) passes it).
    await web.SockSite(runner, sock, ssl_context=servers.server_ssl_context(options)).start()
    return runner.cleanup  # stops serving, then closes what cleanup_ctx opened


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``): aiohttp has no supervisor of its own; its docs run one
    application per process, and ``web.run_app(reuse_port=True)`` lets several share a port. So
    each process runs what start() runs (run_app's runner and site, without its signal handling)
    on its own SO_REUSEPORT socket, the kernel spreading connections over them."""
    from servers.workers import reuse_port  # not at one worker (servers/workers.py)

    reuse_port(start, sock, options, workers, loop)
