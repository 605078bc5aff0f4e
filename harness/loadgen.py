"""The load generator: a process of its own, pinned away from the server, that depends on
no framework under test (picows for WebSocket, a bare asyncio Protocol for HTTP, both on
uvloop), so a new aiohttp release cannot move Tornado's figures.

Run as ``python -m harness.loadgen '<json spec>'`` (or ``@<file>`` holding the spec, for
specs too large for a command line). It connects, warms up, prints ``{"ready": ...}``,
then answers each ``go <seconds>`` line on stdin with one JSON line for a measurement
window, or each ``burst`` line with one JSON line for a burst (every connection sends one
request at the same moment; the record once all have answered), until ``quit``. Closed
loop: every connection keeps exactly one request in flight. HTTP also runs open loop:
``go <seconds> <rate>`` sends requests at fixed intended times (OpenLoopSchedule) on
whichever connection is free, and times each reply from its intended send time, so a slow
server cannot slow the sender down and hide its own latency (no coordinated omission).
Every reply is verified (type, status, content type, exact bytes, ETag where expected);
only verified replies count, and any error ends the process with ``{"error": ...}``.

Kinds (spec["kind"]): ``ws_echo`` (steady echo on open connections; optionally JSON
payloads, permessage-deflate, or each message sent as fragments), ``ws_handshake``
(connections opened and cleanly closed, one after another on each slot), ``ws_broadcast``
(one message in flight to every subscriber), ``ws_article`` (a fixed job: connections x
messages, a few connections at a time, set-up inside the timing) and ``http``.
"""

from __future__ import annotations

import array
import asyncio
import base64
import collections
import json
import math
import sys
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

CONNECT_TIMEOUT = 10.0  # for all connections of a generator; spec["connect_timeout_s"] overrides
REPLY_TIMEOUT = 10.0  # in-flight replies must arrive this long after a window ends
PAYLOAD_VARIANTS = 16  # distinct payloads in rotation, so a stale or crossed echo is caught


class LoadError(RuntimeError):
    pass


@dataclass
class Window:
    """Counts for one measurement window, shared by all connections of a generator."""

    running: bool = False
    ops: int = 0
    bytes: int = 0  # response bytes on the wire (HTTP): head and body
    latencies: array.array = field(default_factory=lambda: array.array("f"))
    busy: int = 0
    last_reply: float = 0.0
    done: asyncio.Future | None = None
    error: str | None = None
    deflate_connections: int = 0  # connections opened in the window that negotiated deflate

    def reply(self, sent_at: float, record_latency: bool = True) -> bool:
        """Count one verified reply; True if the connection should send again."""
        now = time.perf_counter()
        self.ops += 1
        if record_latency:
            self.latencies.append((now - sent_at) * 1e6)
        self.last_reply = now
        if self.running:
            return True
        self.finish_one()
        return False

    def finish_one(self) -> None:
        """One connection (or slot, or job) has nothing more in flight."""
        self.busy -= 1
        if self.busy == 0 and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def fail(self, message: str) -> None:
        if self.error is None:
            self.error = message
        if self.done is not None and not self.done.done():
            self.done.set_exception(LoadError(message))


def payload_variants(size: int, binary: bool, payload: str = "filler") -> list[bytes]:
    """PAYLOAD_VARIANTS distinct payloads of exactly ``size`` bytes (ASCII for text).

    ``payload="json"`` makes each one a JSON document (padded with spaces), as
    compressible as a real API message; otherwise a repeating filler.
    """
    if payload == "json":
        return [json_document(i, size) for i in range(PAYLOAD_VARIANTS)]
    variants = []
    for i in range(PAYLOAD_VARIANTS):
        prefix = b"%x:" % i
        filler = bytes(range(256)) if binary else b"abcdefghijklmnopqrstuvwxyz0123456789"
        body = (prefix + filler * (size // len(filler) + 1))[:size]
        variants.append(body)
    return variants


def json_document(variant: int, size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes: records up to the size, then spaces."""
    items: list[dict] = []
    text = json.dumps({"variant": variant, "items": items}).encode()
    while True:
        n = len(items)
        items.append({"id": n, "name": f"item-{variant}-{n}", "tags": ["alpha", "beta"], "price": n * 1.25})
        longer = json.dumps({"variant": variant, "items": items}).encode()
        if len(longer) > size:
            break
        text = longer
    if len(text) > size:
        raise LoadError(f"a JSON payload needs at least {len(text)} bytes, asked for {size}")
    return text + b" " * (size - len(text))


# What the websockets client (the article's client) offers by default.
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class Deflate:
    """permessage-deflate (RFC 7692) for one client connection, as the server accepted it."""

    def __init__(self, params: dict[str, str | None]) -> None:
        self.reset_compressor = "client_no_context_takeover" in params
        # zlib cannot make 8-bit raw deflate windows; no server here asks for one.
        self.client_bits = max(9, int(params.get("client_max_window_bits") or 15))
        self.compressor = self.new_compressor()
        self.decompressor = zlib.decompressobj(-15)  # extra history never hurts decompression

    def new_compressor(self):
        return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self.client_bits, 5)

    def compress(self, data: bytes) -> bytes:
        if self.reset_compressor:
            self.compressor = self.new_compressor()
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        return out[: -len(DEFLATE_TAIL)] if out.endswith(DEFLATE_TAIL) else out

    def decompress(self, data: bytes) -> bytes:
        return self.decompressor.decompress(data + DEFLATE_TAIL)

    @staticmethod
    def negotiated(transport: WSTransport) -> Deflate | None:
        """The extension the server accepted in its handshake response, if it did."""
        header = transport.response.headers.get("sec-websocket-extensions") or ""
        for extension in header.split(","):
            name, *params = (part.strip() for part in extension.split(";"))
            if name == "permessage-deflate":
                return Deflate(dict((p.split("=", 1) + [None])[:2] for p in params))
        return None


class EchoClient(WSListener):
    """One WebSocket connection echoing PAYLOAD_VARIANTS in rotation.

    Steady state: each verified reply counts in the window and the next message goes out
    while the window runs. With ``messages`` set, the connection instead sends exactly
    that many, counting each, then sets ``finished`` (the article's job).
    """

    def __init__(
        self,
        window_ref: list[Window],
        payloads: list[bytes],
        msg_type: WSMsgType,
        fragment_size: int = 0,
        offer_deflate: bool = False,
        messages: int | None = None,
    ) -> None:
        self.window_ref = window_ref
        self.payloads = payloads
        self.msg_type = msg_type
        self.fragment_size = fragment_size
        self.offer_deflate = offer_deflate
        self.messages_left = messages
        self.finished: asyncio.Future | None = None
        self.deflate: Deflate | None = None
        self.index = 0
        self.sent_at = 0.0
        self.fragments: list[bytes] = []
        self.compressed = False
        self.closing = False
        self.close_code: int | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if self.offer_deflate:
            self.deflate = Deflate.negotiated(transport)

    def send(self) -> None:
        self.index = (self.index + 1) % PAYLOAD_VARIANTS
        payload = self.payloads[self.index]
        self.sent_at = time.perf_counter()
        if self.deflate:
            self.transport.send(self.msg_type, self.deflate.compress(payload), rsv1=True)
        elif self.fragment_size:
            kind, step = self.msg_type, self.fragment_size
            for offset in range(0, len(payload), step):
                self.transport.send(kind, payload[offset : offset + step], fin=offset + step >= len(payload))
                kind = WSMsgType.CONTINUATION
        else:
            self.transport.send(self.msg_type, payload)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        window = self.window_ref[0]
        kind = frame.msg_type
        if kind == WSMsgType.CLOSE:
            if self.closing:  # the server's answer to our close: the handshake completed
                self.close_code = int(frame.get_close_code())
                transport.disconnect()
            else:
                window.fail(f"server closed the WebSocket (code {int(frame.get_close_code())})")
            return
        if kind in (WSMsgType.PING, WSMsgType.PONG):
            return
        if kind != WSMsgType.CONTINUATION:
            if kind != self.msg_type:
                window.fail(f"echo came back as {kind.name}, sent {self.msg_type.name}")
                return
            self.compressed = frame.rsv1
        if not frame.fin or self.fragments:
            self.fragments.append(frame.get_payload_as_bytes())
            if not frame.fin:
                return
            payload, self.fragments = b"".join(self.fragments), []
        else:
            payload = frame.get_payload_as_bytes()
        if self.compressed:
            if self.deflate is None:
                window.fail("compressed message on a connection without permessage-deflate")
                return
            payload = self.deflate.decompress(payload)
        if payload != self.payloads[self.index]:
            window.fail(
                f"wrong echo: sent {len(self.payloads[self.index])} bytes, got {len(payload)} "
                f"bytes starting {payload[:16]!r}"
            )
            return
        if self.messages_left is not None:
            window.ops += 1
            window.latencies.append((time.perf_counter() - self.sent_at) * 1e6)
            self.messages_left -= 1
            if self.messages_left:
                self.send()
            elif self.finished is not None and not self.finished.done():
                self.finished.set_result(None)
        elif window.reply(self.sent_at):
            self.send()

    def close(self) -> None:
        self.closing = True
        self.transport.disconnect()

    def close_cleanly(self) -> None:
        """Start the closing handshake; on_ws_frame completes it."""
        self.closing = True
        self.transport.send_close(WSCloseCode.OK)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closing:
            self.window_ref[0].fail("server dropped a WebSocket connection")
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)


async def close_cleanly(client: EchoClient) -> None:
    """Close a connection as a well-behaved client does and check the server's answer."""
    client.close_cleanly()
    await asyncio.wait_for(client.transport.wait_disconnected(), REPLY_TIMEOUT)
    if client.close_code != WSCloseCode.OK:
        answer = "no close frame" if client.close_code is None else f"close code {client.close_code}"
        raise LoadError(f"closing handshake: sent 1000, the server answered with {answer}")


class HandshakeSlot:
    """Opens a WebSocket connection, closes it cleanly, and again, while the window runs."""

    def __init__(self, window_ref: list[Window], url: str) -> None:
        self.window_ref = window_ref
        self.url = url
        self.task: asyncio.Task | None = None

    def send(self) -> None:
        self.task = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        window = self.window_ref[0]
        try:
            while window.error is None:
                started = time.perf_counter()
                _, client = await ws_connect(lambda: EchoClient(self.window_ref, [], WSMsgType.TEXT), self.url)
                await close_cleanly(client)
                if not window.reply(started):
                    return
        except Exception as exc:
            window.fail(f"handshake: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class Subscriber(WSListener):
    def __init__(self, group: BroadcastGroup) -> None:
        self.group = group
        self.last_seen = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self.group.delivered(self, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.group.closing:
            self.group.window_ref[0].fail("server dropped a subscriber's connection")


class BroadcastGroup:
    """Every subscriber of /ws/broadcast; one message in flight to all of them.

    Each delivery's latency is recorded; a broadcast counts once every subscriber has
    verified it exactly once, and then the next one goes out.
    """

    def __init__(self, window_ref: list[Window], size: int) -> None:
        self.window_ref = window_ref
        self.size = size
        self.subscribers: list[Subscriber] = []
        self.sequence = 0
        self.payload = b""
        self.pending = 0
        self.sent_at = 0.0
        self.closing = False

    def send(self) -> None:
        self.sequence += 1
        self.payload = (b"%d:" % self.sequence + b"broadcast" * (self.size // 9 + 1))[: max(self.size, 12)]
        self.pending = len(self.subscribers)
        self.sent_at = time.perf_counter()
        # One publisher (itself subscribed). Rotating the publisher made every server on the
        # asyncio loop, the baseline included, take ~20 ms per broadcast (not on uvloop).
        sender = self.subscribers[0]
        sender.transport.send(WSMsgType.TEXT, self.payload)

    def delivered(self, subscriber: Subscriber, frame: WSFrame) -> None:
        window = self.window_ref[0]
        kind = frame.msg_type
        if kind in (WSMsgType.PING, WSMsgType.PONG):
            return
        payload = frame.get_payload_as_bytes()
        if kind != WSMsgType.TEXT or not frame.fin or payload != self.payload:
            window.fail(f"wrong broadcast: got {kind.name} {payload[:24]!r}, expected {self.payload[:24]!r}")
            return
        if subscriber.last_seen == self.sequence:
            window.fail(f"a subscriber got broadcast {self.sequence} twice")
            return
        subscriber.last_seen = self.sequence
        window.latencies.append((time.perf_counter() - self.sent_at) * 1e6)
        self.pending -= 1
        if self.pending == 0 and window.reply(self.sent_at, record_latency=False):
            self.send()

    def close(self) -> None:
        self.closing = True
        for subscriber in self.subscribers:
            subscriber.transport.disconnect()


class ArticleJob:
    """The article's client: ``total`` connections, each sending ``messages`` echoes one at
    a time and closing cleanly, at most ``concurrency`` connections open at once, connection
    set-up inside the timing. One job per window, whatever the window's length."""

    def __init__(self, window_ref: list[Window], spec: dict) -> None:
        self.window_ref = window_ref
        self.spec = spec
        self.payloads = [spec["message"].encode()] * PAYLOAD_VARIANTS
        self.remaining = 0

    def send(self) -> None:
        self.remaining = self.spec["total_connections"]
        asyncio.ensure_future(self.run())

    async def run(self) -> None:
        window = self.window_ref[0]
        try:
            await asyncio.gather(*(self.slot() for _ in range(self.spec["concurrency"])))
            if not window.running:
                raise LoadError("the job did not finish within its time bound")
            window.last_reply = time.perf_counter()
            window.finish_one()
        except Exception as exc:
            window.fail(f"{type(exc).__name__}: {exc}")

    async def slot(self) -> None:
        window = self.window_ref[0]
        while self.remaining > 0 and window.error is None:
            self.remaining -= 1
            _, client = await ws_connect(
                lambda: EchoClient(
                    self.window_ref,
                    self.payloads,
                    WSMsgType.TEXT,
                    offer_deflate=self.spec.get("compression") == "offer",
                    messages=self.spec["messages"],
                ),
                self.spec["url"],
                extra_headers=deflate_headers(self.spec),
            )
            window.deflate_connections += client.deflate is not None
            client.finished = asyncio.get_running_loop().create_future()
            client.send()
            await client.finished
            if window.error is None:
                await close_cleanly(client)

    def close(self) -> None:
        pass


def deflate_headers(spec: dict) -> dict | None:
    return {"Sec-WebSocket-Extensions": DEFLATE_OFFER} if spec.get("compression") in ("offer", "require") else None


class HttpClient(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending the same request again and again."""

    def __init__(self, window_ref: list[Window], request: bytes, expect: dict) -> None:
        self.window_ref = window_ref
        self.request = request
        self.status = b"HTTP/1.1 %d " % expect.get("status", 200)
        self.content_type = expect["content_type"].encode()
        self.body = expect["body"].encode("latin-1")
        self.etag = expect["etag"].encode() if "etag" in expect else None
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.closing = False
        self.on_free = self.send  # after a verified reply: closed loop sends again at once

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def send(self, intended_at: float | None = None) -> None:
        """Send the request; its latency counts from ``intended_at`` when given (open loop)."""
        self.sent_at = time.perf_counter() if intended_at is None else intended_at
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        window = self.window_ref[0]
        head = bytes(self.buffer[:end]).split(b"\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if head[0].startswith(b"HTTP/1.1 304 "):
            length = 0  # a 304 never has a body, whatever its headers say
        elif b"content-length" in headers:
            length = int(headers[b"content-length"])
        else:
            window.fail(f"response without Content-Length (chunked?): {head[0]!r}")
            return
        if length != len(self.body):
            # Every expected answer has a known size: refuse a wrong one before buffering its body.
            status = head[0].decode(errors="replace")
            window.fail(f"status {status!r} announcing a {length}-byte body, expected {len(self.body)} bytes")
            self.buffer.clear()
            self.close()
            return
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        window.bytes += total
        if not head[0].startswith(self.status):
            window.fail(f"status {head[0].decode(errors='replace')!r}, body {body[:80]!r}")
        elif not headers.get(b"content-type", b"").startswith(self.content_type):
            window.fail(f"content type {headers.get(b'content-type')!r}, expected {self.content_type!r}")
        elif body != self.body:
            window.fail(f"wrong body: {len(body)} bytes starting {body[:40]!r}, expected {len(self.body)}")
        elif self.etag is not None and headers.get(b"etag") != self.etag:
            window.fail(f"ETag {headers.get(b'etag')!r}, expected {self.etag!r}")
        elif window.reply(self.sent_at):
            self.on_free()

    def close(self) -> None:
        self.closing = True
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.window_ref[0].fail(f"server closed an HTTP connection ({exc or 'EOF'})")


async def connect(spec: dict, window_ref: list[Window]) -> list:
    """Open spec['connections'] connections, a few at a time, and return their clients
    (for ws_handshake and ws_article: the slots or the job that will open them)."""
    loop = asyncio.get_running_loop()
    url = urlsplit(spec["url"])
    limit = asyncio.Semaphore(64)
    timeout = spec.get("connect_timeout_s", CONNECT_TIMEOUT)
    if spec["kind"] == "ws_handshake":
        return [HandshakeSlot(window_ref, spec["url"]) for _ in range(spec["connections"])]
    if spec["kind"] == "ws_article":
        return [ArticleJob(window_ref, spec)]
    if spec["kind"] == "ws_broadcast":
        group = BroadcastGroup(window_ref, spec["size"])

        async def subscribe() -> Subscriber:
            async with limit:
                _, subscriber = await ws_connect(lambda: Subscriber(group), spec["url"])
                return subscriber

        subscribers = asyncio.gather(*(subscribe() for _ in range(spec["connections"])))
        group.subscribers = await asyncio.wait_for(subscribers, timeout)
        # A server registers a subscriber just after its handshake answer; let the last
        # ones land before the first broadcast, which would otherwise miss them.
        await asyncio.sleep(0.2)
        return [group]
    if spec["kind"] == "ws_echo":
        msg_type = WSMsgType.BINARY if spec.get("binary") else WSMsgType.TEXT
        payloads = payload_variants(spec["size"], spec.get("binary", False), spec.get("payload", "filler"))
        compression = spec.get("compression", "off")

        async def one() -> EchoClient:
            async with limit:
                _, client = await ws_connect(
                    lambda: EchoClient(
                        window_ref, payloads, msg_type, spec.get("fragment_size", 0), compression != "off"
                    ),
                    spec["url"],
                    max_frame_size=spec["size"] + 1024,
                    extra_headers=deflate_headers(spec),
                )
                if compression == "require" and client.deflate is None:
                    raise LoadError("the server did not accept permessage-deflate")
                return client
    elif spec["kind"] == "http":
        body = spec.get("body", "").encode("latin-1")
        request = (
            f"{spec['method']} {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in spec.get("headers", {}).items())
            + (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else "")
            + "\r\n"
        ).encode() + body
        expect = spec["expect"]

        async def one() -> HttpClient:
            async with limit:
                _, client = await loop.create_connection(
                    lambda: HttpClient(window_ref, request, expect),
                    url.hostname,
                    url.port,
                )
                return client
    else:
        raise LoadError(f"unknown load kind {spec['kind']!r}")
    return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(spec["connections"]))), timeout)


async def run_window(clients: list, window_ref: list[Window], seconds: float) -> dict:
    """Drive every connection for ``seconds``; count and time only verified replies."""
    loop = asyncio.get_running_loop()
    window = window_ref[0] = Window(running=True, busy=len(clients), done=loop.create_future())
    cpu0 = time.process_time()
    start = time.perf_counter()
    for client in clients:
        client.send()
    stop = loop.call_later(seconds, setattr, window, "running", False)
    try:
        await asyncio.wait_for(asyncio.shield(window.done), seconds + REPLY_TIMEOUT)
    except asyncio.TimeoutError:
        stop.cancel()
        raise LoadError(
            f"{window.busy} of {len(clients)} connections still waiting for a reply "
            f"{REPLY_TIMEOUT:g}s after the window ended: the server hung"
        ) from None
    stop.cancel()  # a fixed job (the article's) may end before its bound
    return window_record(window, start, cpu0)


async def run_burst(clients: list, window_ref: list[Window]) -> dict:
    """Every connection sends one request at the same moment; wait for all the replies."""
    window = window_ref[0] = Window(running=False, busy=len(clients), done=asyncio.get_running_loop().create_future())
    cpu0 = time.process_time()
    start = time.perf_counter()
    for client in clients:
        client.send()
    try:
        await asyncio.wait_for(asyncio.shield(window.done), REPLY_TIMEOUT)
    except asyncio.TimeoutError:
        raise LoadError(
            f"{window.busy} of {len(clients)} connections still waiting for a reply to a burst "
            f"after {REPLY_TIMEOUT:g}s: the server hung"
        ) from None
    return window_record(window, start, cpu0)


def window_record(window: Window, start: float, cpu0: float) -> dict:
    if window.error:
        raise LoadError(window.error)
    return {
        "ops": window.ops,
        "bytes": window.bytes,
        "seconds": window.last_reply - start,
        "client_cpu_s": time.process_time() - cpu0,
        "latencies_us": base64.b64encode(window.latencies.tobytes()).decode(),
        "deflate_connections": window.deflate_connections,
    }


class OpenLoopSchedule:
    """Request i is due at ``start + i / rate``, whatever happened to the requests before it.

    Intended times depend only on the rate and the start, never on when replies came back:
    that is what makes the latency figures free of coordinated omission.
    """

    def __init__(self, rate: float, start: float, total: int) -> None:
        if rate <= 0 or total < 0:
            raise ValueError(f"an open-loop schedule needs a positive rate and a count, got {rate}, {total}")
        self.rate = rate
        self.start = start
        self.total = total
        self.next_index = 0

    def intended(self, i: int) -> float:
        return self.start + i / self.rate

    def take_due(self, now: float) -> list[float]:
        """The intended times of every not yet taken request due by ``now``, in order."""
        due_count = min(self.total, math.floor((now - self.start) * self.rate) + 1) if now >= self.start else 0
        times = [self.intended(i) for i in range(self.next_index, due_count)]
        self.next_index = max(self.next_index, due_count)
        return times

    def finished(self) -> bool:
        return self.next_index >= self.total

    def next_due(self) -> float:
        return self.intended(self.next_index)


SPIN_BEFORE_DUE = 0.002  # timers are coarse (uvloop: 1 ms); poll the loop when this close


async def run_open_window(clients: list, window_ref: list[Window], seconds: float, rate: float) -> dict:
    """Send ``rate * seconds`` requests at fixed intended times on free connections.

    A request due while every connection is busy waits in a queue and still counts its
    latency from its intended time. ``schedule_lag`` is how late the generator itself
    noticed requests were due: its own share of the latency, which must stay small.
    """
    loop = asyncio.get_running_loop()
    window = window_ref[0] = Window(running=True, done=loop.create_future())
    idle = collections.deque(clients)
    backlog: collections.deque[float] = collections.deque()
    lags = array.array("f")
    start = time.perf_counter()
    schedule = OpenLoopSchedule(rate, start, max(1, round(rate * seconds)))
    cpu0 = time.process_time()

    def check_finished() -> None:
        if schedule.finished() and not backlog and len(idle) == len(clients) and not window.done.done():
            window.done.set_result(None)

    def free(client: HttpClient) -> None:
        if backlog:
            client.send(backlog.popleft())
        else:
            idle.append(client)
            check_finished()

    def tick() -> None:
        if window.done.done():
            return
        now = time.perf_counter()
        for intended_at in schedule.take_due(now):
            lags.append((now - intended_at) * 1e6)
            backlog.append(intended_at)
        while backlog and idle:
            idle.popleft().send(backlog.popleft())
        if schedule.finished():
            check_finished()
            return
        wait = schedule.next_due() - time.perf_counter()
        if wait > SPIN_BEFORE_DUE:
            loop.call_later(wait - SPIN_BEFORE_DUE, tick)
        else:
            loop.call_soon(tick)

    for client in clients:
        client.on_free = lambda client=client: free(client)
    try:
        tick()
        try:
            await asyncio.wait_for(asyncio.shield(window.done), seconds + REPLY_TIMEOUT)
        except asyncio.TimeoutError:
            busy = len(clients) - len(idle)
            raise LoadError(
                f"open loop at {rate:.0f}/s: {len(backlog)} requests queued and {busy} in flight "
                f"{REPLY_TIMEOUT:g}s after the window ended: the server cannot keep up with this rate"
            ) from None
    finally:
        for client in clients:
            client.on_free = client.send
    record = window_record(window, start, cpu0)
    record.update(schedule_lag_us=base64.b64encode(lags.tobytes()).decode(), rate=rate)
    return record


def emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def serve_commands(spec: dict) -> None:
    loop = asyncio.get_running_loop()
    window_ref = [Window()]
    started = time.perf_counter()
    clients = await connect(spec, window_ref)
    connect_s = time.perf_counter() - started
    if spec.get("warmup_s", 0) > 0:
        await run_window(clients, window_ref, spec["warmup_s"])
    deflate = sum(1 for c in clients if getattr(c, "deflate", None) is not None)
    emit({"ready": True, "connect_s": connect_s, "connections": len(clients), "deflate_connections": deflate})
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "go" and len(line) == 3:
            if spec["kind"] != "http":
                raise LoadError(f"open loop is for HTTP, not {spec['kind']!r}")
            emit(await run_open_window(clients, window_ref, float(line[1]), float(line[2])))
        elif line[0] == "go":
            emit(await run_window(clients, window_ref, float(line[1])))
        elif line[0] == "burst":
            emit(await run_burst(clients, window_ref))
        elif line[0] == "quit":
            break
    for client in clients:
        client.close()


def main(argv: list[str]) -> int:
    import uvloop

    try:
        if argv[0].startswith("@"):
            with open(argv[0][1:]) as f:
                spec = json.load(f)
        else:
            spec = json.loads(argv[0])
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve_commands(spec))
    except Exception as exc:  # reported to the harness, which fails the benchmark with it
        emit({"error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
