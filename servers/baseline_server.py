"""The baseline: a plain asyncio Protocol serving the contract's endpoints as thinly as
possible, with no framework. It is the reference point for the load generators' headroom:
a generator that cannot drive this server well past a framework's figure cannot measure
that framework.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import zlib

import servers
from servers import ServerOptions, Stop, contract, json_codec

MAX_HEAD_END = contract.MAX_HEADER_BYTES - 4  # where a head's blank line may start at the latest
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1 = 0x40  # permessage-deflate: the message is compressed (RFC 7692)
DEFLATE_TAIL = b"\x00\x00\xff\xff"
STOP_GRACE_S = 1.0  # for connections to close when the server stops, before they are aborted


def http_response(status: str, content_type: str, body: bytes, extra_headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra_headers}\r\n"
    ).encode() + body


def ws_frame(opcode: int, payload: bytes, flags: int = 0) -> bytes:
    n = len(payload)
    first = 0x80 | flags | opcode
    if n < 126:
        header = bytes((first, n))
    elif n < 1 << 16:
        header = bytes((first, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((first, 127)) + n.to_bytes(8, "big")
    return header + payload


class Deflate:
    """permessage-deflate with the defaults (15-bit windows, contexts kept across messages),
    so the generator's ceiling can be measured on compressed workloads too."""

    def __init__(self) -> None:
        self.compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self.decompressor = zlib.decompressobj(-15)

    def frame(self, opcode: int, message: bytes) -> bytes:
        data = self.compressor.compress(message) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        return ws_frame(opcode, data[: -len(DEFLATE_TAIL)], RSV1)

    def decompress(self, data: bytes) -> bytes:
        return self.decompressor.decompress(data + DEFLATE_TAIL)


def unmask(mask: bytes, data: bytes) -> bytes:
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


class BaselineProtocol(asyncio.Protocol):
    def __init__(
        self, options: ServerOptions, connections: set[BaselineProtocol], subscribers: set[BaselineProtocol]
    ) -> None:
        self.dumps, self.loads = json_codec(options.json_codec)
        self.compression = options.compression
        self.deflate: Deflate | None = None
        self.fragment_compressed = False
        self.fixed_responses = {
            contract.PLAINTEXT.encode(): http_response("200 OK", contract.TEXT_PLAIN, contract.PLAINTEXT_BODY),
            contract.JSON.encode(): http_response(
                "200 OK", contract.APPLICATION_JSON, self.dumps(contract.JSON_MESSAGE)
            ),
            contract.HEALTH.encode(): http_response("200 OK", contract.TEXT_PLAIN, contract.HEALTH_BODY),
        }
        # The cache endpoints as fixed bytes (no backend, no cache): the generator's ceiling.
        document = self.dumps(contract.cache_document())
        for path in (contract.CACHE_MEMORY, contract.CACHE_NONE, contract.CACHE_REDIS):
            self.fixed_responses[path.encode()] = http_response("200 OK", contract.APPLICATION_JSON, document)
        self.etag = contract.etag(document).encode()
        self.etag_full = http_response("200 OK", contract.APPLICATION_JSON, document, f"ETag: {self.etag.decode()}\r\n")
        self.etag_not_modified = b"HTTP/1.1 304 Not Modified\r\nETag: " + self.etag + b"\r\n\r\n"
        self.connections = connections
        self.subscribers = subscribers
        self.buffer = bytearray()
        self.websocket_path: str | None = None
        self.fragments: list[bytes] = []
        self.fragments_size = 0
        self.fragment_opcode = 0
        self.close_sent = False
        self.skip = 0  # bytes of a refused oversized frame still to discard

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.subscribers.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
        self.buffer += data
        handle = self.handle_frame if self.websocket_path else self.handle_request
        while self.buffer and not self.transport.is_closing():
            if not handle():
                return
            handle = self.handle_frame if self.websocket_path else self.handle_request

    # HTTP/1.1 with keep-alive; returns False when more bytes are needed. Headers are
    # parsed only where they matter (a body, an upgrade): the baseline must stay cheap. Bad
    # input is refused (servers/contract.py, "Bad input") off the fixed GETs' path, which
    # gains one comparison, the head's size; a try costs nothing until it catches.
    def handle_request(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or end > MAX_HEAD_END:
            if end > MAX_HEAD_END or len(self.buffer) >= contract.MAX_HEADER_BYTES:
                self.refuse("431 Request Header Fields Too Large", "request header too large")
            return False
        request_line, _, header_block = bytes(self.buffer[:end]).partition(b"\r\n")
        try:
            method, path, _ = request_line.split(b" ", 2)
        except ValueError:
            self.refuse("400 Bad Request", "malformed request line")
            return False
        if method == b"GET" and path in self.fixed_responses:
            del self.buffer[: end + 4]
            self.transport.write(self.fixed_responses[path])
            return True
        headers = {}
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length_field = headers.get(b"content-length", b"0")
        if not length_field.isdigit():  # int() would take a sign, spaces or underscores: no length has them
            self.refuse("400 Bad Request", "invalid Content-Length")
            return False
        length = int(length_field)
        if length > contract.MAX_MESSAGE_BYTES:
            self.refuse("413 Content Too Large", "request body too large")
            return False
        if len(self.buffer) < end + 4 + length:
            return False
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        # Latin-1 decodes any bytes: a path that is not UTF-8 is simply not found.
        self.transport.write(self.respond(method, path.decode("latin-1"), headers, body))
        return True

    def refuse(self, status: str, reason: str) -> None:
        """Answer a request that cannot be served, then close: what follows it cannot be framed."""
        self.transport.write(http_response(status, contract.TEXT_PLAIN, reason.encode(), "Connection: close\r\n"))
        self.transport.close()
        self.buffer.clear()

    def respond(self, method: bytes, path: str, headers: dict[bytes, bytes], body: bytes) -> bytes:
        if method == b"POST" and path == contract.JSON_ECHO:
            try:
                return http_response("200 OK", contract.APPLICATION_JSON, self.dumps(self.loads(body)))
            except servers.JSON_REFUSED as error:
                return http_response("400 Bad Request", contract.TEXT_PLAIN, servers.json_refusal(error).encode())
        if method == b"GET" and path == contract.CACHE_ETAG:
            return self.etag_not_modified if headers.get(b"if-none-match") == self.etag else self.etag_full
        if path in (contract.WS_ECHO, contract.WS_BROADCAST) and b"sec-websocket-key" in headers:
            accept = base64.b64encode(hashlib.sha1(headers[b"sec-websocket-key"] + WS_GUID).digest())
            self.websocket_path = path
            if path == contract.WS_BROADCAST:
                self.subscribers.add(self)
            extension = b""
            if self.compression and b"permessage-deflate" in headers.get(b"sec-websocket-extensions", b""):
                self.deflate = Deflate()
                extension = b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
            return (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n" + extension + b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
        return http_response("404 Not Found", contract.TEXT_PLAIN, b"not found")

    # WebSocket frames from a client (always masked); returns False when more bytes are needed.
    def handle_frame(self) -> bool:
        buf = self.buffer
        if len(buf) < 2:
            return False
        fin, rsv1, opcode, length, offset = buf[0] & 0x80, buf[0] & RSV1, buf[0] & 0x0F, buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return False
            length, offset = int.from_bytes(buf[2:4], "big"), 4
        elif length == 127:
            if len(buf) < 10:
                return False
            length, offset = int.from_bytes(buf[2:10], "big"), 10
        if length > contract.MAX_MESSAGE_BYTES:
            # Refuse it, but read it to the end: closing with unread data would reset the
            # connection before the client sees the close frame.
            self.send_close(contract.CLOSE_MESSAGE_TOO_BIG)
            dropped = min(len(buf), offset + 4 + length)
            self.skip = offset + 4 + length - dropped
            del buf[:dropped]
            return True
        if len(buf) < offset + 4 + length:
            return False
        payload = unmask(bytes(buf[offset : offset + 4]), bytes(buf[offset + 4 : offset + 4 + length]))
        del buf[: offset + 4 + length]
        if opcode == OP_CLOSE:
            self.send_close(int.from_bytes(payload[:2], "big") if payload else 1000)
            self.transport.close()
            return False
        if self.close_sent:
            return True
        if opcode == OP_PING:
            self.transport.write(ws_frame(OP_PONG, payload))
            return True
        if opcode in (OP_TEXT, OP_BINARY):
            self.fragment_opcode, self.fragments, self.fragments_size = opcode, [], 0
            self.fragment_compressed = bool(rsv1)
        self.fragments.append(payload)
        self.fragments_size += length
        if self.fragments_size > contract.MAX_MESSAGE_BYTES:
            self.send_close(contract.CLOSE_MESSAGE_TOO_BIG)
            self.fragments, self.fragments_size = [], 0
            return True
        if fin:
            message = b"".join(self.fragments)
            self.fragments, self.fragments_size = [], 0
            if self.fragment_compressed and self.deflate:
                message = self.deflate.decompress(message)
            self.on_message(self.fragment_opcode, message)
        return True

    def frame(self, opcode: int, message: bytes) -> bytes:
        return self.deflate.frame(opcode, message) if self.deflate else ws_frame(opcode, message)

    def on_message(self, opcode: int, message: bytes) -> None:
        if self.websocket_path == contract.WS_ECHO:
            self.transport.write(self.frame(opcode, message))
        elif opcode == OP_TEXT:
            frame = ws_frame(opcode, message)  # one frame for all, unless compressed
            for subscriber in tuple(self.subscribers):
                subscriber.transport.write(subscriber.frame(opcode, message) if subscriber.deflate else frame)

    def send_close(self, code: int) -> None:
        if not self.close_sent:
            self.close_sent = True
            self.transport.write(ws_frame(OP_CLOSE, code.to_bytes(2, "big")))


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    connections: set[BaselineProtocol] = set()
    subscribers: set[BaselineProtocol] = set()
    # TLS: asyncio's own, the ssl= context of loop.create_server (None: plain TCP).
    server = await asyncio.get_running_loop().create_server(
        lambda: BaselineProtocol(options, connections, subscribers), sock=sock, ssl=servers.server_ssl_context(options)
    )

    async def stop() -> None:
        server.close()
        for connection in tuple(connections):
            connection.transport.close()
        # Over TLS a closed connection waits for the client's close_notify (asyncio's
        # ssl_shutdown_timeout, 30 s), which a client that reads nothing never sends, and
        # wait_closed waits for every connection (from Python 3.12): those left are cut short.
        try:
            await asyncio.wait_for(asyncio.shield(server.wait_closed()), STOP_GRACE_S)
        except asyncio.TimeoutError:
            for connection in tuple(connections):
                connection.transport.abort()
            await server.wait_closed()

    return stop


def serve_workers(sock: socket.socket, options: ServerOptions, workers: int, loop: str) -> None:
    """Several processes (``--workers``): the suite's own server needs a mode, and takes the one
    aiohttp and the websockets library are run in, each process on its own SO_REUSEPORT socket,
    rather than forking after the bind: the kernel hashes connections over the sockets, so the
    reference's share per worker does not depend on which process wakes first to accept, and its
    figures sit beside theirs made the same way."""
    from servers.workers import reuse_port  # not at one worker (servers/workers.py)

    reuse_port(start, sock, options, workers, loop)
