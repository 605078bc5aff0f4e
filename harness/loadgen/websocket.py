"""The WebSocket generators, on picows: steady echo, handshakes, broadcast fan-out and the
article's fixed job. Frames are checked by verify.py; these classes only move them. Over TLS
(a wss:// url) every connection verifies the server against the run's certificate
(tls_client.py)."""

from __future__ import annotations

import asyncio
import ssl
import time

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from harness.loadgen.deflate import DEFLATE_OFFER, Deflate
from harness.loadgen.payloads import PAYLOAD_VARIANTS, payload_variants
from harness.loadgen.tls_client import client_context, negotiated, session_resumed, verified
from harness.loadgen.verify import MessageAssembler, ReplyError, check_broadcast, check_echo
from harness.loadgen.window import REPLY_TIMEOUT_S, LoadError, WindowRef
from harness.loadspec import WsArticle, WsBroadcast, WsEcho, WsHandshake

CONNECT_CONCURRENCY = 64  # connections opened at a time
CONTROL = (WSMsgType.PING, WSMsgType.PONG)
# A server registers a subscriber just after its handshake answer; let the last ones land
# before the first broadcast, which would otherwise miss them.
SUBSCRIBE_SETTLE_S = 0.2


def deflate_headers(compression: str) -> dict | None:
    return {"Sec-WebSocket-Extensions": DEFLATE_OFFER} if compression in ("offer", "require") else None


class EchoClient(WSListener):
    """One connection echoing PAYLOAD_VARIANTS in rotation.

    Steady state: each verified reply counts in the window and the next message goes out
    while the window runs. With ``messages`` set, the connection instead sends exactly
    that many, counting each, then sets ``finished`` (the article's job).
    """

    def __init__(
        self,
        ref: WindowRef,
        payloads: list[bytes],
        msg_type: WSMsgType,
        fragment_size: int = 0,
        offer_deflate: bool = False,
        messages: int | None = None,
    ) -> None:
        self.ref = ref
        self.payloads = payloads
        self.msg_type = msg_type
        self.fragment_size = fragment_size
        self.offer_deflate = offer_deflate
        self.messages_left = messages
        self.finished: asyncio.Future | None = None
        self.deflate: Deflate | None = None
        self.assembler = MessageAssembler(msg_type)
        self.index = 0
        self.sent_at = 0.0
        self.closing = False
        self.close_code: int | None = None
        self.tls: str | None = None  # what the connection negotiated, over TLS
        self.on_free = self.send  # after a verified echo: closed loop sends again at once

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.tls = negotiated(transport.underlying_transport)
        if self.offer_deflate:
            self.deflate = Deflate.negotiated(transport.response.headers.get("sec-websocket-extensions") or "")
            if self.deflate:
                self.assembler.inflate = self.deflate.decompress

    def send(self, intended_at: float | None = None) -> None:
        """Send the next message; its latency counts from ``intended_at`` when given (open loop)."""
        self.index = (self.index + 1) % PAYLOAD_VARIANTS
        payload = self.payloads[self.index]
        self.sent_at = time.perf_counter() if intended_at is None else intended_at
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
        window = self.ref.window
        kind = frame.msg_type
        if kind == WSMsgType.CLOSE:
            if self.closing:  # the server's answer to our close: the handshake completed
                self.close_code = int(frame.get_close_code())
                transport.disconnect()
            else:
                window.fail(f"server closed the WebSocket (code {int(frame.get_close_code())})")
            return
        if kind in CONTROL:
            return
        try:
            message = self.assembler.frame(kind, frame.fin, frame.rsv1, frame.get_payload_as_bytes())
            if message is None:
                return
            check_echo(self.payloads[self.index], message)
        except ReplyError as exc:
            window.fail(str(exc))
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
            self.on_free()

    def close(self) -> None:
        self.closing = True
        self.transport.disconnect()

    def close_cleanly(self) -> None:
        """Start the closing handshake; on_ws_frame completes it."""
        self.closing = True
        self.transport.send_close(WSCloseCode.OK)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closing:
            self.ref.window.fail("server dropped a WebSocket connection")
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)


async def close_cleanly(client: EchoClient) -> None:
    """Close a connection as a well-behaved client does and check the server's answer."""
    client.close_cleanly()
    await asyncio.wait_for(client.transport.wait_disconnected(), REPLY_TIMEOUT_S)
    if client.close_code != WSCloseCode.OK:
        answer = "no close frame" if client.close_code is None else f"close code {client.close_code}"
        raise LoadError(f"closing handshake: sent 1000, the server answered with {answer}")


async def open_and_close(ref: WindowRef, url: str, ssl_context: ssl.SSLContext | None) -> EchoClient:
    """One handshake operation: TCP connect, over TLS a full TLS handshake (no session is
    ever resumed: checked here), the WebSocket upgrade, and the closing handshake, verified."""
    _, client = await verified(
        ws_connect(lambda: EchoClient(ref, [], WSMsgType.TEXT), url, ssl_context=ssl_context), url
    )
    if ssl_context is not None and session_resumed(client.transport.underlying_transport):
        client.close()
        raise LoadError("a TLS session was resumed: the handshake workload counts full handshakes only")
    await close_cleanly(client)
    return client


class HandshakeSlot:
    """Opens a connection, closes it cleanly, and again, while the window runs. Over TLS each
    operation includes a full TLS handshake (open_and_close)."""

    def __init__(self, ref: WindowRef, url: str, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ref = ref
        self.url = url
        self.ssl_context = ssl_context
        self.task: asyncio.Task | None = None
        self.tls: str | None = None  # set by connect_handshakes' first connection, over TLS

    def send(self) -> None:
        self.task = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        window = self.ref.window
        try:
            while window.error is None:
                started = time.perf_counter()
                await open_and_close(self.ref, self.url, self.ssl_context)
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
            self.group.ref.window.fail("server dropped a subscriber's connection")


class BroadcastGroup:
    """Every subscriber of /ws/broadcast; one message in flight to all of them.

    Each delivery's latency is recorded; a broadcast counts once every subscriber has
    verified it exactly once, and then the next one goes out.
    """

    def __init__(self, ref: WindowRef, size: int) -> None:
        self.ref = ref
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
        self.subscribers[0].transport.send(WSMsgType.TEXT, self.payload)

    def delivered(self, subscriber: Subscriber, frame: WSFrame) -> None:
        window = self.ref.window
        if frame.msg_type in CONTROL:
            return
        try:
            check_broadcast(frame.msg_type, frame.fin, frame.get_payload_as_bytes(), self.payload)
            if subscriber.last_seen == self.sequence:
                raise ReplyError(f"a subscriber got broadcast {self.sequence} twice")
        except ReplyError as exc:
            window.fail(str(exc))
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
    """The article's client: ``total_connections`` connections, each sending ``messages``
    echoes one at a time and closing cleanly, at most ``concurrency`` open at once,
    connection set-up inside the timing. One job per window, whatever the window's length."""

    def __init__(self, ref: WindowRef, spec: WsArticle) -> None:
        self.ref = ref
        self.spec = spec
        self.payloads = [spec.message.encode()] * PAYLOAD_VARIANTS
        self.ssl_context = client_context(spec)
        self.remaining = 0

    def send(self) -> None:
        self.remaining = self.spec.total_connections
        asyncio.ensure_future(self.run())

    async def run(self) -> None:
        window = self.ref.window
        try:
            await asyncio.gather(*(self.slot() for _ in range(self.spec.concurrency)))
            if not window.running:
                raise LoadError("the job did not finish within its time bound")
            window.last_reply = time.perf_counter()
            window.finish_one()
        except Exception as exc:
            window.fail(f"{type(exc).__name__}: {exc}")

    async def slot(self) -> None:
        window = self.ref.window
        while self.remaining > 0 and window.error is None:
            self.remaining -= 1
            _, client = await verified(
                ws_connect(
                    lambda: EchoClient(
                        self.ref,
                        self.payloads,
                        WSMsgType.TEXT,
                        offer_deflate=self.spec.compression == "offer",
                        messages=self.spec.messages,
                    ),
                    self.spec.url,
                    ssl_context=self.ssl_context,
                    extra_headers=deflate_headers(self.spec.compression),
                ),
                self.spec.url,
            )
            window.deflate_connections += client.deflate is not None
            client.finished = asyncio.get_running_loop().create_future()
            client.send()
            await client.finished
            if window.error is None:
                await close_cleanly(client)

    def close(self) -> None:
        pass


async def connect_echo(spec: WsEcho, ref: WindowRef) -> list[EchoClient]:
    msg_type = WSMsgType.BINARY if spec.binary else WSMsgType.TEXT
    payloads = payload_variants(spec.size, spec.binary, spec.payload)
    ssl_context = client_context(spec)
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> EchoClient:
        async with limit:
            _, client = await verified(
                ws_connect(
                    lambda: EchoClient(ref, payloads, msg_type, spec.fragment_size, spec.compression != "off"),
                    spec.url,
                    ssl_context=ssl_context,
                    max_frame_size=spec.size + 1024,
                    extra_headers=deflate_headers(spec.compression),
                ),
                spec.url,
            )
        if spec.compression == "require" and client.deflate is None:
            raise LoadError("the server did not accept permessage-deflate")
        return client

    return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(spec.connections))), spec.connect_timeout_s)


async def connect_handshakes(spec: WsHandshake, ref: WindowRef) -> list[HandshakeSlot]:
    """The slots; over TLS, after one handshake outside any window, which verifies the
    server's certificate before the first window and tells what TLS negotiated (Ready.tls)."""
    ssl_context = client_context(spec)
    slots = [HandshakeSlot(ref, spec.url, ssl_context) for _ in range(spec.connections)]
    if ssl_context is not None:
        probe = await asyncio.wait_for(open_and_close(ref, spec.url, ssl_context), spec.connect_timeout_s)
        slots[0].tls = probe.tls
    return slots


async def connect_broadcast(spec: WsBroadcast, ref: WindowRef) -> list[BroadcastGroup]:
    group = BroadcastGroup(ref, spec.size)
    ssl_context = client_context(spec)
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def subscribe() -> Subscriber:
        async with limit:
            _, subscriber = await verified(
                ws_connect(lambda: Subscriber(group), spec.url, ssl_context=ssl_context), spec.url
            )
            return subscriber

    subscribers = asyncio.gather(*(subscribe() for _ in range(spec.connections)))
    group.subscribers = await asyncio.wait_for(subscribers, spec.connect_timeout_s)
    await asyncio.sleep(SUBSCRIBE_SETTLE_S)
    return [group]


async def connect_article(spec: WsArticle, ref: WindowRef) -> list[ArticleJob]:
    return [ArticleJob(ref, spec)]
