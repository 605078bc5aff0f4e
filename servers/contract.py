"""The endpoint contract every server module implements, written down once.

Servers are started by ``python -m servers <framework>``; the harness and the tests
speak only this contract, never a framework's API.

WebSocket (every framework):
  ``/ws/echo``       each text or binary message is sent back unchanged, same type.
                     permessage-deflate is negotiated only when the server was started
                     with ``--compression`` (the websockets client offers it by default,
                     aiohttp accepts and Tornado declines, which skews comparisons).
  ``/ws/broadcast``  every connection is a subscriber; a text message received from any
                     subscriber is sent to every subscriber, the sender included.
HTTP (every framework with an HTTP server; the websockets library has none):
  ``GET /plaintext``  200, ``text/plain``, body ``Hello, World!``
  ``GET /json``       200, ``application/json``, body ``{"message": "Hello, World!"}``
  ``POST /json/echo`` the JSON request body parsed and serialized back, 200,
                      ``application/json``; codec chosen by ``--json stdlib|orjson``.
  ``GET /health``     200, ``text/plain``, body ``ok`` (websockets serves this one too).
A message larger than MAX_MESSAGE_BYTES is refused: the server closes that connection (close
code 1009; aiohttp may reset it before the client reads the close frame) and keeps serving.

Start-up: the server binds the socket it is given (loopback unless told otherwise) and,
once it accepts connections, prints exactly one line on stdout::

    {"ready": true, "framework": "aiohttp", "port": 43512, "pid": 1234}

SIGINT or SIGTERM stops it cleanly with exit status 0.
"""

from __future__ import annotations

import json

WS_ECHO = "/ws/echo"
WS_BROADCAST = "/ws/broadcast"
PLAINTEXT = "/plaintext"
JSON = "/json"
JSON_ECHO = "/json/echo"
HEALTH = "/health"

PLAINTEXT_BODY = b"Hello, World!"
JSON_MESSAGE = {"message": "Hello, World!"}
HEALTH_BODY = b"ok"
TEXT_PLAIN = "text/plain"
APPLICATION_JSON = "application/json"

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CLOSE_MESSAGE_TOO_BIG = 1009


def ready_line(framework: str, port: int, pid: int) -> str:
    """The one line a server prints once it accepts connections."""
    return json.dumps({"ready": True, "framework": framework, "port": port, "pid": pid})


def parse_ready_line(line: str) -> dict | None:
    """The ready record from a line of server output, or None if it is not one."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("ready") is True and isinstance(record.get("port"), int):
        return record
    return None
