"""System calls a server makes over a window of operations: ``strace -c -f`` attached to the
natively running server for the window, its summary table read back.

The kernel's share of a small message's cost is mostly in these calls, which valgrind's
user-space count misses. The server runs natively here (under valgrind, valgrind's own calls
would be counted too). Attaching and detaching while the server sits in epoll_wait can add
that one wait, so an empty window's count (the edges alone) is taken off the window's.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ATTACH_TIMEOUT_S = 10.0
DETACH_TIMEOUT_S = 10.0


class StraceError(RuntimeError):
    """strace could not attach (ptrace refused), would not detach, or wrote no summary."""


class AttachRefused(StraceError):
    """strace could not attach: the system calls cannot be counted here at all."""


PTRACE_HINT = (
    "strace attaches to the running server, which needs ptrace: run as root, or allow tracing "
    "one's own processes (sysctl kernel.yama.ptrace_scope=0), or --cap-add SYS_PTRACE for a container"
)


def strace_missing() -> str | None:
    if shutil.which("strace") is None:
        return "strace is not installed (Debian: apt-get install strace; scripts/setup.sh does)"
    return None


def strace_version() -> str:
    return subprocess.run(["strace", "-V"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def parse_summary(text: str) -> dict[str, int]:
    """{system call: calls} from ``strace -c``'s table (errors are calls too)."""
    counts = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[0][0].isdigit() or fields[-1] == "total":
            continue
        counts[fields[-1]] = int(fields[3])
    return counts


def count(pid: int, action: Callable[[], None]) -> dict[str, int]:
    """System calls by ``pid`` (all its threads) while ``action`` runs."""
    with tempfile.TemporaryDirectory(prefix="bench-strace-") as tmp:
        summary, log = Path(tmp) / "summary", Path(tmp) / "log"
        with open(log, "wb") as log_file:
            tracer = subprocess.Popen(
                ["strace", "-c", "-f", "-p", str(pid), "-o", str(summary)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        try:
            deadline = time.monotonic() + ATTACH_TIMEOUT_S
            while b"attached" not in log.read_bytes():
                if tracer.poll() is not None or time.monotonic() > deadline:
                    raise AttachRefused(f"strace could not attach to pid {pid}: {log.read_text().strip()[-500:]}")
                time.sleep(0.01)
            action()
            tracer.send_signal(signal.SIGINT)
            try:
                tracer.wait(timeout=DETACH_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise StraceError(
                    f"strace did not detach from pid {pid} within {DETACH_TIMEOUT_S:g}s: "
                    f"{log.read_text().strip()[-500:]}"
                ) from None
        finally:
            if tracer.poll() is None:
                tracer.kill()
                tracer.wait()
        if not summary.is_file():
            raise StraceError(f"strace wrote no summary: {log.read_text().strip()[-500:]}")
        return parse_summary(summary.read_text())


def per_op(pid: int, run: Callable[[int], None], ops: int) -> dict[str, float]:
    """System calls per operation by name: a window of ``ops`` operations (``run(n)`` does
    n) less an empty window, over ``ops``; calls that net to zero left out."""
    edges = count(pid, lambda: run(0))
    window = count(pid, lambda: run(ops))
    names = sorted(edges.keys() | window.keys())
    diffs = {name: (window.get(name, 0) - edges.get(name, 0)) / ops for name in names}
    return {name: value for name, value in diffs.items() if value}
