"""Bad input gets a clear answer (servers/contract.py, "Bad input"): each case against every server
it applies to, checking the answer, that the server wrote no traceback, and that it serves a normal
request afterwards. Malformed bytes go over raw sockets (urllib would refuse to send them); the
servers are shared by the module (conftest's ``running``), one per framework and codec, to keep the
cases cheap."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
from collections.abc import Iterator

import pytest

import servers
from harness.process import ServerProcess
from servers import contract

ALL = list(servers.FRAMEWORKS)
HTTP = [name for name in ALL if servers.FRAMEWORKS[name].http]
CODECS = ["stdlib", "orjson"]
CLOSED = "closed without an answer"
BIG_HEADER_BYTES = 200_000


@contextlib.contextmanager
def served_cleanly(server: ServerProcess) -> Iterator[None]:
    """Around one case: afterwards the server answers GET /health, and what it wrote on stderr
    meanwhile has no traceback."""
    start = server.stderr_size()
    yield
    assert_healthy(server)
    written = server.stderr_text(start)
    assert "Traceback" not in written, f"{server.framework} wrote a traceback:\n{written}"


def assert_healthy(server: ServerProcess) -> None:
    server.check_alive()
    with contextlib.closing(send(server, request("GET", contract.HEALTH))) as sock:
        assert answer(sock) == (200, contract.TEXT_PLAIN, contract.HEALTH_BODY)


def request(method: str, path: str, headers: str = "", body: bytes = b"", content_length: object = None) -> bytes:
    """The bytes of a request; a POST says its body's length unless told another ``content_length``."""
    if method == "POST":
        headers += f"Content-Length: {len(body) if content_length is None else content_length}\r\n"
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode() + body


def post_json(body: bytes, content_type: str = contract.APPLICATION_JSON) -> bytes:
    return request("POST", contract.JSON_ECHO, f"Content-Type: {content_type}\r\n", body)


def send(server: ServerProcess, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before it was all read
        sock.sendall(data)
    return sock


def answer(sock: socket.socket) -> tuple[int, str, bytes] | str:
    """(status, media type, body) of the next response on ``sock``, or CLOSED."""
    response = http.client.HTTPResponse(sock)
    try:
        response.begin()
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return CLOSED
    body = response.read()
    return response.status, (response.getheader("Content-Type") or "").split(";")[0], body


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


UNREADABLE_JSON = {
    "malformed": (b'{"a": }', contract.JSON_INVALID),
    "truncated": (b'{"a": [1, 2', contract.JSON_INVALID),
    "empty": (b"", contract.JSON_INVALID),
    "not-utf-8": (b'{"a": "\xff"}', contract.JSON_INVALID),
    "nested-100000-deep": (nested(100_000), contract.JSON_TOO_DEEP),
}


def assert_json_refused(server: ServerProcess, body: bytes, reason: str) -> None:
    """400 with ``reason``, and the same connection then echoes a good document."""
    with contextlib.closing(send(server, post_json(body))) as sock:
        assert answer(sock) == (400, contract.TEXT_PLAIN, reason.encode())
        sock.sendall(post_json(b'{"still": "serving"}'))
        status, media_type, echoed = answer(sock)
        assert (status, media_type, json.loads(echoed)) == (200, contract.APPLICATION_JSON, {"still": "serving"})


@pytest.mark.parametrize("case", UNREADABLE_JSON)
@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("framework", HTTP)
def test_json_echo_answers_an_unreadable_body_400_with_the_reason(running, framework, codec, case):
    body, reason = UNREADABLE_JSON[case]
    server = running(framework, codec)
    with served_cleanly(server):
        assert_json_refused(server, body, reason)


@pytest.mark.parametrize("framework", HTTP)
def test_json_echo_refuses_what_orjson_cannot_write_back(running, framework):
    server = running(framework, "orjson")
    with served_cleanly(server):  # orjson reads 1,024 levels but writes 254
        assert_json_refused(server, nested(500), contract.JSON_TOO_DEEP)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("framework", HTTP)
def test_json_echo_echoes_the_nesting_the_contract_promises(running, framework, codec):
    document = nested(contract.JSON_ECHO_DEPTH)
    server = running(framework, codec)
    with served_cleanly(server), contextlib.closing(send(server, post_json(document))) as sock:
        status, media_type, body = answer(sock)
        assert (status, media_type, json.loads(body)) == (200, contract.APPLICATION_JSON, json.loads(document))


@pytest.mark.parametrize("framework", HTTP)
def test_an_unknown_charset_is_not_a_server_error(running, framework):
    # aiohttp decodes the body with the charset it is given; the others read JSON as UTF-8.
    server = running(framework)
    with (
        served_cleanly(server),
        contextlib.closing(send(server, post_json(b"[1]", "application/json; charset=nope"))) as sock,
    ):
        assert answer(sock) in (
            (400, contract.TEXT_PLAIN, contract.JSON_INVALID.encode()),
            (200, contract.APPLICATION_JSON, b"[1]"),
        )


# The framework's own answer to a request head over its limit (servers/contract.py).
OVERSIZED_HEADER_ANSWERS = {
    "baseline": {431},
    "aiohttp": {400},
    "tornado": {CLOSED},
    "websockets": {431, CLOSED, 400},  # 431 since 17.0; closed in 13.x-16.x; 400 on the legacy API (10.4-12.0)
    "picows": {CLOSED},
    "sanic": {413},
    "granian": {431},
}
# Limits above BIG_HEADER_BYTES: the header sent goes this far past them.
HEADER_LIMITS = {"granian": 417_792}
# uvicorn with httptools has no limit on a request head and no setting for one (only its h11
# parser has): the frameworks on it answer, and keep the connection (servers/contract.py).
ON_UVICORN = [name for name in ALL if name == "uvicorn" or "uvicorn" in servers.get(name).stack]
OVERSIZED_HEADER_ANSWERS.update(dict.fromkeys(ON_UVICORN, {200}))


@pytest.mark.parametrize("framework", ALL)
def test_an_oversized_header_is_refused(running, framework):
    server = running(framework)
    size = HEADER_LIMITS.get(framework, 0) + BIG_HEADER_BYTES
    big_header = request("GET", contract.HEALTH, f"X-Big: {'a' * size}\r\n")
    with served_cleanly(server), contextlib.closing(send(server, big_header)) as sock:
        reply = answer(sock)
        assert (reply if reply == CLOSED else reply[0]) in OVERSIZED_HEADER_ANSWERS[framework], reply
        if framework == "baseline":
            assert reply == (431, contract.TEXT_PLAIN, b"request header too large")
        if framework not in ON_UVICORN:
            assert closed_by_server(sock)


@pytest.mark.parametrize("head_bytes, status", [(contract.MAX_HEADER_BYTES, 200), (contract.MAX_HEADER_BYTES + 1, 431)])
def test_the_baseline_header_limit_is_max_header_bytes(running, head_bytes, status):
    server = running("baseline")
    padding = head_bytes - len(request("GET", contract.HEALTH, "X-Pad: \r\n"))
    with (
        served_cleanly(server),
        contextlib.closing(send(server, request("GET", contract.HEALTH, f"X-Pad: {'a' * padding}\r\n"))) as sock,
    ):
        assert answer(sock)[0] == status


# A malformed request line: 400 and a close; the websockets library from 13.0 closes without answering.
MALFORMED_REQUEST_LINE_ANSWERS = {
    "baseline": {400},
    "aiohttp": {400},
    "tornado": {400},
    "websockets": {CLOSED, 400},  # 400 on the legacy API (10.4-12.0)
    "picows": {400},
    "sanic": {400},
    "granian": {400},
    **dict.fromkeys(ON_UVICORN, {400}),
}


@pytest.mark.parametrize("framework", ALL)
def test_a_malformed_request_line_is_refused_and_closed(running, framework):
    server = running(framework)
    with served_cleanly(server), contextlib.closing(send(server, b"GARBAGE\r\n\r\n")) as sock:
        reply = answer(sock)
        assert (reply if reply == CLOSED else reply[0]) in MALFORMED_REQUEST_LINE_ANSWERS[framework], reply
        if framework == "baseline":
            assert reply == (400, contract.TEXT_PLAIN, b"malformed request line")
        assert closed_by_server(sock)


@pytest.mark.parametrize("length", ["abc", "-5"])
@pytest.mark.parametrize("framework", HTTP)
def test_an_unusable_content_length_is_refused(running, framework, length):
    server = running(framework)
    head = request("POST", contract.JSON_ECHO, body=b"[1]", content_length=length)
    with served_cleanly(server), contextlib.closing(send(server, head)) as sock:
        reply = answer(sock)
        assert reply != CLOSED and reply[0] == 400, reply
        if framework == "baseline":  # the frameworks' own rules differ: Tornado 6.1 reads -5 as no body
            assert reply == (400, contract.TEXT_PLAIN, b"invalid Content-Length")
            assert closed_by_server(sock)


# aiohttp has no answer before the body: it reads up to its client_max_size, then answers 413.
@pytest.mark.parametrize("framework, status", [("baseline", 413), ("tornado", 400)])
def test_a_content_length_over_the_limit_is_refused_at_once(running, framework, status):
    server = running(framework)
    head = request("POST", contract.JSON_ECHO, content_length=contract.MAX_MESSAGE_BYTES + 1)
    with served_cleanly(server), contextlib.closing(send(server, head)) as sock:
        reply = answer(sock)
        assert reply != CLOSED and reply[0] == status, reply
        assert closed_by_server(sock)


@pytest.mark.parametrize("framework", HTTP)
def test_a_client_gone_before_its_body_is_not_a_server_error(running, framework):
    server = running(framework)
    cut_short = request("POST", contract.JSON_ECHO, body=b'{"a": 1}', content_length=100)
    with served_cleanly(server):
        sock = send(server, cut_short)
        assert_healthy(server)  # answered on another connection: the server now waits for the rest of the body
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # with a reset, as a client that dies does: the server learns of it at once
