"""A server preload (servers/__main__.py, BENCH_SERVER_PRELOAD) for tests/test_cost.py:
aiohttp's /ws/echo exits the server with status 3 on the first message, as a crash would."""

import os

from aiohttp import web

from servers import aiohttp_server


async def ws_echo_dying(request: web.Request) -> web.WebSocketResponse:
    ws = await aiohttp_server.open_websocket(request)
    async for _msg in ws:
        os._exit(3)
    return ws


aiohttp_server.ws_echo = ws_echo_dying
