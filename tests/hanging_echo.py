"""A server preload (servers/__main__.py, BENCH_SERVER_PRELOAD) for tests/test_cost.py:
aiohttp's /ws/echo reads messages and never answers, as a hung handler would."""

from aiohttp import web

from servers import aiohttp_server


async def ws_echo_silent(request: web.Request) -> web.WebSocketResponse:
    ws = await aiohttp_server.open_websocket(request)
    async for _msg in ws:
        pass
    return ws


aiohttp_server.ws_echo = ws_echo_silent
