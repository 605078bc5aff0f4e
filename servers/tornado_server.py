"""Tornado server for the endpoint contract (servers/contract.py)."""

from __future__ import annotations

import json
import socket
import time

import redis.asyncio
import tornado.httpserver
import tornado.web
import tornado.websocket

from servers import ServerOptions, Stop, contract, json_codec
from servers.cache_backend import Backend


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    dumps, loads = json_codec(options.json_codec)
    json_type = f"{contract.APPLICATION_JSON}; charset=UTF-8"
    subscribers: set[tornado.websocket.WebSocketHandler] = set()

    class PlaintextHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", contract.TEXT_PLAIN)
            self.write(contract.PLAINTEXT_BODY)

    class JsonHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", json_type)
            self.write(dumps(contract.JSON_MESSAGE))

    class JsonEchoHandler(tornado.web.RequestHandler):
        def post(self) -> None:
            try:
                data = loads(self.request.body)
            except ValueError:
                raise tornado.web.HTTPError(400, "body is not JSON") from None
            self.set_header("Content-Type", json_type)
            self.write(dumps(data))

    class HealthHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", contract.TEXT_PLAIN)
            self.write(contract.HEALTH_BODY)

    class WebSocket(tornado.websocket.WebSocketHandler):
        def get_compression_options(self) -> dict | None:
            return {} if options.compression else None

    class EchoHandler(WebSocket):
        async def on_message(self, message: str | bytes) -> None:
            # Awaiting the write applies back-pressure, as aiohttp's send_* does.
            try:
                await self.write_message(message, binary=isinstance(message, bytes))
            except tornado.websocket.WebSocketClosedError:
                pass

    class BroadcastHandler(WebSocket):
        def open(self) -> None:
            subscribers.add(self)

        def on_message(self, message: str | bytes) -> None:
            if isinstance(message, bytes):
                return
            for subscriber in tuple(subscribers):
                try:
                    subscriber.write_message(message)
                except tornado.websocket.WebSocketClosedError:
                    subscribers.discard(subscriber)

        def on_close(self) -> None:
            subscribers.discard(self)

    # Caching: the article's design, a class-level dict refreshed after the TTL. The
    # backend is awaited, so the handler is a coroutine. Tornado adds the ETag header to
    # every GET and answers a matching If-None-Match with 304 by itself.
    backend = Backend(options.backend_ms)
    ttl = options.cache_ttl_s
    redis_key = "tornado:document"  # its own key: servers in one comparison share a redis-server
    redis_client = None
    if options.redis_port is not None:
        redis_client = redis.asyncio.Redis(host="127.0.0.1", port=options.redis_port)
        await redis_client.ping()  # an unreachable redis-server stops the server here, loudly

    class CacheHandler(tornado.web.RequestHandler):
        def write_json(self, data: dict) -> None:
            self.set_header("Content-Type", json_type)
            self.write(dumps(data))

    class MemoryCacheHandler(CacheHandler):
        cache: dict = {}

        async def get(self) -> None:
            if "data" not in self.cache or time.time() - self.cache["data"]["timestamp"] > ttl:
                self.cache["data"] = {"value": await backend.load(), "timestamp": time.time()}
            self.write_json(self.cache["data"]["value"])

    class NoCacheHandler(CacheHandler):
        async def get(self) -> None:
            self.write_json(await backend.load())

    class RedisCacheHandler(CacheHandler):
        async def get(self) -> None:
            if redis_client is None:
                raise tornado.web.HTTPError(503, "no --redis-port given")
            stored = await redis_client.get(redis_key)
            if stored is None:
                data = await backend.load()
                # Stored as JSON text with the stdlib, as aiocache's JsonSerializer does.
                await redis_client.set(redis_key, json.dumps(data), px=int(ttl * 1000))
            else:
                data = json.loads(stored)
            self.write_json(data)

    class CacheStatsHandler(CacheHandler):
        def get(self) -> None:
            self.write_json(backend.stats())

    class CacheClearHandler(tornado.web.RequestHandler):
        async def post(self) -> None:
            MemoryCacheHandler.cache.clear()
            if redis_client is not None:
                await redis_client.delete(redis_key)
            self.write(contract.HEALTH_BODY)

    class CacheBumpHandler(tornado.web.RequestHandler):
        def post(self) -> None:
            backend.bump()
            self.write(contract.HEALTH_BODY)

    app = tornado.web.Application(
        [
            (contract.PLAINTEXT, PlaintextHandler),
            (contract.JSON, JsonHandler),
            (contract.JSON_ECHO, JsonEchoHandler),
            (contract.HEALTH, HealthHandler),
            (contract.WS_ECHO, EchoHandler),
            (contract.WS_BROADCAST, BroadcastHandler),
            (contract.CACHE_MEMORY, MemoryCacheHandler),
            (contract.CACHE_NONE, NoCacheHandler),
            (contract.CACHE_REDIS, RedisCacheHandler),
            (contract.CACHE_ETAG, MemoryCacheHandler),
            (contract.CACHE_STATS, CacheStatsHandler),
            (contract.CACHE_CLEAR, CacheClearHandler),
            (contract.CACHE_BUMP, CacheBumpHandler),
        ],
        log_function=lambda handler: None,  # no access log, as for the other servers
        websocket_max_message_size=contract.MAX_MESSAGE_BYTES,
    )
    server = tornado.httpserver.HTTPServer(
        app, max_body_size=contract.MAX_MESSAGE_BYTES, max_buffer_size=contract.MAX_MESSAGE_BYTES
    )
    server.add_sockets([sock])

    async def stop() -> None:
        server.stop()
        await server.close_all_connections()
        if redis_client is not None:
            await redis_client.aclose()

    return stop
