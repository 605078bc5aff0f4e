"""Server processes: start on port 0, wait for the ready line, pin, watch, stop.

A server never outlives the process that started it: the child asks the kernel for
SIGKILL when its parent dies (PR_SET_PDEATHSIG), so even a SIGKILLed benchmark process
or asv run leaves nothing listening.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from servers import contract

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
STDERR_TAIL = 2000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# glibc serves asyncio's 256 KiB read buffers with mmap/munmap on every read, halving an
# asyncio client's speed (shared/reference/measurements.md). Servers are affected too, and
# worse, depend on their heap's history: an aiohttp server gave ~19k req/s on GET /json until
# a second set of connections had come and gone, ~27k after, and ~27k from the start with
# these settings (and wrk agreed with the suite only then). So every process the harness
# starts, server or generator, runs with them: the steady state of a long-running server.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "16777216"}
# Tests set this to a file to count server starts (the asv lifecycle test reads it).
START_LOG_ENV = "BENCH_SERVER_START_LOG"


class ServerError(RuntimeError):
    """A server could not start, died, or misbehaved; the message names the cause."""


class FdLimitError(RuntimeError):
    """The open-file limit is too low for a workload and cannot be raised from here."""


def ensure_fd_limit(needed: int) -> None:
    """Make sure this process, and so every server and generator it starts, may open
    ``needed`` files: raise the soft RLIMIT_NOFILE up to the hard limit if that is enough,
    otherwise fail saying which limit and how to raise it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))
        return
    raise FdLimitError(
        f"{needed} open files are needed, but the hard limit RLIMIT_NOFILE (ulimit -Hn) is {hard} "
        f"(soft {soft}), and only root can raise it: run `ulimit -Hn {needed}; ulimit -Sn {needed}` as "
        f"root before asv, or set `nofile` in /etc/security/limits.conf, LimitNOFILE= for a systemd "
        f"unit, or `--ulimit nofile={needed}:{needed}` for a container"
    )


def cpu_plan() -> tuple[int | None, list[int | None]]:
    """(server CPU, load-generator CPUs): the server gets one CPU, generators the rest.

    With a single CPU nothing is pinned and the results say so (compare.setup_record).
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, [None]
    return cpus[0], cpus[1:]


# What a server measured by its instruction count gets of this process's environment
# (harness/cost): nothing but the suite on its path and the tests' preload switch. The
# interpreter copies every variable into os.environ at start, so their number and size shift
# its heap, and with it the instructions spent probing dicts and sets of objects hashed by
# address: one extra 5 KB variable moved aiohttp's echo from 70,185 to 70,307 instructions.
# A shell's, a CI job's or asv's variables must not move a figure.
MEASURED_ENV_KEEP = ("BENCH_SERVER_PRELOAD",)


def child_env(extra: dict[str, str] | None = None, inherit: bool = True) -> dict[str, str]:
    """The environment for a child of this harness: the suite importable, extras added; with
    ``inherit`` false, a fixed PATH and PYTHONPATH and of this process's variables only
    MEASURED_ENV_KEEP."""
    if inherit:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    else:
        env = {k: os.environ[k] for k in MEASURED_ENV_KEEP if k in os.environ}
        env.update(PATH=os.defpath, PYTHONPATH=str(ROOT))
    env.update(extra or {})
    return env


def die_with_parent(cpu: int | None):
    """A preexec_fn: SIGKILL this child when the parent dies; pin it to ``cpu``."""
    parent = os.getpid()

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(120)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(121)
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return preexec


def pin_threads(pid: int, cpus: int | Iterable[int]) -> None:
    """Pin every thread of ``pid`` to ``cpus`` (one CPU or several); threads it starts later
    inherit the mask of the thread that starts them, pinned by then."""
    mask = {cpus} if isinstance(cpus, int) else set(cpus)
    pinned: set[str] = set()
    while tids := set(os.listdir(f"/proc/{pid}/task")) - pinned:  # again if one began meanwhile
        for tid in tids:
            with contextlib.suppress(ProcessLookupError):  # a thread that has ended since
                os.sched_setaffinity(int(tid), mask)
        pinned |= tids


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (a multi-process server's workers), from
    /proc's parent links: this kernel has no /proc/<pid>/task/<tid>/children."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parent = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue  # gone since the listing
            children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def follow_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies.

    Called by the measuring process: when its parent (asv's forkserver, which calls this too,
    see benchmarks/__init__.py) dies, this process dies at once, and with it, through their
    own PR_SET_PDEATHSIG, every server and generator it started.
    """
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


LIBC = ctypes.CDLL(None, use_errno=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used, to the nanosecond: its
    CPU-time clock (clock_getcpuclockid). /proc/<pid>/stat counts ticks of 10 ms, and
    1,000 echoes cost the fastest servers here one or two ticks: too coarse for the CPU per
    operation of an open-loop window at a fixed rate (harness/experiments/fixed_load.py)."""
    clock = ctypes.c_int()
    if LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) == 0:
        with contextlib.suppress(OSError):  # the process ended in between: /proc says so below
            return time.clock_gettime(clock.value)
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def peak_rss_bytes(pid: int) -> int:
    """The highest resident memory of a process (VmHWM) since it started or since reset_peak_rss."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"/proc/{pid}/status has no VmHWM line")


def reset_peak_rss(pid: int) -> None:
    """Start the process's peak resident memory again from its present one (Linux 4.0+:
    writing 5 to clear_refs), so that a peak read later belongs to what ran in between."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


class ServerProcess:
    """One framework server in a child process of this interpreter.

    Use as a context manager, or call start() and stop(). ``url(path, scheme)`` builds
    addresses on the bound port.
    """

    def __init__(
        self,
        framework: str,
        *,
        loop: str = "asyncio",
        json_codec: str = "stdlib",
        compression: bool = False,
        cpu: int | tuple[int, ...] | None = None,
        host: str = "127.0.0.1",
        ready_timeout: float = READY_TIMEOUT,
        command: list[str] | None = None,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        inherit_env: bool = True,
    ) -> None:
        self.framework = framework
        self.env = MALLOC_ENV if env is None else env  # {}: glibc's defaults
        self.inherit_env = inherit_env  # False: only MEASURED_ENV_KEEP of this process's variables
        # The CPUs its processes are pinned to once ready (none: unpinned); a server with
        # several workers gets several (harness.topology.Plan), and the kernel spreads them.
        self.cpus: tuple[int, ...] = () if cpu is None else (cpu,) if isinstance(cpu, int) else tuple(cpu)
        self.host = host  # the address it binds and is reached at (harness.topology)
        self.ready_timeout = ready_timeout
        self.command = command or [
            sys.executable,
            "-m",
            "servers",
            framework,
            "--host",
            host,
            "--port",
            "0",
            "--loop",
            loop,
            "--json",
            json_codec,
        ] + (["--compression"] if compression else []) + list(extra_args)
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.server_pid: int | None = None  # the pid its ready line gave: the server's own process
        # Every process of the server once ready: the one started, and its workers if it has
        # several. CPU time and memory are summed over them.
        self.pids: list[int] = []
        self._stderr = None
        self._terminated = False  # SIGTERM sent (terminate), so stop() only waits

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def cpu(self) -> int | None:
        return self.cpus[0] if self.cpus else None

    @property
    def pid(self) -> int:
        assert self.process is not None, "server not started"
        return self.process.pid

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def start(self) -> ServerProcess:
        """Start the server and wait until it is ready: launch(), then ready()."""
        return self.launch().ready()

    def launch(self) -> ServerProcess:
        """Start the server's process and return at once; ready() waits for it.

        The process starts on every CPU and is pinned to ``cpu`` once ready: a server spends
        0.1-0.6 s importing its framework (Litestar the longest), and servers launched together
        before the first is waited for (compare.start_contenders) then import side by side on
        all cores: twelve were ready in 1.7 s, against 2.9 s started one after another.
        """
        # A second start would orphan the first server, running until this process exits:
        # ``with server.start()`` did that (``with`` starts it too) in the memory experiment
        # and in agreement, one idle server per measurement.
        if self.process is not None and self.process.poll() is None:
            raise ServerError(f"{self.framework} server (pid {self.process.pid}) is already running")
        follow_parent()  # whoever owns a server dies with its own parent (asv), taking the server along
        self._terminated = False
        self.port = None
        self.pids = []
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=child_env(self.env, self.inherit_env),
            cwd=ROOT,
            preexec_fn=die_with_parent(None),
        )
        if os.environ.get(START_LOG_ENV):
            with open(os.environ[START_LOG_ENV], "a") as log:
                log.write(f"{self.framework} {self.process.pid} parent={os.getpid()}\n")
        return self

    def ready(self) -> ServerProcess:
        """Wait for a launched server's ready line, then pin it to its CPU (at once if it is
        ready already); stops it and raises ServerError if it does not become ready."""
        if self.port is not None:
            return self
        try:
            self.port = self._wait_ready()
            self.pids = process_tree(self.pid)
            if self.server_pid and self.server_pid not in self.pids:
                self.pids.append(self.server_pid)
            if self.cpus:
                for pid in self.pids:
                    pin_threads(pid, self.cpus)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> int:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        buffered = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ServerError(
                        f"{self.framework} server did not become ready within "
                        f"{self.ready_timeout:g}s{self.stderr_tail()}"
                    )
                if not selector.select(min(remaining, 0.1)):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    status = self.process.wait(timeout=STOP_TIMEOUT)
                    raise ServerError(
                        f"{self.framework} server exited with status {status} before it was ready{self.stderr_tail()}"
                    )
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    record = contract.parse_ready_line(line.decode(errors="replace"))
                    if record:
                        self.server_pid = record.get("pid")
                        return record["port"]

    def stderr_tail(self) -> str:
        """The end of the server's stderr, formatted for an error message."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - STDERR_TAIL))
        tail = self._stderr.read().decode(errors="replace").strip()
        return f"; its stderr ends with:\n{tail}" if tail else "; its stderr is empty"

    def stderr_size(self) -> int:
        """How many bytes the server has written on stderr so far."""
        if self._stderr is None or self._stderr.closed:
            return 0
        return os.fstat(self._stderr.fileno()).st_size

    def stderr_text(self, start: int = 0) -> str:
        """What the server wrote on stderr from byte ``start`` on."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(start)
        return self._stderr.read().decode(errors="replace")

    def check_alive(self) -> None:
        """Raise ServerError if the server has exited."""
        if self.process is None or self.process.poll() is not None:
            status = None if self.process is None else self.process.returncode
            raise ServerError(f"{self.framework} server died (exit status {status}){self.stderr_tail()}")

    def _summed(self, read: Callable[[int], float]) -> float:
        """``read`` summed over the server's processes; ServerError if one has gone (a worker
        died: its share of the load is no longer served)."""
        try:
            return sum(read(pid) for pid in self.pids or [self.pid])
        except (FileNotFoundError, ProcessLookupError):
            self.check_alive()
            gone = [pid for pid in self.pids if not os.path.exists(f"/proc/{pid}")]
            raise ServerError(f"{self.framework} server: its process {gone or '?'} died{self.stderr_tail()}") from None

    def cpu_seconds(self) -> float:
        """CPU time of all the server's processes."""
        return self._summed(cpu_seconds)

    def rss_bytes(self) -> int:
        """Resident memory of all the server's processes (pages workers share counted in each)."""
        return int(self._summed(rss_bytes))

    def peak_rss_bytes(self) -> int:
        return int(self._summed(peak_rss_bytes))

    def reset_peak_rss(self) -> None:
        for pid in self.pids or [self.pid]:
            reset_peak_rss(pid)

    def kill(self) -> None:
        """SIGKILL at once, for a server whose shutdown is no part of what was measured and slow
        (under valgrind, 2.7 s of a graceful stop); stop() afterwards closes its pipes. Only a
        server that is its own process: a launcher killed so would leave its server behind."""
        if self.process is not None and self.process.poll() is None and self.server_pid in (None, self.pid):
            self.process.kill()
            self.process.wait()

    def terminate(self) -> None:
        """Send SIGTERM and return: stop() then waits. Servers told together shut down
        together (stop_all)."""
        if self.process is not None and self.process.poll() is None and not self._terminated:
            self.process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit status. Idempotent."""
        process = self.process
        if process is not None:
            if process.poll() is None:
                self.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        return None if process is None else process.returncode


def stop_all(servers: Iterable[ServerProcess]) -> None:
    """Stop ``servers`` together: SIGTERM to each, then wait for each. One at a time, the
    frameworks on uvicorn took 0.3-0.5 s each to shut down, and a comparison of twelve 2.7 s."""
    servers = list(servers)
    for server in servers:
        server.terminate()
    for server in servers:
        server.stop()
