"""A deliberately wrong server for the tests of the generators' and clients' error paths.

``python tests/fake_server.py MODE`` prints the contract's ready line and serves until
killed. HTTP modes answer every request one way: ``ok`` (GET gets the small JSON message,
POST its body back), ``slow`` (the same, each reply DELAY_S late), ``status`` (500),
``content_type`` (text/html), ``body`` (a wrong body). WebSocket modes answer on
/ws/echo: ``slow`` (every echo DELAY_S late, as for HTTP), ``wrong`` (the first byte of
every echo flipped), ``die`` (exits abruptly after
DIE_AFTER messages), ``truncate`` (half a frame, then hangs up), ``oversized`` (a frame
announcing 100 MiB). Reply parsing itself is tested byte by byte in test_verify.py; these
prove the wiring end to end.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import sys

from servers import contract
from servers.baseline_server import http_response as response
from servers.baseline_server import ws_frame as frame

MESSAGE = json.dumps(contract.JSON_MESSAGE).encode()
DELAY_S = 0.02
DIE_AFTER = 50
HUGE = 100 * 2**20
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Fake(asyncio.Protocol):
    messages = 0  # across connections, for ``die``

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.buffer = b""
        self.websocket = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer and not self.transport.is_closing():
            if not (self.frame() if self.websocket else self.request()):
                return

    def request(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = self.buffer[:end].split(b"\r\n")[1:]
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines)}
        length = int(headers.get(b"content-length", 0))
        if len(self.buffer) < end + 4 + length:
            return False
        body, self.buffer = self.buffer[end + 4 : end + 4 + length], self.buffer[end + 4 + length :]
        if b"sec-websocket-key" in headers:
            accept = base64.b64encode(hashlib.sha1(headers[b"sec-websocket-key"] + WS_GUID).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.websocket = True
            return True
        replies = {
            "status": response("500 Internal Server Error", "application/json", MESSAGE),
            "content_type": response("200 OK", "text/html; charset=UTF-8", body or MESSAGE),
            "body": response("200 OK", "application/json", MESSAGE.replace(b"!", b"?")),
        }
        reply = replies.get(self.mode, response("200 OK", "application/json", body or MESSAGE))
        if self.mode == "slow":
            asyncio.get_running_loop().call_later(DELAY_S, self.transport.write, reply)
        else:
            self.transport.write(reply)
        return True

    def frame(self) -> bool:
        buf = self.buffer
        if len(buf) < 2:
            return False
        opcode, length, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if length == 126:
            length, offset = int.from_bytes(buf[2:4], "big"), 4
        elif length == 127:
            length, offset = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < offset + 4 + length:
            return False
        mask, data = buf[offset : offset + 4], buf[offset + 4 : offset + 4 + length]
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.buffer = buf[offset + 4 + length :]
        if opcode == 0x8:
            self.transport.write(frame(0x8, payload[:2]))
            self.transport.close()
            return False
        self.message(opcode, payload)
        return True

    def message(self, opcode: int, payload: bytes) -> None:
        Fake.messages += 1
        if self.mode == "die" and Fake.messages > DIE_AFTER:
            os._exit(3)
        if self.mode == "wrong" and payload:
            payload = bytes([payload[0] ^ 1]) + payload[1:]
        if self.mode == "truncate":
            self.transport.write(frame(opcode, payload)[:10])
            self.transport.close()
        elif self.mode == "oversized":
            self.transport.write(bytes([0x80 | opcode, 127]) + struct.pack("!Q", HUGE) + bytes(2**20))
        elif self.mode == "slow":
            asyncio.get_running_loop().call_later(DELAY_S, self.transport.write, frame(opcode, payload))
        else:
            self.transport.write(frame(opcode, payload))


async def main(mode: str) -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    await asyncio.get_running_loop().create_server(lambda: Fake(mode), sock=sock)
    print(contract.ready_line(f"fake-{mode}", sock.getsockname()[1], os.getpid()), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
