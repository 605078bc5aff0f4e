"""The messages a WebSocket generator sends: distinct, exactly sized, rotated, so a stale or
crossed echo is caught."""

from __future__ import annotations

import json

PAYLOAD_VARIANTS = 16  # distinct payloads in rotation


def payload_variants(size: int, binary: bool, payload: str = "filler") -> list[bytes]:
    """PAYLOAD_VARIANTS distinct payloads of exactly ``size`` bytes (ASCII for text).

    ``payload="json"`` makes each one a JSON document (padded with spaces), as
    compressible as a real API message; otherwise a repeating filler.
    """
    if payload == "json":
        return [json_document(i, size) for i in range(PAYLOAD_VARIANTS)]
    filler = bytes(range(256)) if binary else b"abcdefghijklmnopqrstuvwxyz0123456789"
    return [(b"%x:" % i + filler * (size // len(filler) + 1))[:size] for i in range(PAYLOAD_VARIANTS)]


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
        raise ValueError(f"a JSON payload needs at least {len(text)} bytes, asked for {size}")
    return text + b" " * (size - len(text))
