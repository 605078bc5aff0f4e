"""permessage-deflate (RFC 7692) for the generator's WebSocket connections: picows has none
of its own, so the generator compresses with zlib as the websockets client does."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

# What the websockets client (the article's client) offers by default.
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class Deflate:
    """The extension for one client connection, with the parameters the server accepted."""

    def __init__(self, params: Mapping[str, str | None]) -> None:
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
    def negotiated(extensions_header: str) -> Deflate | None:
        """The extension as the server's Sec-WebSocket-Extensions answer accepted it, if it did."""
        for extension in extensions_header.split(","):
            name, *params = (part.strip() for part in extension.split(";"))
            if name == "permessage-deflate":
                return Deflate(dict((p.split("=", 1) + [None])[:2] for p in params))
        return None
