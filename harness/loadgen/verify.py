"""Checking replies, apart from any socket: bytes and frames go in, verified replies or a
ReplyError naming the fault come out (the websockets library's sans-I/O habit).

The generator's protocol classes feed what they receive through these; the tests feed
hand-made bytes, so each fault (wrong status, content type, body, ETag; a body announced at
the wrong size; a reply cut short; a wrong or stale echo) is shown to be caught without a
fake server.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.loadspec import ExpectedReply

# RFC 6455 opcodes, as picows' WSMsgType values compare equal to them.
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {
    CONTINUATION: "CONTINUATION",
    TEXT: "TEXT",
    BINARY: "BINARY",
    CLOSE: "CLOSE",
    PING: "PING",
    PONG: "PONG",
}
HEAD_END = b"\r\n\r\n"
MAX_HEAD_BYTES = 64 * 1024  # every expected reply's head is far smaller


class ReplyError(Exception):
    """A reply that is not the one expected; the message says how it differs."""


class HttpReplies:
    """Splits one connection's byte stream into HTTP/1.1 replies and verifies each against
    the one expected answer.

    A reply announcing a body of any other size than the expected one is refused from its
    head, before its body is awaited or buffered (a 100 MB answer costs nothing).
    """

    def __init__(self, expect: ExpectedReply) -> None:
        self.expect = expect
        self.status = b"HTTP/1.1 %d " % expect.status
        self.content_type = expect.content_type.encode()
        self.etag = expect.etag.encode() if expect.etag is not None else None
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[int]:
        """The wire sizes (head and body) of the replies completed by ``data``, each verified."""
        self.buffer += data
        sizes = []
        while self.buffer and (size := self._next_reply()) is not None:  # no search of an empty buffer
            sizes.append(size)
        return sizes

    def feed_eof(self) -> None:
        """The server closed the connection: a reply it left unfinished is an error."""
        if self.buffer:
            raise ReplyError(f"connection closed {len(self.buffer)} bytes into a reply: {bytes(self.buffer[:60])!r}")

    def _next_reply(self) -> int | None:
        end = self.buffer.find(HEAD_END)
        if end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise ReplyError(f"no end of the response head in {len(self.buffer)} bytes")
            return None
        status_line, *header_lines = bytes(self.buffer[:end]).split(b"\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = self._body_length(status_line, headers)
        total = end + len(HEAD_END) + length
        if len(self.buffer) < total:
            return None
        body = bytes(self.buffer[end + len(HEAD_END) : total])
        del self.buffer[:total]
        self.check(status_line, headers, body)
        return total

    def _body_length(self, status_line: bytes, headers: dict[bytes, bytes]) -> int:
        if status_line.startswith(b"HTTP/1.1 304 "):
            return 0  # a 304 never has a body, whatever its headers say
        if b"content-length" not in headers:
            raise ReplyError(f"response without Content-Length (chunked?): {status_line!r}")
        try:
            length = int(headers[b"content-length"])
        except ValueError:
            raise ReplyError(f"unreadable Content-Length {headers[b'content-length']!r}") from None
        if length != len(self.expect.body):
            status = status_line.decode(errors="replace")
            raise ReplyError(
                f"status {status!r} announcing a {length}-byte body, expected {len(self.expect.body)} bytes"
            )
        return length

    def check(self, status_line: bytes, headers: dict[bytes, bytes], body: bytes) -> None:
        """Raise ReplyError unless the reply is exactly the expected one."""
        if not status_line.startswith(self.status):
            raise ReplyError(f"status {status_line.decode(errors='replace')!r}, body {body[:80]!r}")
        if not headers.get(b"content-type", b"").startswith(self.content_type):
            raise ReplyError(f"content type {headers.get(b'content-type')!r}, expected {self.content_type!r}")
        if body != self.expect.body:
            raise ReplyError(f"wrong body: {len(body)} bytes starting {body[:40]!r}, expected {len(self.expect.body)}")
        if self.etag is not None and headers.get(b"etag") != self.etag:
            raise ReplyError(f"ETag {headers.get(b'etag')!r}, expected {self.etag!r}")


class MessageAssembler:
    """One connection's incoming WebSocket data frames as whole messages: fragments joined,
    compressed messages inflated, the message type checked against what was sent."""

    def __init__(self, msg_type: int, inflate: Callable[[bytes], bytes] | None = None) -> None:
        self.msg_type = msg_type
        self.inflate = inflate
        self.fragments: list[bytes] = []
        self.compressed = False

    def frame(self, opcode: int, fin: bool, rsv1: bool, payload: bytes) -> bytes | None:
        """The message this data frame completes, or None while fragments are pending."""
        if opcode != CONTINUATION:
            if self.fragments:
                raise ReplyError(f"a new {name(opcode)} message began before the fragmented one ended")
            if opcode != self.msg_type:
                raise ReplyError(f"echo came back as {name(opcode)}, sent {name(self.msg_type)}")
            self.compressed = rsv1
        elif not self.fragments:
            raise ReplyError("a continuation frame with no message to continue")
        if not fin or self.fragments:
            self.fragments.append(payload)
            if not fin:
                return None
            payload, self.fragments = b"".join(self.fragments), []
        if self.compressed:
            if self.inflate is None:
                raise ReplyError("compressed message on a connection without permessage-deflate")
            return self.inflate(payload)
        return payload


def check_echo(sent: bytes, received: bytes) -> None:
    if received != sent:
        raise ReplyError(f"wrong echo: sent {len(sent)} bytes, got {len(received)} bytes starting {received[:16]!r}")


def check_broadcast(opcode: int, fin: bool, payload: bytes, expected: bytes) -> None:
    if opcode != TEXT or not fin or payload != expected:
        raise ReplyError(f"wrong broadcast: got {name(opcode)} {payload[:24]!r}, expected {expected[:24]!r}")


def name(opcode: int) -> str:
    return OPCODE_NAMES.get(int(opcode), f"opcode {int(opcode):#x}")
