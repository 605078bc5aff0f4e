"""The HTTP generator: bare asyncio Protocol connections on uvloop, keep-alive HTTP/1.1,
one request in flight on each, every reply verified by verify.HttpReplies. Over TLS (an
https:// url) uvloop's TLS, the server verified against the run's certificate (tls_client.py)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from harness.loadgen.tls_client import client_context, negotiated, verified
from harness.loadgen.verify import HttpReplies, ReplyError
from harness.loadgen.window import WindowRef
from harness.loadspec import HttpRequests

CONNECT_CONCURRENCY = 64  # connections opened at a time


def encode_request(spec: HttpRequests) -> bytes:
    """The request's exact bytes, sent unchanged on every round trip."""
    url = urlsplit(spec.url)
    head = f"{spec.method} {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in spec.headers)
    if spec.body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(spec.body)}\r\n"
    return (head + "\r\n").encode() + spec.body


class HttpClient(asyncio.Protocol):
    """One keep-alive connection sending the same request again and again."""

    def __init__(self, ref: WindowRef, request: bytes, spec: HttpRequests) -> None:
        self.ref = ref
        self.request = request
        self.replies = HttpReplies(spec.expect)
        self.sent_at = 0.0
        self.closing = False
        self.tls: str | None = None  # what the connection negotiated, over TLS
        self.on_free = self.send  # after a verified reply: closed loop sends again at once

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.tls = negotiated(transport)

    def send(self, intended_at: float | None = None) -> None:
        """Send the request; its latency counts from ``intended_at`` when given (open loop)."""
        self.sent_at = time.perf_counter() if intended_at is None else intended_at
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        window = self.ref.window
        try:
            sizes = self.replies.feed(data)
        except ReplyError as exc:
            window.fail(str(exc))
            self.close()  # refuse the rest of a wrong reply rather than read it
            return
        for size in sizes:
            window.bytes += size
            if window.reply(self.sent_at):
                self.on_free()

    def close(self) -> None:
        self.closing = True
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closing:
            return
        try:
            self.replies.feed_eof()
        except ReplyError as cut_short:
            self.ref.window.fail(f"server closed an HTTP connection: {cut_short}")
            return
        self.ref.window.fail(f"server closed an HTTP connection ({exc or 'EOF'})")


async def connect_http(spec: HttpRequests, ref: WindowRef) -> list[HttpClient]:
    loop = asyncio.get_running_loop()
    url = urlsplit(spec.url)
    request = encode_request(spec)
    # The server's name to verify is the url's host (create_connection's server_hostname default).
    ssl_context = client_context(spec)
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> HttpClient:
        async with limit:
            connecting = loop.create_connection(
                lambda: HttpClient(ref, request, spec), url.hostname, url.port, ssl=ssl_context
            )
            _, client = await verified(connecting, spec.url)
            return client

    return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(spec.connections))), spec.connect_timeout_s)
