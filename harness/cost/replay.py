"""The cost family's client: a fixed, deterministic replay on blocking stdlib sockets, one
operation in flight, every reply verified (loadgen/verify.py) before the next is sent.

Speed does not matter here: the server is measured by what it executes, not by how soon it
answers. What matters is that two replays send the same bytes in the same order, so the
client imports no framework and no event loop, and its payloads rotate through the same
fixed variants as the load generators' (loadgen/payloads.py), masked with a fixed key.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from harness.loadgen.http import encode_request
from harness.loadgen.payloads import PAYLOAD_VARIANTS, payload_variants
from harness.loadgen.tls_client import client_context
from harness.loadgen.verify import BINARY, CLOSE, TEXT, HttpReplies, MessageAssembler, check_broadcast, check_echo, name
from harness.loadspec import HttpRequests, LoadSpec, WsBroadcast, WsEcho, WsHandshake

# Under valgrind a server executes some 50 times slower: a reply to a 1 MB JSON document can
# take seconds there. A server that has not answered in this long has hung.
REPLY_TIMEOUT_S = 30.0
NATIVE_REPLY_TIMEOUT_S = 10.0
# A fixed masking key (RFC 6455 wants a random one to defeat proxies' caches; there is no
# proxy here): the server unmasks the same bytes in every replay. Not all zeros, which a
# server could special-case.
MASK = bytes((0x37, 0xFA, 0x21, 0x3D))
# The fixed Sec-WebSocket-Key of every handshake, for the same reason.
WS_KEY = base64.b64encode(b"cost-replay-key!").decode()
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A server registers a broadcast subscriber just after answering its handshake: without an
# idle wait (Replay.settle), let the last registrations land before the first message.
SUBSCRIBE_SETTLE_S = 1.0
CLOSE_NORMAL = (1000).to_bytes(2, "big")


class ReplayError(RuntimeError):
    """The server answered wrongly, closed the connection, or did not answer in time."""


class NoReply(ReplayError):
    """The server did not answer within the replay's timeout: it hangs."""


class ServerClosed(ReplayError):
    """The server closed the connection."""


def masked_frame(opcode: int, payload: bytes, mask: bytes = MASK) -> bytes:
    """A client's final frame: FIN set, payload masked with ``mask``."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
    return header + mask + masked


class Connection:
    """One blocking TCP connection with a receive buffer; over TLS (a wss or https url) wrapped
    in ``context``, the replay's (tls_client.client_context: the run's certificate alone), with
    the stdlib's ssl (the same OpenSSL as the servers'), each connection a full handshake."""

    def __init__(self, url: str, timeout: float = REPLY_TIMEOUT_S, context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        self.host_port = parts.netloc
        self.path = parts.path
        self.timeout = timeout
        try:
            self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        except OSError as exc:
            raise ReplayError(f"cannot connect to {parts.netloc}: {exc}") from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            try:
                self.sock = context.wrap_socket(self.sock, server_hostname=parts.hostname)
            except (ssl.SSLError, OSError) as exc:
                self.sock.close()
                raise ReplayError(f"TLS handshake with {parts.netloc} failed: {exc}") from exc
        self.buffer = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> bytes:
        """The next bytes that arrive; ReplayError when the server closed or stayed silent."""
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            raise NoReply(f"no reply from {self.host_port} within {self.timeout:g}s") from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""  # over TLS: the server closed, with or without its close_notify
        if not data:
            raise ServerClosed(f"{self.host_port} closed the connection")
        return data

    def receive(self) -> None:
        self.buffer += self.recv()

    def take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.receive()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def close(self) -> None:
        self.sock.close()


class WebSocket(Connection):
    """A client WebSocket: the opening handshake checked, server frames read whole."""

    def __init__(self, url: str, timeout: float = REPLY_TIMEOUT_S, context: ssl.SSLContext | None = None) -> None:
        super().__init__(url, timeout, context)
        self.send(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self.receive()
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        status, *lines = head.split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            raise ReplayError(f"handshake answered {status!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        accept = base64.b64encode(hashlib.sha1((WS_KEY + WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            raise ReplayError(f"Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}, expected {accept!r}")
        if "sec-websocket-extensions" in headers:
            raise ReplayError(f"the server negotiated {headers['sec-websocket-extensions']!r}, none was offered")

    def frame(self) -> tuple[int, bool, bool, bytes]:
        """The next frame from the server: (opcode, fin, rsv1, payload)."""
        first, second = self.take(2)
        if second & 0x80:
            raise ReplayError("the server masked a frame")
        n = second & 0x7F
        if n == 126:
            n = int.from_bytes(self.take(2), "big")
        elif n == 127:
            n = int.from_bytes(self.take(8), "big")
        return first & 0x0F, bool(first & 0x80), bool(first & 0x40), self.take(n)

    def message(self, assembler: MessageAssembler) -> bytes:
        while True:
            opcode, fin, rsv1, payload = self.frame()
            if opcode == CLOSE:
                raise ReplayError(f"the server closed the WebSocket: {payload[:2].hex()} {payload[2:60]!r}")
            if opcode & 0x8:
                raise ReplayError(f"unexpected control frame {name(opcode)}")  # no pings: none are sent
            message = assembler.frame(opcode, fin, rsv1, payload)
            if message is not None:
                return message

    def close_handshake(self) -> None:
        """Send a normal close, wait for the server's, then for the server to close the TCP
        connection (RFC 6455 7.1.1: the server closes first), then close the socket. Closing
        before the server did would race its reads: whether the client's FIN came with the
        close frame or after it moved Tornado's handshake by 2.5 % (a 64 KiB buffer zeroed
        for each extra read)."""
        self.send(masked_frame(CLOSE, CLOSE_NORMAL))
        opcode, _, _, payload = self.frame()
        if opcode != CLOSE or payload[:2] != CLOSE_NORMAL:
            raise ReplayError(f"close answered with {name(opcode)} {payload[:2].hex()}, expected CLOSE 1000")
        try:
            while self.recv():
                pass
        except ServerClosed:
            pass  # as it should
        except NoReply as exc:
            raise NoReply(f"the server did not close the connection after the close handshake: {exc}") from None
        self.close()


class Replay:
    """A fixed sequence of operations against one server: ``open`` connects, ``run(n)`` does
    the next ``n`` operations, each verified, ``close`` ends the connections. A reply not
    received within ``timeout`` seconds fails the replay. ``settle`` is called after each
    operation (and each connection opened) and returns once the server is idle again
    (cost/quiet.py), so that every operation starts from the same state."""

    timeout: float = REPLY_TIMEOUT_S

    def settle(self) -> None:
        """Wait until the server is idle; replay_for sets the real wait."""

    def open(self) -> None:
        """Open what the operations run on (not part of any operation)."""

    def run(self, ops: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Close the connections (not part of any operation)."""

    def __enter__(self) -> Replay:
        try:
            self.open()
        except BaseException:
            self.close()  # what was opened before the failure
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EchoReplay(Replay):
    """One WebSocket connection; an operation is one message echoed and checked."""

    def __init__(self, spec: WsEcho) -> None:
        if spec.compression != "off" or spec.fragment_size:
            raise ValueError("the cost replay sends whole, uncompressed messages")
        self.spec = spec
        self.context = client_context(spec)  # None for a plain url; made once, not per connection
        self.opcode = BINARY if spec.binary else TEXT
        self.payloads = payload_variants(spec.size, spec.binary, spec.payload)
        self.frames = [masked_frame(self.opcode, p) for p in self.payloads]
        self.sent = 0
        self.ws: WebSocket | None = None

    def open(self) -> None:
        self.ws = WebSocket(self.spec.url, self.timeout, self.context)

    def run(self, ops: int) -> None:
        assembler = MessageAssembler(self.opcode)
        for _ in range(ops):
            index = self.sent % PAYLOAD_VARIANTS
            self.ws.send(self.frames[index])
            check_echo(self.payloads[index], self.ws.message(assembler))
            self.sent += 1
            self.settle()

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


class HandshakeReplay(Replay):
    """An operation is a WebSocket opened (handshake checked) and closed cleanly."""

    def __init__(self, spec: WsHandshake) -> None:
        self.spec = spec
        self.context = client_context(spec)  # None for a plain url; made once, not per connection

    def run(self, ops: int) -> None:
        for _ in range(ops):
            ws = WebSocket(self.spec.url, self.timeout, self.context)
            try:
                # The close frame goes out once the server waits for it: sent sooner, it
                # would sometimes find the server's first read done, sometimes not yet.
                self.settle()
                ws.close_handshake()
            finally:
                ws.close()
            self.settle()


class BroadcastReplay(Replay):
    """``connections`` subscribers on one server; an operation is one message sent by the
    first and received, checked, by every subscriber (the sender included)."""

    def __init__(self, spec: WsBroadcast) -> None:
        self.spec = spec
        self.context = client_context(spec)  # None for a plain url; made once, not per connection
        self.payloads = payload_variants(spec.size, False)
        self.frames = [masked_frame(TEXT, p) for p in self.payloads]
        self.sent = 0
        self.subscribers: list[WebSocket] = []

    def open(self) -> None:
        for _ in range(self.spec.connections):
            self.subscribers.append(WebSocket(self.spec.url, self.timeout, self.context))
            self.settle()  # the server registers a subscriber just after answering its handshake
        if getattr(self.settle, "__func__", None) is Replay.settle:  # no idle wait given: give them time
            time.sleep(SUBSCRIBE_SETTLE_S)

    def run(self, ops: int) -> None:
        for _ in range(ops):
            index = self.sent % PAYLOAD_VARIANTS
            self.subscribers[0].send(self.frames[index])
            for subscriber in self.subscribers:
                opcode, fin, _, payload = subscriber.frame()
                check_broadcast(opcode, fin, payload, self.payloads[index])
            self.sent += 1
            self.settle()

    def close(self) -> None:
        for subscriber in self.subscribers:
            subscriber.close()


class HttpReplay(Replay):
    """One keep-alive connection; an operation is one request answered exactly as expected."""

    def __init__(self, spec: HttpRequests) -> None:
        self.spec = spec
        self.context = client_context(spec)  # None for a plain url; made once, not per connection
        self.request = encode_request(spec)
        self.connection: Connection | None = None

    def open(self) -> None:
        self.connection = Connection(self.spec.url, self.timeout, self.context)

    def run(self, ops: int) -> None:
        replies = HttpReplies(self.spec.expect)
        for _ in range(ops):
            self.connection.send(self.request)
            while not replies.feed(self.connection.recv()):
                pass
            self.settle()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


REPLAYS: dict[type[LoadSpec], type[Replay]] = {
    WsEcho: EchoReplay,
    WsHandshake: HandshakeReplay,
    WsBroadcast: BroadcastReplay,
    HttpRequests: HttpReplay,
}


def replay_for(spec: LoadSpec, timeout: float = REPLY_TIMEOUT_S, settle: Callable[[], None] | None = None) -> Replay:
    """The replay of ``spec`` (its url filled in); ValueError for a kind no replay covers."""
    if type(spec) not in REPLAYS:
        raise ValueError(f"no cost replay for {type(spec).__name__} workloads")
    made = REPLAYS[type(spec)](spec)
    made.timeout = timeout
    if settle is not None:
        made.settle = settle  # type: ignore[method-assign]
    return made
