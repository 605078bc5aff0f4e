"""The measuring process's side of the load generators: start the processes (one per
generator CPU), send them commands over their stdin, read their answers, stop them."""

from __future__ import annotations

import dataclasses
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from harness.loadspec import GeneratorFailure, LoadSpec, Ready, WindowResult, parse_answer
from harness.process import MALLOC_ENV, child_env, die_with_parent
from harness.topology import Slot

GENERATOR_ENV = MALLOC_ENV  # see harness/process.py: servers and generators alike
READY_TIMEOUT_S = 30.0
WINDOW_GRACE_S = 15.0  # beyond the window: the generator's own reply timeout plus slack
STDERR_TAIL = 1500


class GeneratorError(RuntimeError):
    """A generator failed, hung or died; the message says while doing what, and why."""


class Generator:
    """Load-generator processes driving one server, the connections shared out among them."""

    def __init__(self, spec: LoadSpec, cpus: Sequence[int | None | Slot], processes: int) -> None:
        """Start ``processes`` generator processes, sharing out ``spec``'s connections, one per
        CPU or topology slot in turn (harness.topology: a slot may be on another host)."""
        processes = max(1, min(processes, spec.connections))
        slots = [cpu if isinstance(cpu, Slot) else Slot(cpu) for cpu in cpus]
        self.processes: list[subprocess.Popen] = []
        self.stderr: list = []
        self.shares: list[float] = []  # each process's fraction of the connections (and of an open-loop rate)
        self.slots: list[Slot] = []
        for i in range(processes):
            share = spec.connections // processes + (1 if i < spec.connections % processes else 0)
            self.shares.append(share / spec.connections)
            err = tempfile.TemporaryFile()
            self.stderr.append(err)
            slot = slots[i % len(slots)]
            self.slots.append(slot)
            # The process pins itself to its CPU once its imports are done (harness.loadgen's
            # main), before it connects: generators started together import on every core.
            argv = ["-m", "harness.loadgen", "-", *([] if slot.cpu is None else [str(slot.cpu)])]
            process = subprocess.Popen(
                slot.command(argv, GENERATOR_ENV) or [sys.executable, *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=child_env(GENERATOR_ENV),
                preexec_fn=die_with_parent(None),
            )
            self.processes.append(process)
            # The spec is stdin's first line: no size limit (argv caps an argument at 128 KiB,
            # and a 1 MB POST body is larger), and nothing to copy to another host first.
            try:
                process.stdin.write(dataclasses.replace(spec, connections=share).to_json().encode() + b"\n")
                process.stdin.flush()
            except BrokenPipeError:
                pass  # it died at once: its first answer (read in wait_ready) says why

    def _read(self, index: int, deadline: float, doing: str) -> Ready | WindowResult:
        process = self.processes[index]
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while not selector.select(max(0.0, min(0.5, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    raise GeneratorError(f"load generator{self._where(index)} gave no answer while {doing}")
        line = process.stdout.readline().decode(errors="replace")
        try:
            if not line.strip():
                raise GeneratorFailure(f"exited with status {process.wait()}")
            return parse_answer(line)
        except GeneratorFailure as exc:
            stderr = self.stderr[index]
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace").strip()[-STDERR_TAIL:]
            raise GeneratorError(
                f"load generator{self._where(index)} failed while {doing}: {exc}" + (f"\n{tail}" if tail else "")
            ) from None

    def _where(self, index: int) -> str:
        slot = self.slots[index]
        return "" if slot.host is None else f" on {slot.describe()}"

    def _read_all(self, deadline: float, doing: str) -> list:
        return [self._read(i, deadline, doing) for i in range(len(self.processes))]

    def _command(self, lines: list[str]) -> None:
        for process, line in zip(self.processes, lines, strict=True):
            process.stdin.write(f"{line}\n".encode())
            process.stdin.flush()

    def wait_ready(self) -> Ready:
        """Wait until every process has connected and warmed up."""
        return Ready.merge(self._read_all(time.monotonic() + READY_TIMEOUT_S, "connecting and warming up"))

    def window(self, seconds: float, rate: float | None = None) -> WindowResult:
        """One measurement window on every process at once; merged counts and latencies.

        Closed loop, or open loop at ``rate`` operations/s in total (HTTP and WebSocket echo), shared out
        like the connections.
        """
        if rate is None:
            self._command([f"go {seconds}"] * len(self.processes))
        else:
            self._command([f"go {seconds} {rate * share}" for share in self.shares])
        return WindowResult.merge(self._read_all(time.monotonic() + seconds + WINDOW_GRACE_S, "measuring"))

    def warm_up(self, seconds: float) -> None:
        """A window whose counts are dropped: the server past its first-use paths, with the
        generator's connections already open (compare.start_contenders)."""
        self._command([f"go {seconds}"] * len(self.processes))
        self._read_all(time.monotonic() + seconds + WINDOW_GRACE_S, "warming up")

    def burst(self) -> WindowResult:
        """Every connection of every process sends one request at once; merged replies."""
        self._command(["burst"] * len(self.processes))
        return WindowResult.merge(self._read_all(time.monotonic() + WINDOW_GRACE_S, "bursting"))

    def quit(self) -> None:
        """Ask every process to close its connections and exit, without waiting: generators
        told together (compare.close_all) close together; close() then waits."""
        for process in self.processes:
            if process.poll() is None and not process.stdin.closed:
                try:
                    process.stdin.write(b"quit\n")
                    process.stdin.close()
                except OSError:
                    pass  # it has exited already: close() reaps it

    def close(self) -> None:
        self.quit()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for err in self.stderr:
            err.close()

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
