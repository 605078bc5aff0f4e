"""The slow backend behind every cache endpoint (servers/contract.py): an awaited delay of
a stated length, standing for a database round trip, that counts how often it ran."""

from __future__ import annotations

import asyncio

from servers import contract


class Backend:
    def __init__(self, delay_ms: float) -> None:
        self.delay_s = delay_ms / 1000
        self.calls = 0
        self.version = 0

    async def load(self) -> dict:
        self.calls += 1  # counted on entry: a stampede shows as many calls in flight at once
        await asyncio.sleep(self.delay_s)
        return contract.cache_document(self.version)

    def bump(self) -> None:
        self.version += 1

    def stats(self) -> dict:
        return {"backend_calls": self.calls}
