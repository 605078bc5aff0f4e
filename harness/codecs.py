"""JSON encoders and decoders as each framework offers them, for in-process timing.

The article claimed Tornado serializes JSON twice as fast as aiohttp. Both call the
standard library: tornado.escape.json_encode is json.dumps plus a "</" escape, and
aiohttp's json_response is json.dumps plus building a Response. These factories return
one-argument callables so the benchmarks time exactly one encode or decode.
Each factory raises NotImplementedError (asv shows n/a) when its package is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable
from typing import Any


def require(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise NotImplementedError(f"{package} is not installed in this environment")


def stdlib_dumps() -> Callable[[Any], Any]:
    return json.dumps


def orjson_dumps() -> Callable[[Any], Any]:
    require("orjson")
    import orjson

    return orjson.dumps


def tornado_json_encode() -> Callable[[Any], Any]:
    require("tornado")
    import tornado.escape

    return tornado.escape.json_encode


def aiohttp_json_response() -> Callable[[Any], Any]:
    """web.json_response(data): the stdlib's dumps, then a Response around the text."""
    require("aiohttp")
    from aiohttp import web

    return web.json_response


def aiohttp_json_bytes_response_orjson() -> Callable[[Any], Any]:
    """web.json_bytes_response(data, dumps=orjson.dumps), in releases that have it."""
    require("aiohttp")
    require("orjson")
    import orjson
    from aiohttp import web

    if not hasattr(web, "json_bytes_response"):
        raise NotImplementedError("this aiohttp release has no json_bytes_response")
    return lambda data: web.json_bytes_response(data, dumps=orjson.dumps)


ENCODERS: dict[str, Callable[[], Callable[[Any], Any]]] = {
    "json.dumps": stdlib_dumps,
    "orjson.dumps": orjson_dumps,
    "tornado.escape.json_encode": tornado_json_encode,
    "aiohttp.web.json_response": aiohttp_json_response,
    "aiohttp.web.json_bytes_response+orjson": aiohttp_json_bytes_response_orjson,
}


# Decoders are bound to the body they decode: aiohttp's needs a request carrying it.
def stdlib_loads(body: bytes) -> Callable[[], Any]:
    return lambda: json.loads(body)


def orjson_loads(body: bytes) -> Callable[[], Any]:
    require("orjson")
    import orjson

    return lambda: orjson.loads(body)


def tornado_json_decode(body: bytes) -> Callable[[], Any]:
    require("tornado")
    import tornado.escape

    return lambda: tornado.escape.json_decode(body)


def run_without_suspending(coroutine) -> Any:
    """The result of a coroutine that never waits (no event loop needed)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the coroutine suspended; it was expected to complete at once")


def aiohttp_request_json(body: bytes) -> Callable[[], Any]:
    """await request.json() on a mocked request whose body is already read: what aiohttp
    adds to json.loads (decoding the bytes to str by the charset)."""
    require("aiohttp")
    from unittest import mock

    from aiohttp import streams
    from aiohttp.test_utils import make_mocked_request

    async def read_request():
        payload = streams.StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
        payload.feed_data(body)
        payload.feed_eof()
        request = make_mocked_request(
            "POST", "/", headers={"Content-Type": "application/json"}, payload=payload, client_max_size=len(body) + 1
        )
        await request.read()  # the body as the handler's first read leaves it
        return request

    request = asyncio.run(read_request())
    return lambda: run_without_suspending(request.json())


DECODERS: dict[str, Callable[[bytes], Callable[[], Any]]] = {
    "json.loads": stdlib_loads,
    "orjson.loads": orjson_loads,
    "tornado.escape.json_decode": tornado_json_decode,
    "aiohttp request.json()": aiohttp_request_json,
}
