"""Whether a server is idle: its main thread blocked in the event loop's epoll wait, and any
other thread blocked too.

A replay sends its next operation only once the server has finished everything the last one
set off (a handler returning, keep-alive bookkeeping, a socket closed). Without this, the next
request would arrive while the server, fifty times slower under valgrind, is still busy
with the last, and where it gets picked up would depend on timing: aiohttp's GET /json cost
moved by 1.5 % between identical runs that way. /proc/<pid>/syscall names the system call a
thread is blocked in and its arguments, for the price of one read.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

# The event loop's waits (asyncio's selector: epoll_wait; libuv, under uvloop: epoll_pwait),
# by architecture; in both, the fourth field of /proc/<pid>/syscall is the timeout.
EPOLL_WAITS = {"x86_64": {232, 281}, "aarch64": {22}}
POLL_S = 0.0002
QUIET_TIMEOUT_S = 30.0


class NeverQuiet(RuntimeError):
    """The server did not come back to its event loop's wait in time (busy, hung or dead)."""


def waiting(pid: int) -> bool:
    """Whether ``pid``'s main thread is blocked in an epoll wait that may sleep (a zero
    timeout is a poll between callbacks, not idleness)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
    except (FileNotFoundError, ProcessLookupError):
        raise NeverQuiet(f"the server (pid {pid}) has exited") from None
    if state in (b"Z", b"X"):  # exited, not yet reaped by the harness
        raise NeverQuiet(f"the server (pid {pid}) has exited")
    if not fields or not fields[0].isdigit():
        return False  # "running"
    if int(fields[0]) not in EPOLL_WAITS.get(platform.machine(), ()) or int(fields[4], 16) == 0:
        return False
    return others_blocked(pid)


def others_blocked(pid: int) -> bool:
    """Whether every other thread of ``pid`` is blocked in a system call. A server that does its
    I/O on threads of its own (granian's Rust runtime) may still be writing a reply while its
    Python thread already waits: its instructions would then depend on timing."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        raise NeverQuiet(f"the server (pid {pid}) has exited") from None
    for task in tasks:
        if task.name == str(pid):
            continue
        try:
            fields = (task / "syscall").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread has exited
        if not fields or not fields[0].isdigit():
            return False
    return True


def unsupported() -> str | None:
    if platform.machine() not in EPOLL_WAITS:
        return f"no epoll system call numbers known for {platform.machine()} (harness/cost/quiet.py)"
    return None


def wait_quiet(pid: int, timeout: float = QUIET_TIMEOUT_S) -> None:
    """Return once ``pid`` waits for events; NeverQuiet after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not waiting(pid):
        if time.monotonic() > deadline:
            raise NeverQuiet(f"the server (pid {pid}) did not return to its event loop within {timeout:g}s")
        time.sleep(POLL_S)
