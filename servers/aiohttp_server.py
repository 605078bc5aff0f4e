"""aiohttp server for the endpoint contract (servers/contract.py)."""

from __future__ import annotations

import socket

from aiocache import Cache, cached
from aiocache.serializers import JsonSerializer
from aiohttp import WSMsgType, web

from servers import ServerOptions, Stop, contract, json_codec
from servers.cache_backend import Backend

SUBSCRIBERS = web.AppKey("subscribers", set)


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    dumps_bytes, loads = json_codec(options.json_codec)

    # Each codec the idiomatic way: the stdlib through json_response's default dumps (a
    # str); a bytes encoder (orjson) through json_bytes_response where the release has it,
    # which saves the bytes -> str -> bytes round trip json_response would impose.
    if options.json_codec == "stdlib":

        def json_response(data: object) -> web.Response:
            return web.json_response(data)
    elif hasattr(web, "json_bytes_response"):

        def json_response(data: object) -> web.Response:
            return web.json_bytes_response(data, dumps=dumps_bytes)
    else:

        def json_response(data: object) -> web.Response:
            return web.json_response(data, dumps=lambda obj: dumps_bytes(obj).decode())

    async def plaintext(request: web.Request) -> web.Response:
        return web.Response(body=contract.PLAINTEXT_BODY, content_type=contract.TEXT_PLAIN)

    async def json_message(request: web.Request) -> web.Response:
        return json_response(contract.JSON_MESSAGE)

    async def json_echo(request: web.Request) -> web.Response:
        return json_response(await request.json(loads=loads))

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=contract.HEALTH_BODY, content_type=contract.TEXT_PLAIN)

    def websocket() -> web.WebSocketResponse:
        return web.WebSocketResponse(compress=options.compression, max_msg_size=contract.MAX_MESSAGE_BYTES)

    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = websocket()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def ws_broadcast(request: web.Request) -> web.WebSocketResponse:
        ws = websocket()
        await ws.prepare(request)
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

    # Caching: the article's design, aiocache's decorator over the backend call.
    backend = Backend(options.backend_ms)

    @cached(ttl=options.cache_ttl_s, cache=Cache.MEMORY, serializer=JsonSerializer())
    async def memory_data() -> dict:
        return await backend.load()

    redis_key = "aiohttp:document"  # its own key: servers in one comparison share a redis-server
    redis_data = None
    if options.redis_port is not None:

        @cached(
            ttl=options.cache_ttl_s,
            key=redis_key,
            cache=Cache.REDIS,
            endpoint="127.0.0.1",
            port=options.redis_port,
            serializer=JsonSerializer(),
        )
        async def redis_data() -> dict:
            return await backend.load()

        # aiocache logs and swallows Redis errors (every request would quietly go to the
        # backend), so an unreachable redis-server must stop the server here, loudly.
        await redis_data.cache.raw("ping")

    async def cache_memory(request: web.Request) -> web.Response:
        return json_response(await memory_data())

    async def cache_none(request: web.Request) -> web.Response:
        return json_response(await backend.load())

    async def cache_redis(request: web.Request) -> web.Response:
        if redis_data is None:
            raise web.HTTPServiceUnavailable(text="no --redis-port given")
        return json_response(await redis_data())

    async def cache_etag(request: web.Request) -> web.Response:
        # Hashes the body on every request, as Tornado's built-in ETag does.
        body = dumps_bytes(await memory_data())
        tag = contract.etag(body)
        if any(f'"{candidate.value}"' == tag for candidate in request.if_none_match or ()):
            raise web.HTTPNotModified(headers={"ETag": tag})
        response = web.Response(body=body, content_type=contract.APPLICATION_JSON)
        response.etag = tag.strip('"')
        return response

    async def cache_stats(request: web.Request) -> web.Response:
        return json_response(backend.stats())

    async def cache_clear(request: web.Request) -> web.Response:
        await memory_data.cache.clear()
        if redis_data is not None:
            await redis_data.cache.delete(redis_key)
        return web.Response(body=contract.HEALTH_BODY, content_type=contract.TEXT_PLAIN)

    async def cache_bump(request: web.Request) -> web.Response:
        backend.bump()
        return web.Response(body=contract.HEALTH_BODY, content_type=contract.TEXT_PLAIN)

    app = web.Application(client_max_size=contract.MAX_MESSAGE_BYTES)
    app[SUBSCRIBERS] = set()
    app.router.add_get(contract.PLAINTEXT, plaintext)
    app.router.add_get(contract.JSON, json_message)
    app.router.add_post(contract.JSON_ECHO, json_echo)
    app.router.add_get(contract.HEALTH, health)
    app.router.add_get(contract.WS_ECHO, ws_echo)
    app.router.add_get(contract.WS_BROADCAST, ws_broadcast)
    app.router.add_get(contract.CACHE_MEMORY, cache_memory)
    app.router.add_get(contract.CACHE_NONE, cache_none)
    app.router.add_get(contract.CACHE_REDIS, cache_redis)
    app.router.add_get(contract.CACHE_ETAG, cache_etag)
    app.router.add_get(contract.CACHE_STATS, cache_stats)
    app.router.add_post(contract.CACHE_CLEAR, cache_clear)
    app.router.add_post(contract.CACHE_BUMP, cache_bump)

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()

    async def stop() -> None:
        await runner.cleanup()
        if redis_data is not None:
            await redis_data.cache.close()

    return stop
