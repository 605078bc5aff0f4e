"""A measurement window: the counters every connection of a generator shares, and the
closed-loop window and burst that drive them."""

from __future__ import annotations

import array
import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

from harness.loadspec import WindowResult

REPLY_TIMEOUT_S = 10.0  # in-flight replies must arrive this long after a window ends


class LoadError(RuntimeError):
    """The load could not be applied or a reply was wrong; ends the generator with its message."""


class Driver(Protocol):
    """What a window drives: a connection, a slot of connections, a group or a job."""

    def send(self) -> None: ...

    def close(self) -> None: ...


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


class WindowRef:
    """The current window, replaced at each ``go``; connections hold this, not a window."""

    def __init__(self) -> None:
        self.window = Window()


async def run_window(drivers: list[Driver], ref: WindowRef, seconds: float) -> WindowResult:
    """Drive every connection for ``seconds``; count and time only verified replies."""
    loop = asyncio.get_running_loop()
    window = ref.window = Window(running=True, busy=len(drivers), done=loop.create_future())
    cpu0 = time.process_time()
    start = time.perf_counter()
    for driver in drivers:
        driver.send()
    stop = loop.call_later(seconds, setattr, window, "running", False)
    try:
        await asyncio.wait_for(asyncio.shield(window.done), seconds + REPLY_TIMEOUT_S)
    except asyncio.TimeoutError:
        raise LoadError(
            f"{window.busy} of {len(drivers)} connections still waiting for a reply "
            f"{REPLY_TIMEOUT_S:g}s after the window ended: the server hung"
        ) from None
    finally:
        stop.cancel()  # a fixed job (the article's) may end before its bound
    return window_result(window, start, cpu0)


async def run_burst(drivers: list[Driver], ref: WindowRef) -> WindowResult:
    """Every connection sends one request at the same moment; wait for all the replies."""
    window = ref.window = Window(running=False, busy=len(drivers), done=asyncio.get_running_loop().create_future())
    cpu0 = time.process_time()
    start = time.perf_counter()
    for driver in drivers:
        driver.send()
    try:
        await asyncio.wait_for(asyncio.shield(window.done), REPLY_TIMEOUT_S)
    except asyncio.TimeoutError:
        raise LoadError(
            f"{window.busy} of {len(drivers)} connections still waiting for a reply to a burst "
            f"after {REPLY_TIMEOUT_S:g}s: the server hung"
        ) from None
    return window_result(window, start, cpu0)


def window_result(window: Window, start: float, cpu0: float, **extra: object) -> WindowResult:
    if window.error:
        raise LoadError(window.error)
    return WindowResult(
        ops=window.ops,
        bytes=window.bytes,
        seconds=window.last_reply - start,
        client_cpu_s=time.process_time() - cpu0,
        deflate_connections=window.deflate_connections,
        latencies_us=window.latencies,
        **extra,
    )
