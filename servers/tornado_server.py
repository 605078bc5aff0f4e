"""Tornado server for the endpoint contract (servers/contract.py), in Tornado's own idiom: module-level
handler classes that receive the application's state through their URL specs, in ``initialize``."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio
import tornado.httpserver
import tornado.httputil
import tornado.web
import tornado.websocket

import servers
from servers import ServerOptions, Stop, contract, json_codec
from servers.cache_backend import Backend

JSON_CONTENT_TYPE = f"{contract.APPLICATION_JSON}; charset=UTF-8"
REDIS_KEY = "tornado:document"  # its own key: servers in one comparison share a redis-server


class TextHandler(tornado.web.RequestHandler):
    """Base of the HTTP handlers: text bodies, and every error answered in text/plain with a
    short reason (servers/contract.py, "Bad input") instead of Tornado's HTML page."""

    def write_text(self, body: bytes) -> None:
        self.set_header("Content-Type", contract.TEXT_PLAIN)
        self.write(body)

    def refuse(self, status_code: int, reason: str) -> None:
        self.set_status(status_code)
        self.write_text(reason.encode())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", contract.TEXT_PLAIN)
        self.finish(tornado.httputil.responses.get(status_code, "error"))


class NotFoundHandler(TextHandler):
    """Every path outside the contract: 404 in text/plain, like the other servers."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


class JsonHandler(TextHandler):
    """Base of the handlers that answer JSON, written with the server's codec (--json)."""

    def initialize(self, dumps: Callable[[Any], bytes]) -> None:
        self.dumps = dumps

    def write_json(self, data: Any) -> None:
        self.set_header("Content-Type", JSON_CONTENT_TYPE)
        self.write(self.dumps(data))


class PlaintextHandler(TextHandler):
    def get(self) -> None:
        self.write_text(contract.PLAINTEXT_BODY)


class JsonMessageHandler(JsonHandler):
    def get(self) -> None:
        self.write_json(contract.JSON_MESSAGE)


class JsonEchoHandler(JsonHandler):
    def initialize(self, dumps: Callable[[Any], bytes], loads: Callable[[bytes], Any]) -> None:
        super().initialize(dumps)
        self.loads = loads

    def post(self) -> None:
        try:
            body = self.dumps(self.loads(self.request.body))
        except servers.JSON_REFUSED as error:
            self.refuse(400, servers.json_refusal(error))
            return
        self.set_header("Content-Type", JSON_CONTENT_TYPE)
        self.write(body)


class HealthHandler(TextHandler):
    def get(self) -> None:
        self.write_text(contract.HEALTH_BODY)


class WebSocket(tornado.websocket.WebSocketHandler):
    def initialize(self, compression: bool) -> None:
        self.compression = compression

    def get_compression_options(self) -> dict | None:
        return {} if self.compression else None


class EchoHandler(WebSocket):
    async def on_message(self, message: str | bytes) -> None:
        # Awaiting the write applies back-pressure, as aiohttp's send_* does.
        try:
            await self.write_message(message, binary=isinstance(message, bytes))
        except tornado.websocket.WebSocketClosedError:
            pass


class BroadcastHandler(WebSocket):
    def initialize(self, compression: bool, subscribers: set[BroadcastHandler]) -> None:
        super().initialize(compression)
        self.subscribers = subscribers

    def open(self) -> None:
        self.subscribers.add(self)

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            return
        for subscriber in tuple(self.subscribers):
            try:
                subscriber.write_message(message)
            except tornado.websocket.WebSocketClosedError:
                self.subscribers.discard(subscriber)

    def on_close(self) -> None:
        self.subscribers.discard(self)


# Caching: the backend is awaited, so the handlers are coroutines. Tornado adds the ETag header
# to every GET and answers a matching If-None-Match with 304 by itself.
class CacheHandler(JsonHandler):
    def initialize(self, dumps: Callable[[Any], bytes], backend: Backend) -> None:
        super().initialize(dumps)
        self.backend = backend


class MemoryCacheHandler(CacheHandler):
    # The article's design: a class-level dict refreshed after the TTL, so one cache per process
    # (a server runs one application).
    cache: dict = {}

    def initialize(self, dumps: Callable[[Any], bytes], backend: Backend, ttl_s: float) -> None:
        super().initialize(dumps, backend)
        self.ttl_s = ttl_s

    async def get(self) -> None:
        if "data" not in self.cache or time.time() - self.cache["data"]["timestamp"] > self.ttl_s:
            self.cache["data"] = {"value": await self.backend.load(), "timestamp": time.time()}
        self.write_json(self.cache["data"]["value"])


class NoCacheHandler(CacheHandler):
    async def get(self) -> None:
        self.write_json(await self.backend.load())


class RedisCacheHandler(CacheHandler):
    def initialize(
        self, dumps: Callable[[Any], bytes], backend: Backend, ttl_s: float, redis_client: redis.asyncio.Redis | None
    ) -> None:
        super().initialize(dumps, backend)
        self.ttl_s = ttl_s
        self.redis_client = redis_client

    async def get(self) -> None:
        if self.redis_client is None:
            self.refuse(503, "no --redis-port given")
            return
        stored = await self.redis_client.get(REDIS_KEY)
        if stored is None:
            data = await self.backend.load()
            # Stored as JSON text with the stdlib, as aiocache's JsonSerializer does.
            await self.redis_client.set(REDIS_KEY, json.dumps(data), px=int(self.ttl_s * 1000))
        else:
            data = json.loads(stored)
        self.write_json(data)


class CacheStatsHandler(CacheHandler):
    def get(self) -> None:
        self.write_json(self.backend.stats())


class CacheClearHandler(TextHandler):
    def initialize(self, redis_client: redis.asyncio.Redis | None) -> None:
        self.redis_client = redis_client

    async def post(self) -> None:
        MemoryCacheHandler.cache.clear()
        if self.redis_client is not None:
            await self.redis_client.delete(REDIS_KEY)
        self.write_text(contract.HEALTH_BODY)


class CacheBumpHandler(TextHandler):
    def initialize(self, backend: Backend) -> None:
        self.backend = backend

    def post(self) -> None:
        self.backend.bump()
        self.write_text(contract.HEALTH_BODY)


def make_app(options: ServerOptions) -> tornado.web.Application:
    """The application: the contract's routes, each with the state its handler needs."""
    dumps, loads = json_codec(options.json_codec)
    backend = Backend(options.backend_ms)
    # The one resource with a lifetime: it connects lazily, and start() pings it and stop() closes
    # it, finding it in the application's settings.
    redis_client = None
    if options.redis_port is not None:
        redis_client = redis.asyncio.Redis(host="127.0.0.1", port=options.redis_port)
    websocket = {"compression": options.compression}
    memory_cache = {"dumps": dumps, "backend": backend, "ttl_s": options.cache_ttl_s}
    return tornado.web.Application(
        [
            (contract.PLAINTEXT, PlaintextHandler),
            (contract.JSON, JsonMessageHandler, {"dumps": dumps}),
            (contract.JSON_ECHO, JsonEchoHandler, {"dumps": dumps, "loads": loads}),
            (contract.HEALTH, HealthHandler),
            (contract.WS_ECHO, EchoHandler, websocket),
            (contract.WS_BROADCAST, BroadcastHandler, {**websocket, "subscribers": set()}),
            (contract.CACHE_MEMORY, MemoryCacheHandler, memory_cache),
            (contract.CACHE_NONE, NoCacheHandler, {"dumps": dumps, "backend": backend}),
            (contract.CACHE_REDIS, RedisCacheHandler, {**memory_cache, "redis_client": redis_client}),
            (contract.CACHE_ETAG, MemoryCacheHandler, memory_cache),
            (contract.CACHE_STATS, CacheStatsHandler, {"dumps": dumps, "backend": backend}),
            (contract.CACHE_CLEAR, CacheClearHandler, {"redis_client": redis_client}),
            (contract.CACHE_BUMP, CacheBumpHandler, {"backend": backend}),
        ],
        default_handler_class=NotFoundHandler,
        log_function=lambda handler: None,  # no access log, as for the other servers
        websocket_max_message_size=contract.MAX_MESSAGE_BYTES,
        redis_client=redis_client,
    )


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    app = make_app(options)
    redis_client = app.settings["redis_client"]
    if redis_client is not None:
        await redis_client.ping()  # an unreachable redis-server stops the server here, loudly
    server = tornado.httpserver.HTTPServer(
        app,
        max_body_size=contract.MAX_MESSAGE_BYTES,
        max_buffer_size=contract.MAX_MESSAGE_BYTES,
        ssl_options=servers.server_ssl_context(options),  # TLS: Tornado's own, HTTPServer's ssl_options
    )
    server.add_sockets([sock])

    async def stop() -> None:
        server.stop()
        await server.close_all_connections()
        if redis_client is not None:
            await redis_client.aclose()

    return stop


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``) as Tornado documents them: the socket bound first (python -m
    servers has), then ``tornado.process.fork_processes``, then in each child an HTTPServer on its
    own IOLoop serving it (start()). max_restarts=0: Tornado restarts a child that dies, and a
    benchmark must not carry on as if nothing happened; it fails instead. Tornado's parent only
    waits for its children, so the supervisor hands SIGTERM and SIGINT on to them."""
    import tornado.process

    from servers.workers import forward_signals_to_group, run_worker  # not at one worker (servers/workers.py)

    forward_signals_to_group()
    tornado.process.fork_processes(workers, max_restarts=0)  # returns in each child only
    code = run_worker(start, sock, options, loop)
    if code:
        raise SystemExit(code)
