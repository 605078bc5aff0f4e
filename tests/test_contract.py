"""The endpoint contract (servers/contract.py), checked against every registered server. Cases that
leave a server as they found it share one per framework and codec (conftest's ``running``)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import struct

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import servers
from servers import contract
from tests.conftest import http

ALL = list(servers.FRAMEWORKS)
HTTP = [name for name in ALL if servers.FRAMEWORKS[name].http]
WS_ONLY = [name for name in ALL if not servers.FRAMEWORKS[name].http]


# granian's WebSocket (tungstenite) takes no settings from it: a frame over its limit is refused
# with a close frame that carries no status code (read as 1005), then a reset.
TOO_BIG_CLOSE_CODES = {"granian": {contract.CLOSE_MESSAGE_TOO_BIG, 1005}}


def ws_connect(server, path: str = contract.WS_ECHO, compression: str | None = None):
    return connect(server.url(path, "ws"), compression=compression, max_size=None, proxy=None, open_timeout=5)


@pytest.mark.parametrize("framework", ALL)
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 1 << 20])
def test_ws_echo_returns_every_message_unchanged(running, framework, size):
    server = running(framework)
    with ws_connect(server) as ws:
        text = ("héllo wörld " * (size // 10 + 1))[:size]
        binary = bytes(i % 251 for i in range(size))
        for message in (text, binary, text, binary):
            ws.send(message)
            echoed = ws.recv(timeout=10)
            assert type(echoed) is type(message)
            assert echoed == message


@pytest.mark.parametrize("framework", ALL)
def test_ws_echo_reassembles_fragmented_messages(running, framework):
    server = running(framework)
    with ws_connect(server) as ws:
        fragments = [bytes([i]) * 1024 for i in range(64)]
        ws.send(iter(fragments))  # sent as 64 continuation frames
        assert ws.recv(timeout=10) == b"".join(fragments)


@pytest.mark.parametrize("framework", ALL)
def test_compression_is_declined_unless_asked_for(running, framework):
    server = running(framework)
    with ws_connect(server, compression="deflate") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


@pytest.mark.parametrize("framework", [name for name in ALL if name != "baseline" and servers.get(name).ws_deflate])
def test_compression_is_negotiated_when_asked_for(start_server, framework):
    server = start_server(framework, compression=True)
    with ws_connect(server, compression="deflate") as ws:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        ws.send("x" * 1000)
        assert ws.recv(timeout=10) == "x" * 1000


def receive_until(ws, expected: str, limit: int = 10) -> None:
    """Read messages until ``expected`` arrives (earlier broadcasts may come first)."""
    for _ in range(limit):
        if ws.recv(timeout=10) == expected:
            return
    raise AssertionError(f"{expected!r} never arrived")


@pytest.mark.parametrize("framework", ALL)
def test_broadcast_reaches_every_subscriber(start_server, framework):
    server = start_server(framework)
    with contextlib.ExitStack() as stack:
        subscribers = [stack.enter_context(ws_connect(server, contract.WS_BROADCAST)) for _ in range(3)]
        # A subscription is in place once its connection has received its own broadcast.
        for i, ws in enumerate(subscribers):
            ws.send(f"hello {i}")
            receive_until(ws, f"hello {i}")
        subscribers[0].send("to everyone")
        for ws in subscribers:
            receive_until(ws, "to everyone")


@pytest.mark.parametrize("framework", ALL)
def test_oversized_message_is_refused_and_the_server_keeps_serving(start_server, framework):
    server = start_server(framework)
    with ws_connect(server) as ws:
        with pytest.raises((ConnectionClosed, ConnectionResetError)) as closed:
            ws.send(b"x" * (contract.MAX_MESSAGE_BYTES + 1))
            ws.recv(timeout=10)
        received = getattr(closed.value, "rcvd", None)
        if received is not None:  # aiohttp may reset the connection before its close frame is read
            assert received.code in TOO_BIG_CLOSE_CODES.get(framework, {contract.CLOSE_MESSAGE_TOO_BIG}), received
    server.check_alive()
    with ws_connect(server) as ws:
        ws.send("still serving")
        assert ws.recv(timeout=10) == "still serving"


def peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def raw_ws_connect(server) -> tuple[socket.socket, bytes]:
    """A WebSocket opened by hand (so that a frame can be streamed rather than built in memory);
    returns the socket and any bytes that followed the handshake answer."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {contract.WS_ECHO} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, head.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("framework", ALL)
def test_a_100_MB_message_is_refused_without_being_buffered(start_server, framework):
    size = 100 * 2**20
    server = start_server(framework)
    peak_before = peak_rss_bytes(server.pid)
    sock, reply = raw_ws_connect(server)
    with sock:
        # One binary frame announcing 100 MiB, streamed 1 MiB at a time (all-zero mask key).
        sock.sendall(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", size) + bytes(4))
        chunk, sent = bytes(2**20), 0
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
            # The server read the frame to its end: finish the close handshake it began.
            sock.sendall(bytes([0x88, 0x82]) + bytes(4) + struct.pack("!H", 1000))
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):  # until the server closes (a 10 s timeout fails the test)
                reply += data
    if reply:  # aiohttp and tornado may reset the connection before their close frame is read
        assert reply[0] == 0x88, f"expected a close frame, got {reply[:16]!r}"
        code = struct.unpack("!H", reply[2:4])[0] if reply[1] & 0x7F >= 2 else 1005  # 1005: no status code
        assert code in TOO_BIG_CLOSE_CODES.get(framework, {contract.CLOSE_MESSAGE_TOO_BIG}), reply[:16]
    growth = peak_rss_bytes(server.pid) - peak_before
    assert growth < 2 * contract.MAX_MESSAGE_BYTES, f"{framework} buffered {growth >> 20} MiB of it"
    server.check_alive()
    with ws_connect(server) as ws:
        ws.send("still serving")
        assert ws.recv(timeout=10) == "still serving"


@pytest.mark.parametrize("framework", HTTP)
def test_get_plaintext(running, framework):
    status, headers, body = http(running(framework).url(contract.PLAINTEXT))
    assert (status, body) == (200, contract.PLAINTEXT_BODY)
    assert headers["content-type"].startswith(contract.TEXT_PLAIN)


@pytest.mark.parametrize("framework", HTTP)
@pytest.mark.parametrize("codec", ["stdlib", "orjson"])
def test_get_json(running, framework, codec):
    status, headers, body = http(running(framework, codec).url(contract.JSON))
    assert status == 200
    assert headers["content-type"].startswith(contract.APPLICATION_JSON)
    assert json.loads(body) == contract.JSON_MESSAGE


@pytest.mark.parametrize("framework", HTTP)
@pytest.mark.parametrize("codec", ["stdlib", "orjson"])
def test_post_json_echo_parses_and_serializes_back(running, framework, codec):
    document = {"key": [1, 2.5, "três", None, True], "nested": {"a": {"b": []}}}
    server = running(framework, codec)
    status, headers, body = http(server.url(contract.JSON_ECHO), json.dumps(document).encode())
    assert status == 200
    assert headers["content-type"].startswith(contract.APPLICATION_JSON)
    assert json.loads(body) == document
    dumps, _ = servers.json_codec(codec)
    assert body == dumps(document)  # the selected codec really wrote it


@pytest.mark.parametrize("framework", ALL)
def test_health(running, framework):
    status, headers, body = http(running(framework).url(contract.HEALTH))
    assert (status, body) == (200, contract.HEALTH_BODY)


@pytest.mark.parametrize("framework", WS_ONLY)
def test_frameworks_without_http_answer_404_on_http_endpoints(running, framework):
    assert http(running(framework).url(contract.JSON))[0] == 404


@pytest.mark.parametrize("framework", ALL)
def test_runs_on_uvloop(start_server, framework):
    server = start_server(framework, loop="uvloop")
    with ws_connect(server) as ws:
        ws.send("on uvloop")
        assert ws.recv(timeout=10) == "on uvloop"


@pytest.mark.parametrize("framework", ["aiohttp", "tornado"])
def test_make_app_routes_every_contract_path(framework):
    # The frameworks' servers build their application in a make_app(options) factory, which needs
    # no running server; start() serves what it returns.
    app = servers.load(framework).make_app(servers.ServerOptions())
    if framework == "aiohttp":
        paths = {route.resource.canonical for route in app.router.routes()}
    else:
        paths = {rule.matcher.regex.pattern.rstrip("$") for rule in app.wildcard_router.rules}
    assert paths == {
        *(contract.WS_ECHO, contract.WS_BROADCAST, contract.PLAINTEXT, contract.JSON, contract.JSON_ECHO),
        *(contract.HEALTH, *contract.CACHE_DOCUMENT_PATHS, contract.CACHE_STATS, contract.CACHE_CLEAR),
        contract.CACHE_BUMP,
    }
