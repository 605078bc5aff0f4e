"""The endpoint contract every server module implements, written down once.

Servers are started by ``python -m servers <framework>``; the harness and the tests
speak only this contract, never a framework's API.

Frameworks: the baseline (hand-written asyncio), aiohttp, Tornado, the websockets library, picows
(WebSocket only), uvicorn with a bare ASGI application, Starlette, FastAPI, Litestar and BlackSheep
on uvicorn, Sanic, and granian serving the Starlette application (servers/__init__.py).

WebSocket (every framework):
  ``/ws/echo``       each text or binary message is sent back unchanged, same type.
                     permessage-deflate is negotiated only when the server was started
                     with ``--compression`` (the websockets client offers it by default,
                     aiohttp accepts and Tornado declines, which skews comparisons).
  ``/ws/broadcast``  every connection is a subscriber; a text message received from any
                     subscriber is sent to every subscriber, the sender included.
HTTP (every framework with an HTTP server; the websockets library and picows have none):
  ``GET /plaintext``  200, ``text/plain``, body ``Hello, World!``
  ``GET /json``       200, ``application/json``, body ``{"message": "Hello, World!"}``
  ``POST /json/echo`` the JSON request body parsed and serialized back, 200,
                      ``application/json``; codec chosen by ``--json stdlib|orjson``.
  ``GET /health``     200, ``text/plain``, body ``ok`` (websockets and picows serve this one too).
Caching (aiohttp and Tornado, Litestar through its own response cache; the baseline serves the
GETs as fixed bytes, the generator's reference, and has no cache). A framework without a caching
facility of its own serves /cache/none, /cache/stats, /cache/clear and /cache/bump, and reports
the cached endpoints n/a with that reason (servers.Framework.caches). Every cached value comes
from one slow backend, an awaited
``asyncio.sleep(--backend-ms)`` (default 20 ms, a database round trip) that returns
``cache_document(version)`` and counts its calls. Cached values live ``--cache-ttl``
seconds (default 30, the article's).
  ``GET /cache/memory``  the document through the article's in-process cache: aiocache
                         ``@cached(cache=Cache.MEMORY, serializer=JsonSerializer())`` on
                         aiohttp, a class-level dict refreshed after the TTL on Tornado.
  ``GET /cache/none``    the document straight from the backend on every request.
  ``GET /cache/redis``   the document through a Redis cache (aiocache's Redis backend on
                         aiohttp, redis-py's asyncio client on Tornado) on the redis-server
                         at 127.0.0.1:``--redis-port``; 503 when no port was given.
  ``GET /cache/etag``    ``/cache/memory`` plus ``ETag: etag(body)`` (Tornado's built-in
                         scheme); ``If-None-Match`` with that tag is answered 304, no body.
All four answer 200, ``application/json``, body ``cache_document(version)`` in the
server's codec.
  ``GET /cache/stats``   ``{"backend_calls": n}``: how often the backend has run.
  ``POST /cache/clear``  empties every cache (memory and Redis); 200 ``ok``.
  ``POST /cache/bump``   changes the backend's data (version + 1); caches keep serving the
                         old version until they expire or are cleared; 200 ``ok``.
  On Litestar, /cache/memory and /cache/redis are its response cache on a MemoryStore and a
  RedisStore (namespace "litestar"); it has no /cache/etag (its ETag is fixed per route).
A message larger than MAX_MESSAGE_BYTES is refused: the server closes that connection (close
code 1009; aiohttp may reset it before the client reads the close frame) and keeps serving.
granian cannot be configured so: its WebSocket refuses a frame over 16 MiB with a close frame
without a status code (read as 1005), and accepts a message up to 64 MiB in smaller frames.

Bad input gets a clear answer, never a traceback on the server's stderr, and the server keeps
serving:
  ``POST /json/echo`` with a body the server's codec cannot read or write back answers 400,
      ``text/plain``, and keeps the connection open. The body is a short reason: JSON_INVALID
      for a malformed, truncated, empty or non-UTF-8 body; JSON_TOO_DEEP for nesting deeper
      than the codec goes (orjson reads 1,024 levels and writes 254; the stdlib stops at
      Python's recursion limit, about 1,000 levels less the server's own stack). Documents
      nested JSON_ECHO_DEPTH levels deep are always echoed.
  A request head (request line and headers) over the framework's limit gets a 4xx, or the
      connection closed without an answer where that is the framework's own way: the
      baseline answers 431 past MAX_HEADER_BYTES, aiohttp 400 past 8,190 bytes in one line,
      Tornado closes past 64 KiB, websockets answers 431 past 8,192 bytes in one line
      (13.x-16.x close; 10.4-12.0, on the legacy API, answer 400), picows closes past 16 KiB,
      Sanic answers 413 past 8 KiB, granian 431 past 408 KiB. The exception: uvicorn with
      httptools has no limit and no setting for one, so the frameworks on it answer.
  A malformed request line (``GARBAGE``) gets 400 and a close (websockets from 13.0 closes
      without an answer). The baseline, which parses HTTP by hand, also answers 400 to a Content-Length
      that is not a number, and 413 to one over MAX_MESSAGE_BYTES, closing the connection.
  A client that goes away mid-request is not an error either.
Where a framework logs a client's fault with a traceback (aiohttp; websockets before 17.0), the
server writes one warning line instead.

Start-up: the server binds the socket it is given (loopback unless told otherwise) and,
once it accepts connections, prints exactly one line on stdout::

    {"ready": true, "framework": "aiohttp", "port": 43512, "pid": 1234}

SIGINT or SIGTERM stops it cleanly with exit status 0.

With ``--tls-cert FILE --tls-key FILE`` every endpoint is served over TLS only (https, wss), in
the framework's own TLS setting, and the line ends ``"tls": true``. Both flags or neither; a file
missing or not loading (a key that is not the certificate's) is a usage error (exit status 2),
said before the socket is bound. A plain request to a TLS server gets no HTTP answer.

With ``--workers N`` (N > 1; servers/workers.py) the line is printed once every worker accepts
connections, ``pid`` is the root of the process tree that holds them all, and ``workers`` lists
the workers' pids: ``{..., "pid": 1234, "workers": [1240, 1241]}``. SIGINT or SIGTERM to the root
stops them all; a worker that dies ends the server with exit status 5. A framework with no
multi-process mode of its own refuses --workers above 1 (exit status 3, saying why).
"""

from __future__ import annotations

import hashlib
import json

WS_ECHO = "/ws/echo"
WS_BROADCAST = "/ws/broadcast"
PLAINTEXT = "/plaintext"
JSON = "/json"
JSON_ECHO = "/json/echo"
HEALTH = "/health"

CACHE_MEMORY = "/cache/memory"
CACHE_NONE = "/cache/none"
CACHE_REDIS = "/cache/redis"
CACHE_ETAG = "/cache/etag"
CACHE_STATS = "/cache/stats"
CACHE_CLEAR = "/cache/clear"
CACHE_BUMP = "/cache/bump"
CACHE_DOCUMENT_PATHS = (CACHE_MEMORY, CACHE_NONE, CACHE_REDIS, CACHE_ETAG)
CACHED_PATHS = (CACHE_MEMORY, CACHE_REDIS, CACHE_ETAG)  # through a cache: n/a where a framework has none
DEFAULT_CACHE_TTL_S = 30.0
DEFAULT_BACKEND_MS = 20.0

PLAINTEXT_BODY = b"Hello, World!"
JSON_MESSAGE = {"message": "Hello, World!"}
HEALTH_BODY = b"ok"
TEXT_PLAIN = "text/plain"
APPLICATION_JSON = "application/json"

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CLOSE_MESSAGE_TOO_BIG = 1009

MAX_HEADER_BYTES = 64 * 1024  # the baseline's request head, blank line included (Tornado's default too)
JSON_INVALID = "request body is not valid JSON"
JSON_TOO_DEEP = "request body is nested too deeply"
JSON_ECHO_DEPTH = 200  # nesting every server echoes with either codec


def cache_document(version: int = 0) -> dict:
    """The backend's data: a small catalogue (about 1 KB as JSON), tagged with its version."""
    items = [{"id": i, "name": f"item {i}", "price": round(i * 1.25, 2), "in_stock": i % 3 != 0} for i in range(16)]
    return {"version": version, "items": items}


def etag(body: bytes) -> str:
    """The ETag of a response body: quoted SHA-1 hex, what Tornado computes by default."""
    return '"' + hashlib.sha1(body).hexdigest() + '"'


def ready_line(framework: str, port: int, pid: int, workers: list[int] | None = None, tls: bool = False) -> str:
    """The one line a server prints once it accepts connections (every worker, if several;
    ``pid`` is then the root of their process tree). ``"tls": true`` only when it serves TLS, so
    that a plain server's line reads as it always has."""
    record: dict = {"ready": True, "framework": framework, "port": port, "pid": pid}
    if workers:
        record["workers"] = workers
    if tls:
        record["tls"] = True
    return json.dumps(record)


def parse_ready_line(line: str) -> dict | None:
    """The ready record from a line of server output, or None if it is not one."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("ready") is True and isinstance(record.get("port"), int):
        return record
    return None
