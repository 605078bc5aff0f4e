"""A server preload (servers/__main__.py, BENCH_SERVER_PRELOAD) that slows aiohttp's echo
path by about 2 %: before each text echo, a CRC-32 of a fixed buffer, which callgrind
attributes to zlib's crc32_z. Only tests/test_cost.py sets it.

It replaces the module-level handler that servers.aiohttp_server.make_app routes
/ws/echo to, with the same loop plus that one call.
"""

import zlib

from aiohttp import WSMsgType, web

from servers import aiohttp_server

# Sized for about 2 % of aiohttp 3.14's ~70,000 instructions per echo, twice the regression
# threshold (tests/test_cost.py checks the change it makes, whatever the release): zlib's
# CRC-32 runs ~3.9 instructions a byte under valgrind, plus ~270 for the call.
EXTRA = b"\x5a" * 280


async def ws_echo_slowed(request: web.Request) -> web.WebSocketResponse:
    ws = await aiohttp_server.open_websocket(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            zlib.crc32(EXTRA)
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


aiohttp_server.ws_echo = ws_echo_slowed
