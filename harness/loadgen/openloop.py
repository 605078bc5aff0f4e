"""Open loop: requests (HTTP) or messages (WebSocket echo) sent at fixed intended times
whatever the server does, and each latency counted from its intended time, so a slow server
cannot hide its own delay (no coordinated omission)."""

from __future__ import annotations

import array
import asyncio
import collections
import math
import time
from collections.abc import Callable
from typing import Protocol

from harness.loadgen.window import REPLY_TIMEOUT_S, LoadError, Window, WindowRef, window_result
from harness.loadspec import WindowResult

SPIN_BEFORE_DUE_S = 0.002  # timers are coarse (uvloop: 1 ms); poll the loop when this close


class OpenLoopDriver(Protocol):
    """A connection with one operation in flight at most (HttpClient, EchoClient): ``send``
    takes the intended time to count latency from, ``on_free`` runs after each verified reply."""

    on_free: Callable[[], None]

    def send(self, intended_at: float | None = None) -> None: ...


class Schedule:
    """Request i is due at ``start + i / rate``, whatever happened to the requests before it.

    Intended times depend only on the rate and the start, never on when replies came back:
    that is what makes the latency figures free of coordinated omission.
    """

    def __init__(self, rate: float, start: float, total: int) -> None:
        if rate <= 0 or total < 0:
            raise ValueError(f"an open-loop schedule needs a positive rate and a count, got {rate}, {total}")
        self.rate = rate
        self.start = start
        self.total = total
        self.next_index = 0

    def intended(self, i: int) -> float:
        return self.start + i / self.rate

    def take_due(self, now: float) -> list[float]:
        """The intended times of every not yet taken request due by ``now``, in order."""
        due_count = min(self.total, math.floor((now - self.start) * self.rate) + 1) if now >= self.start else 0
        times = [self.intended(i) for i in range(self.next_index, due_count)]
        self.next_index = max(self.next_index, due_count)
        return times

    def finished(self) -> bool:
        return self.next_index >= self.total

    def next_due(self) -> float:
        return self.intended(self.next_index)


async def run_open_window(clients: list[OpenLoopDriver], ref: WindowRef, seconds: float, rate: float) -> WindowResult:
    """Send ``rate * seconds`` requests (or messages) at fixed intended times on free connections.

    One due while every connection is busy waits in a queue and still counts its latency
    from its intended time. ``schedule_lag`` is how late the generator itself
    noticed requests were due: its own share of the latency, which must stay small.
    """
    loop = asyncio.get_running_loop()
    window = ref.window = Window(running=True, done=loop.create_future())
    idle = collections.deque(clients)
    backlog: collections.deque[float] = collections.deque()
    lags = array.array("f")
    start = time.perf_counter()
    schedule = Schedule(rate, start, max(1, round(rate * seconds)))
    cpu0 = time.process_time()

    def check_finished() -> None:
        if schedule.finished() and not backlog and len(idle) == len(clients) and not window.done.done():
            window.done.set_result(None)

    def free(client: OpenLoopDriver) -> None:
        if backlog:
            client.send(backlog.popleft())
        else:
            idle.append(client)
            check_finished()

    def tick() -> None:
        if window.done.done():
            return
        now = time.perf_counter()
        for intended_at in schedule.take_due(now):
            lags.append((now - intended_at) * 1e6)
            backlog.append(intended_at)
        while backlog and idle:
            idle.popleft().send(backlog.popleft())
        if schedule.finished():
            check_finished()
            return
        wait = schedule.next_due() - time.perf_counter()
        if wait > SPIN_BEFORE_DUE_S:
            loop.call_later(wait - SPIN_BEFORE_DUE_S, tick)
        else:
            loop.call_soon(tick)

    for client in clients:
        client.on_free = lambda client=client: free(client)
    try:
        tick()
        try:
            await asyncio.wait_for(asyncio.shield(window.done), seconds + REPLY_TIMEOUT_S)
        except asyncio.TimeoutError:
            busy = len(clients) - len(idle)
            raise LoadError(
                f"open loop at {rate:.0f}/s: {len(backlog)} requests queued and {busy} in flight "
                f"{REPLY_TIMEOUT_S:g}s after the window ended: the server cannot keep up with this rate"
            ) from None
    finally:
        for client in clients:
            client.on_free = client.send
    return window_result(window, start, cpu0, schedule_lag_us=lags, rate=rate)
