"""The generator process's command loop (see the package docstring for the protocol)."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
from collections.abc import Awaitable, Callable

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
OPEN_LOOP_KINDS = {"http", "ws_echo"}  # one operation in flight per connection


def connector(kind: str) -> Callable[[LoadSpec, WindowRef], Awaitable[list[Driver]]]:
    module, function = CONNECTORS[kind]
    return getattr(importlib.import_module(module), function)


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def serve_commands(spec: LoadSpec) -> None:
    loop = asyncio.get_running_loop()
    ref = WindowRef()
    started = time.perf_counter()
    drivers = await connector(spec.kind)(spec, ref)
    connect_s = time.perf_counter() - started
    if spec.warmup_s > 0:
        await run_window(drivers, ref, spec.warmup_s)
    deflate = sum(1 for driver in drivers if getattr(driver, "deflate", None) is not None)
    emit(Ready(connect_s=connect_s, connections=len(drivers), deflate_connections=deflate).to_json())
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while command := (await reader.readline()).decode().split():
        if command[0] == "go" and len(command) == 3:
            if spec.kind not in OPEN_LOOP_KINDS:
                raise LoadError(f"open loop is for {' and '.join(sorted(OPEN_LOOP_KINDS))}, not {spec.kind!r}")
            result = await run_open_window(drivers, ref, float(command[1]), float(command[2]))
        elif command[0] == "go":
            result = await run_window(drivers, ref, float(command[1]))
        elif command[0] == "burst":
            result = await run_burst(drivers, ref)
        elif command[0] == "quit":
            break
        else:
            raise LoadError(f"unknown command {' '.join(command)!r}")
        emit(result.to_json())
    for driver in drivers:
        driver.close()


def read_spec(argument: str) -> LoadSpec:
    if argument.startswith("@"):
        with open(argument[1:]) as f:
            return load_spec_from_json(f.read())
    return load_spec_from_json(argument)


def main(argv: list[str]) -> int:
    """``python -m harness.loadgen SPEC [CPU]``: SPEC as JSON, or @file; pinned to CPU if given."""
    import uvloop

    try:
        spec = read_spec(argv[0])
        importlib.import_module(CONNECTORS[spec.kind][0])
        if len(argv) > 1:  # imports done on whichever core was free; the load runs on its own
            os.sched_setaffinity(0, {int(argv[1])})
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve_commands(spec))
    except Exception as exc:  # reported to the harness, which fails the benchmark with it
        emit(error_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
