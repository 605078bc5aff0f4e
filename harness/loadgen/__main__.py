"""The generator process's command loop (see the package docstring for the protocol)."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from harness.loadgen.openloop import run_open_window
from harness.loadgen.window import Driver, LoadError, WindowRef, run_burst, run_window
from harness.loadspec import LoadSpec, Ready, error_line, load_spec_from_json

# How each kind of load opens its connections (or the slots, group or job that will): module
# and function, imported for the kind at hand only (an HTTP generator needs no picows). A
# generator starts per framework and workload, hundreds of times in a default run: its
# imports are most of its start.
CONNECTORS: dict[str, tuple[str, str]] = {
    "ws_echo": ("harness.loadgen.websocket", "connect_echo"),
    "ws_handshake": ("harness.loadgen.websocket", "connect_handshakes"),
    "ws_broadcast": ("harness.loadgen.websocket", "connect_broadcast"),
    "ws_article": ("harness.loadgen.websocket", "connect_article"),
    "http": ("harness.loadgen.http", "connect_http"),
}
T = TypeVar("T")
OPEN_LOOP_KINDS = {"http", "ws_echo"}  # one operation in flight per connection


def connector(kind: str) -> Callable[[LoadSpec, WindowRef], Awaitable[list[Driver]]]:
    module, function = CONNECTORS[kind]
    return getattr(importlib.import_module(module), function)


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# A generator waits for its next command at most this long: a harness that vanished without
# closing the pipe (a host cut off mid-run, with no keepalive to tell) cannot leave it behind.
# Between two windows it waits for the other frameworks' windows of a round: seconds.
IDLE_TIMEOUT_S = 600.0
SPEC_LINE_LIMIT = 1 << 26  # the spec line: a 1 MB POST body, hex in JSON, is 2 MB
EXIT_ORPHANED = 3


class Commands:
    """The harness's command lines on stdin, read all the time, so that the end of stdin is
    seen at once, also in the middle of a window: the harness has gone (it died, or the SSH
    session that carried the pipe to another host ended), and so does this process, at once."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.lines: asyncio.Queue[list[str] | None] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while line := await self.reader.readline():
            self.lines.put_nowait(line.decode().split())
        self.lines.put_nowait(None)

    async def next(self) -> list[str] | None:
        """The next command, or None when stdin has ended (after ``quit``, or with the harness)."""
        try:
            return await asyncio.wait_for(self.lines.get(), IDLE_TIMEOUT_S)
        except TimeoutError:
            raise LoadError(f"no command from the harness in {IDLE_TIMEOUT_S:g} s") from None

    async def unless_orphaned(self, work: Awaitable[T]) -> T:
        """``work``'s result; if stdin ends first, exit the process (nobody is left to answer)."""
        job = asyncio.ensure_future(work)
        await asyncio.wait({job, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not job.done():
            os._exit(EXIT_ORPHANED)
        return job.result()


async def open_stdin(already_read: bytes = b"") -> asyncio.StreamReader:
    """stdin as a stream, starting with what read_first_line read beyond the spec."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=SPEC_LINE_LIMIT)
    reader.feed_data(already_read)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def serve_commands(spec: LoadSpec, reader: asyncio.StreamReader) -> None:
    commands = Commands(reader)
    ref = WindowRef()
    started = time.perf_counter()
    drivers = await commands.unless_orphaned(connector(spec.kind)(spec, ref))
    connect_s = time.perf_counter() - started
    if spec.warmup_s > 0:
        await commands.unless_orphaned(run_window(drivers, ref, spec.warmup_s))
    deflate = sum(1 for driver in drivers if getattr(driver, "deflate", None) is not None)
    # Every connection of a run negotiates alike with one server: the first one says what.
    tls = next((driver.tls for driver in drivers if getattr(driver, "tls", None)), None)
    emit(Ready(connect_s=connect_s, connections=len(drivers), deflate_connections=deflate, tls=tls).to_json())
    while command := await commands.next():
        if command[0] == "go" and len(command) == 3:
            if spec.kind not in OPEN_LOOP_KINDS:
                raise LoadError(f"open loop is for {' and '.join(sorted(OPEN_LOOP_KINDS))}, not {spec.kind!r}")
            work = run_open_window(drivers, ref, float(command[1]), float(command[2]))
        elif command[0] == "go":
            work = run_window(drivers, ref, float(command[1]))
        elif command[0] == "burst":
            work = run_burst(drivers, ref)
        elif command[0] == "quit":
            break
        else:
            raise LoadError(f"unknown command {' '.join(command)!r}")
        emit((await commands.unless_orphaned(work)).to_json())
    for driver in drivers:
        driver.close()


def read_spec(argument: str) -> tuple[LoadSpec, bytes]:
    """The spec, from ``-`` (the first line of stdin: what the harness sends), ``@file`` or
    JSON, and what was read of stdin beyond it (commands sent early)."""
    if argument == "-":
        line, rest = read_first_line()
        return load_spec_from_json(line), rest
    if argument.startswith("@"):
        with open(argument[1:]) as f:
            return load_spec_from_json(f.read()), b""
    return load_spec_from_json(argument), b""


def read_first_line() -> tuple[str, bytes]:
    """The first line of stdin, and whatever the same reads brought beyond it."""
    chunks: list[bytes] = []
    while not chunks or b"\n" not in chunks[-1]:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            raise LoadError("stdin ended before the spec line")
        chunks.append(chunk)
    line, _, rest = b"".join(chunks).partition(b"\n")
    return line.decode(), rest


def main(argv: list[str]) -> int:
    """``python -m harness.loadgen SPEC [CPU]``: SPEC ``-`` (stdin's first line), @file or
    JSON; pinned to CPU if given."""
    import uvloop

    try:
        spec, early_commands = read_spec(argv[0])
        importlib.import_module(CONNECTORS[spec.kind][0])
        if len(argv) > 1:  # imports done on whichever core was free; the load runs on its own
            os.sched_setaffinity(0, {int(argv[1])})

        async def run() -> None:
            await serve_commands(spec, await open_stdin(early_commands))

        uvloop.run(run())  # asyncio.Runner on uvloop's loop, on Python 3.10 as well
    except Exception as exc:  # reported to the harness, which fails the benchmark with it
        emit(error_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
