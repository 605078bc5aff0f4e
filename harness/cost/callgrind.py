"""Instructions a server executes over a window of operations: the server runs under
callgrind, instrumented from the first case on; its counters are zeroed when a window opens
and dumped when it closes (vgdb monitor commands), and the dump is read into a total and a
per-function profile.

Why a window instead of the difference of two whole runs (Ir at N=1500 minus Ir at N=500):
one server start serves every case, and the start-up (imports: some 300 million
instructions, 5 s under valgrind) is never counted at all. The window is opened and closed
only while the server is idle (quiet.py), so it holds exactly the operations' work: five
runs gave aiohttp's echo 69,614.6 instructions each time (README, "Cost per operation").
Why zero and dump rather than switching instrumentation on and off around each window:
after instrumentation was switched off and on again, callgrind's summary line no longer
matched its own cost lines (255,887 against 48 million for aiohttp's GET /json).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

from harness.cost.quiet import wait_quiet
from harness.cost.records import FunctionCost

VGDB_TIMEOUT_S = 30.0
DUMP_NAME = "callgrind.out"  # callgrind appends .1, .2, ... for each dump
# Under valgrind a server starts in 5-10 s (imports run at a fiftieth of native speed).
READY_TIMEOUT_S = 90.0
# Functions below this share of the window are left out of a saved profile (they only add
# bytes: a few thousand functions each run a handful of instructions).
PROFILE_MIN_SHARE = 1e-5
MAX_PROFILE_GAP = 0.5
RECURSION_SUFFIX = re.compile(r"'\d+$")


class CallgrindError(RuntimeError):
    """valgrind is missing, or a monitor command or a dump failed; the message says which."""


def valgrind_missing() -> str | None:
    """Why instructions cannot be counted here, or None."""
    for tool in ("valgrind", "vgdb"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install valgrind; scripts/setup.sh does)"
    return None


def valgrind_version() -> str:
    return subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def vgdb_prefix(out_dir: Path) -> str:
    # Where valgrind's gdbserver and vgdb meet (FIFOs). Both are told: the measured server's
    # environment has no TMPDIR (process.MEASURED_ENV_KEEP), this process's may.
    return str(out_dir / "vgdb-pipe")


def command_prefix(out_dir: Path) -> list[str]:
    """What goes before a server's command to run it under callgrind, instrumentation off
    until the first case (start-up runs at the uninstrumented core's speed). Callgrind
    replaces no malloc: glibc's, with the suite's settings, is what is measured."""
    return [
        shutil.which("valgrind") or "valgrind",  # found here: the server's PATH is a fixed one
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir / DUMP_NAME}",
        "--vgdb=yes",
        f"--vgdb-prefix={vgdb_prefix(out_dir)}",
        "--quiet",
    ]


# A command reaches an idle server (every command waits for wait_quiet): blocked in its
# event loop's wait, it would only see the command once vgdb forced it in, by default after
# 100 ms. Forcing after 1 ms takes the same path sooner: 0.21 s a command became 0.11 s here,
# and the cost family sends two a case (zero, dump), a few hundred a run.
INVOKE_AT_ONCE = "--max-invoke-ms=1"


class Window:
    """Monitor commands to one callgrind process, and its dumps."""

    def __init__(self, pid: int, out_dir: Path) -> None:
        self.pid = pid
        self.out_dir = out_dir

    def command(self, *words: str) -> str:
        try:
            done = subprocess.run(
                ["vgdb", f"--pid={self.pid}", f"--vgdb-prefix={vgdb_prefix(self.out_dir)}", INVOKE_AT_ONCE, *words],
                capture_output=True,
                text=True,
                timeout=VGDB_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise CallgrindError(f"vgdb {' '.join(words)!r} got no answer within {VGDB_TIMEOUT_S:g}s") from None
        if done.returncode != 0:
            raise CallgrindError(f"vgdb {' '.join(words)!r} failed: {(done.stderr or done.stdout).strip()[-500:]}")
        return done.stdout

    def instrument(self) -> None:
        """Start instrumenting (once, before the first case's warm-up)."""
        self.command("instrumentation", "on")

    def open(self) -> None:
        """Open a window, once the server is idle: zero the counters."""
        wait_quiet(self.pid)
        self.command("zero")

    def close(self) -> Path:
        """Close the window, once the server is idle: dump the counters since ``open``; the
        dump's path. Dumps left by a window that failed are removed first, so the one dump
        found afterwards is this window's."""
        wait_quiet(self.pid)
        for stale in self.out_dir.glob(f"{DUMP_NAME}.*"):
            stale.unlink()
        self.command("dump")
        dumps = list(self.out_dir.glob(f"{DUMP_NAME}.*"))
        if len(dumps) != 1:
            raise CallgrindError(f"callgrind wrote {len(dumps)} dumps for one window: {sorted(d.name for d in dumps)}")
        return dumps[0]


def read_dump(path: Path) -> tuple[int, dict[tuple[str, str], int]]:
    """(total instructions, {(function, object file): instructions it executed itself}).

    The callgrind format: ``ob=``/``fn=`` name the current object and function (a name is
    given once with its number, ``(12) name``, then by number alone); cost lines are a
    position and the events (Ir only here); the cost line after ``calls=`` is the callee's
    inclusive cost, which belongs to the callee, not to the caller's self cost.
    """
    names: dict[str, dict[str, str]] = {"ob": {}, "fn": {}}
    selves: dict[tuple[str, str], int] = defaultdict(int)
    total = None
    obj = function = ""
    skip_next_cost = False

    def resolve(kind: str, value: str) -> str:
        value = value.strip()
        if value.startswith("("):
            number, _, text = value.partition(")")
            text = text.strip()
            if text:
                names[kind][number] = text
                return text
            return names[kind].get(number, number)
        return value

    with open(path) as lines:
        for line in lines:
            first = line[:1]
            if first.isdigit() or first in "+-*":
                if skip_next_cost:
                    skip_next_cost = False
                    continue
                fields = line.split()
                if len(fields) > 1:
                    selves[obj, function] += int(fields[1])
            elif line.startswith("fn="):
                function = RECURSION_SUFFIX.sub("", resolve("fn", line[3:]))
            elif line.startswith("ob="):
                obj = os.path.basename(resolve("ob", line[3:]))
            elif line.startswith(("cfn=", "cfi=", "cfl=")):
                if line.startswith("cfn="):
                    resolve("fn", line[4:])
            elif line.startswith("cob="):
                resolve("ob", line[4:])
            elif line.startswith("calls="):
                skip_next_cost = True
            elif line.startswith("summary:"):
                total = int(line.split()[1])
    counted = sum(selves.values())
    if total is None:
        raise CallgrindError(f"{path.name} has no summary line: not a complete callgrind dump")
    # The functions' own costs can add up to more than the window's total: callgrind also
    # charges them for calls that were open when the counters were zeroed and return inside
    # the window (0.001 % to 4 % here, the same in every run of the same sequence). The
    # total is the summary line; the profile says where the instructions went, and its
    # page shows its own sum beside the total. A gap beyond this is a dump not understood.
    if not total or abs(counted - total) > MAX_PROFILE_GAP * total:
        raise CallgrindError(f"{path.name}: functions add up to {counted} instructions, its summary says {total}")
    return total, {(fn, ob): ir for (ob, fn), ir in selves.items()}


def profile(selves: dict[tuple[str, str], int], ops: int) -> tuple[FunctionCost, ...]:
    """Per function, self instructions per operation, largest first (the tail left out)."""
    total = sum(selves.values()) or 1
    kept = [FunctionCost(fn, obj, ir / ops) for (fn, obj), ir in selves.items() if ir / total >= PROFILE_MIN_SHARE]
    return tuple(sorted(kept, key=lambda f: (-f.per_op, f.function, f.obj)))
