"""aiohttp server for the endpoint contract (servers/contract.py)."""

from __future__ import annotations

import socket

from aiohttp import WSMsgType, web

from servers import ServerOptions, Stop, contract, json_codec

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

    app = web.Application(client_max_size=contract.MAX_MESSAGE_BYTES)
    app[SUBSCRIBERS] = set()
    app.router.add_get(contract.PLAINTEXT, plaintext)
    app.router.add_get(contract.JSON, json_message)
    app.router.add_post(contract.JSON_ECHO, json_echo)
    app.router.add_get(contract.HEALTH, health)
    app.router.add_get(contract.WS_ECHO, ws_echo)
    app.router.add_get(contract.WS_BROADCAST, ws_broadcast)

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner.cleanup
