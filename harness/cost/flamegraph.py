"""Sampled wall-clock flame graphs: py-spy records a server natively while the suite's own
load generator drives it at full closed-loop load, and writes a speedscope profile.

Where the instruction counts (callgrind) say what each operation costs, this says where a
real server's wall-clock time goes at full speed: time in C extensions and system calls
counted against the Python function that made them, and time spent waiting shown too, as
the report's speedscope viewer draws it (harness/report/speedscope.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness.compare import Contender, Round, measure_round
from harness.generator import WINDOW_GRACE_S, Generator, GeneratorError
from harness.process import cpu_plan, die_with_parent
from harness.workloads import Workload

# Samples per second. py-spy's default mode stops the server for every sample (below), so
# the rate is what the server pays: measured here on aiohttp's ws_echo at full load, its CPU
# share fell from ~99% to ~97-98% at 100 Hz, ~96% at 250 Hz and ~88% at 1000 Hz. 200 Hz
# keeps the pauses to a few percent and still gives ~400 samples in 2 s, enough for any
# frame above ~1% of the time to show.
RATE_HZ = 200
# py-spy's flags, each chosen on purpose:
# - default (blocking) mode, not --nonblocking: py-spy then stops the process while it reads
#   the stack, so every sample is a consistent stack. --nonblocking was cheaper (no pauses)
#   but lost 3-7% of the samples to read errors on this busy server; those are stacks read
#   while the interpreter was changing them, so likely the calls and returns, and a flame
#   graph of the calls should not lose its samples selectively.
# - no --native: it works with Python 3.11 here (0-2 errors per 400 samples) but is not
#   cheap: unwinding C stacks in every pause cut aiohttp's throughput by 20-55% and its CPU
#   share to 63-82% at 250 Hz, so the graph would describe a different, stalled server.
# - --idle: without it py-spy drops every sample in which the thread is not running, which
#   is not only the selector's wait but also time inside socket send()/recv(): aiohttp's
#   _SelectorSocketTransport.write had 109 of 399 samples with it, 65 of 363 without.
#   Wall clock needs them; the selector's wait then shows as its own frame
#   (EpollSelector.select), how long the server sat waiting for the load.
# - --function: one frame per function, not per line, so a function called from two lines
#   of its caller is one box, not two.
SPY_FLAGS = ("--format", "speedscope", "--rate", str(RATE_HZ), "--idle", "--function")
# Load must be flowing before py-spy attaches (the generator idles between windows), and
# keep flowing until it has taken its last sample (it attaches in a few tens of ms).
LEAD_S = 0.2
TAIL_S = 0.5
# Beyond its duration: attaching, and writing the profile.
SPY_GRACE_S = 5.0
STDERR_TAIL = 1500
PTRACE_HINT = (
    "py-spy needs to ptrace the server: run as root, or give py-spy CAP_SYS_PTRACE "
    "(`setcap cap_sys_ptrace+ep <py-spy>`, or `--cap-add SYS_PTRACE` for a container), "
    "or allow tracing one's own processes (`sysctl kernel.yama.ptrace_scope=0`)"
)


class FlamegraphError(RuntimeError):
    """py-spy is missing, failed or overran; the message names the cause."""


def find_py_spy() -> str | None:
    """py-spy's path: beside this interpreter first (the venv or asv env that installed the
    suite and its py-spy dependency), else on PATH; None if neither has it."""
    beside = Path(sys.executable).parent / "py-spy"  # not resolved: a venv's python is a symlink out of it
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def py_spy_missing() -> str | None:
    """Why py-spy cannot run here (callers mark the flame graph n/a), or None."""
    if find_py_spy() is not None:
        return None
    return (
        f"py-spy not found beside {sys.executable} nor on PATH; install it into this environment "
        f"with `{sys.executable} -m pip install py-spy` (pyproject.toml pins it among the suite's dependencies)"
    )


def record_flamegraph(
    workload: Workload, framework: str, out: Path, *, seconds: float = 2.0, warmup_s: float = 0.5
) -> Path:
    """Record ``framework``'s server running ``workload`` at full load for ``seconds``
    (rounded up to whole seconds, py-spy's unit) into the speedscope file ``out``.

    Raises FlamegraphError when py-spy is missing or fails, ServerError (harness.process)
    when the server dies or misbehaves. Nothing it started outlives it.
    """
    missing = py_spy_missing()
    if missing:
        raise FlamegraphError(missing)
    server_cpu, generator_cpus = cpu_plan()
    server = workload.server(framework, server_cpu)
    contender = Contender(framework, server)
    try:
        server.start()
        spec = workload.load_spec(server, warmup_s=warmup_s if workload.warmup else 0)
        contender.generator = Generator(spec, generator_cpus, workload.generator_processes or len(generator_cpus))
        try:
            contender.generator.wait_ready()
        except GeneratorError:
            # As in compare.measure_round: a dead server is the real cause. Its sockets close
            # a moment before its exit status is visible.
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=1.0)
            server.check_alive()
            raise
        return record_during(contender, workload, out, seconds=seconds)
    finally:
        contender.close()


def record_during(contender: Contender, workload: Workload, out: Path, *, seconds: float = 2.0) -> Path:
    """Record ``contender``'s server (started, its generator connected and warmed up) while its
    generator drives it at full load for ``seconds`` (whole seconds, py-spy's unit), into the
    speedscope file ``out``; the generator's window counts nothing. The headline comparisons
    call this before their rounds (benchmarks/bench_cost.flamegraphs_before_rounds), on servers
    and connections they have up already. Raises as record_flamegraph does; starts nothing
    that outlives it."""
    missing = py_spy_missing()
    if missing:
        raise FlamegraphError(missing)
    py_spy = find_py_spy()
    assert py_spy is not None
    framework, server = contender.framework, contender.server
    duration = max(1, math.ceil(seconds))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Beside ``out``, so the rename is atomic; py-spy writes this exact name.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    spy: subprocess.Popen | None = None
    spy_log = tempfile.TemporaryFile()
    try:
        outcome: list[Round | BaseException] = []
        window_s = LEAD_S + duration + TAIL_S

        def drive() -> None:
            try:
                outcome.append(measure_round(contender, window_s))
            except BaseException as exc:  # re-raised in the caller's thread below
                outcome.append(exc)

        load = threading.Thread(target=drive, name="flamegraph-load", daemon=True)
        load.start()
        time.sleep(LEAD_S)
        spy = _start_spy(
            [py_spy, "record", "--pid", str(server.pid), "--output", str(tmp), "--duration", str(duration), *SPY_FLAGS],
            stdin=subprocess.DEVNULL,
            # py-spy reports progress on stdout and errors on stderr: keep both, in order.
            stdout=spy_log,
            stderr=subprocess.STDOUT,
            # The error itself, not the Rust backtrace after it, must end the log.
            env={**os.environ, "RUST_BACKTRACE": "0", "RUST_LIB_BACKTRACE": "0"},
            # On the server's CPU: in blocking mode py-spy works while the server is stopped,
            # so there it takes time the server could not use anyway, where on the generators'
            # CPUs it took theirs. Tornado's GET /json at 50 connections on 2 CPUs, 3 runs each:
            # 4.4-5.5k req/s sampled with py-spy there, 2.1-3.2k with it beside the generator.
            preexec_fn=die_with_parent(server.cpu),
        )
        try:
            spy_status: int | None = spy.wait(timeout=duration + SPY_GRACE_S)
        except subprocess.TimeoutExpired:
            spy_status = None
            _kill(spy)
        # measure_round's generator gives up WINDOW_GRACE_S after the window on its own.
        load.join(timeout=window_s + WINDOW_GRACE_S + 5)
        if not outcome:
            raise FlamegraphError(f"{framework}: the load generator did not finish its {window_s:g}s window")
        if isinstance(outcome[0], BaseException):
            raise outcome[0]  # the server died or misbehaved: ServerError names it
        if spy_status is None:
            raise FlamegraphError(
                f"py-spy did not finish within {duration + SPY_GRACE_S:g}s of a {duration}s recording; "
                f"killed{_tail(spy_log)}"
            )
        if spy_status != 0:
            tail = _tail(spy_log)
            hint = f"; {PTRACE_HINT}" if "Permission denied" in tail or "Operation not permitted" in tail else ""
            raise FlamegraphError(f"py-spy exited with status {spy_status} recording {framework}{tail}{hint}")
        rate = outcome[0].ops_per_second
        _label(tmp, f"{framework}: {workload.name}, {rate:,.0f} ops/s while sampled at {RATE_HZ} Hz")
        os.replace(tmp, out)
        return out
    finally:
        if spy is not None and spy.poll() is None:
            _kill(spy)
        spy_log.close()
        tmp.unlink(missing_ok=True)


def _start_spy(command: list[str], **options: object) -> subprocess.Popen:
    try:
        return subprocess.Popen(command, **options)
    except OSError as exc:  # e.g. a py-spy built for another architecture
        raise FlamegraphError(f"py-spy ({command[0]}) could not start: {exc}") from None


def _kill(process: subprocess.Popen) -> None:
    # By its own PID. Killing py-spy mid-sample is safe: the kernel detaches a tracee when
    # its tracer dies, and the server runs on.
    process.kill()
    process.wait()


def _tail(log) -> str:
    log.seek(0)
    text = log.read().decode(errors="replace").strip()
    return f"; py-spy said:\n{text[-STDERR_TAIL:]}" if text else "; py-spy said nothing"


def _label(profile: Path, name: str) -> None:
    """Check py-spy's profile has samples, and name it (speedscope shows the name as title)."""
    try:
        document = json.loads(profile.read_text())
        samples = sum(len(p["samples"]) for p in document["profiles"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FlamegraphError(f"py-spy wrote no readable speedscope profile: {exc}") from None
    if samples == 0:
        raise FlamegraphError("py-spy recorded no samples")
    document["name"] = name
    profile.write_text(json.dumps(document, separators=(",", ":")))
