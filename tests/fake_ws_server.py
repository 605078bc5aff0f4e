"""A deliberately broken WebSocket echo server for the error-path tests.

python tests/fake_ws_server.py wrong|die: the baseline server, except that it corrupts
the first byte of every echo (``wrong``) or exits abruptly after 50 messages (``die``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from servers import ServerOptions, baseline_server, contract

MODE = sys.argv[1]
DIE_AFTER = 50


class BrokenProtocol(baseline_server.BaselineProtocol):
    messages = 0

    def on_message(self, opcode: int, message: bytes) -> None:
        BrokenProtocol.messages += 1
        if MODE == "die" and BrokenProtocol.messages > DIE_AFTER:
            os._exit(3)
        if MODE == "wrong" and message:
            message = bytes([message[0] ^ 1]) + message[1:]
        super().on_message(opcode, message)


async def main() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    options = ServerOptions()
    await asyncio.get_running_loop().create_server(lambda: BrokenProtocol(options, set(), set()), sock=sock)
    print(contract.ready_line(f"fake-{MODE}", sock.getsockname()[1], os.getpid()), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
