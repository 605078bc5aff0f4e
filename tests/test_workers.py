"""``python -m servers <framework> --workers N`` (servers/workers.py): each framework with a multi-process
mode of its own runs two workers in it, prints its ready line once both accept connections, serves the
contract from both, and leaves no process behind whether it is stopped, its root is killed, or a
worker dies; a framework without one refuses, saying why; one worker is the server as it always was.

The servers of a scenario start together (their start-ups overlap, the spawning modes' most of all),
straight from ``python -m servers`` as the harness starts them, so that nothing here depends on the
harness's own process handling."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import servers
from servers import contract
from servers.__main__ import EXIT_UNAVAILABLE, EXIT_USAGE
from servers.workers import EXIT_WORKER_DIED
from tests.conftest import http, pid_alive
from tests.test_contract import raw_ws_connect, ws_connect

ROOT = Path(__file__).resolve().parent.parent
WITH_MODE = [name for name in servers.FRAMEWORKS if not servers.workers_unsupported(name)]
WITHOUT_MODE = [name for name in servers.FRAMEWORKS if servers.workers_unsupported(name)]
READY_TIMEOUT_S = 60.0  # all of a scenario's servers start at once on this host's cores
GONE_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 200  # opened until every worker holds one: far more than an accept race needs


def die_with_this_process() -> None:
    """A preexec_fn: the server's root dies with the test run (and its tree with it)."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class Server:
    """One ``python -m servers <framework> --workers 2`` (and ``extra_args``): its root process
    and its ready record."""

    def __init__(self, framework: str, workers: int = 2, extra_args: tuple[str, ...] = ()) -> None:
        self.framework, self.workers = framework, workers
        self.process = subprocess.Popen(
            [sys.executable, "-m", "servers", framework, "--workers", str(workers), *extra_args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_this_process,
        )
        self.record: dict = {}
        self.tree: list[int] = []

    @property
    def port(self) -> int:
        return self.record["port"]

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def end(self) -> None:
        """Kill the root (what is left dies with it) and wait until the whole tree has gone."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        assert gone(self.tree), f"{self.framework}: {alive(self.tree)} outlived the root"

    def stderr(self) -> str:
        return self.process.stderr.read().decode(errors="replace")


def wait_ready(started: list[Server]) -> None:
    """Read every server's ready line (they start together) and note its process tree. Keyed by
    server, not framework: a scenario may start one framework twice (tests/test_tls_servers.py)."""
    waiting = {server.process.stdout: server for server in started}
    buffered = {server: b"" for server in started}
    deadline = time.monotonic() + READY_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        for stdout in waiting:
            selector.register(stdout, selectors.EVENT_READ)
        while waiting:
            assert time.monotonic() < deadline, f"not ready within {READY_TIMEOUT_S:g} s: {list(waiting.values())}"
            for key, _ in selector.select(0.2):
                server = waiting[key.fileobj]
                chunk = os.read(key.fd, 4096)
                assert chunk, f"{server.framework} exited before its ready line: {server.stderr()}"
                buffered[server] += chunk
                if b"\n" in buffered[server]:
                    line = buffered[server].split(b"\n", 1)[0].decode()
                    server.record = contract.parse_ready_line(line) or {}
                    assert server.record, f"{server.framework}: {line!r} is no ready line"
                    server.tree = process_tree(server.process.pid)
                    selector.unregister(key.fileobj)
                    del waiting[key.fileobj]


@contextlib.contextmanager
def fleet(frameworks: list[str]) -> Iterator[dict[str, Server]]:
    started = [Server(name) for name in frameworks]
    try:
        wait_ready(started)
        yield {server.framework: server for server in started}
    finally:
        for server in started:
            server.end()


@pytest.fixture(scope="module")
def serving() -> Iterator[dict[str, Server]]:
    """Every framework with a mode on two workers, started together; the last test stops them."""
    with fleet(WITH_MODE) as started:
        yield started


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError):
                with open(f"/proc/{entry}/stat", "rb") as f:
                    children.setdefault(int(f.read().rsplit(b")", 1)[1].split()[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        tree.append(pid := todo.pop())
        todo.extend(children.get(pid, ()))
    return tree


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if pid_alive(pid)]


def gone(pids: list[int]) -> bool:
    """True once none of ``pids`` is running, polled for up to GONE_TIMEOUT_S."""
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pids)


def established(port: int) -> set[str]:
    """The socket inodes of the server side of established TCP connections on ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    inodes.add(fields[9])
    return inodes


def connections_held(pid: int, inodes: set[str]) -> int:
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            held += link.startswith("socket:[") and link[8:-1] in inodes
    return held


def test_a_framework_has_a_mode_or_says_why_not():
    assert WITHOUT_MODE == ["picows"]
    for name in WITH_MODE:
        assert servers.get(name).workers_mode and not servers.get(name).no_workers_reason
    assert servers.workers_unsupported("picows") == f"picows: {servers.get('picows').no_workers_reason}"


@pytest.mark.parametrize("framework", WITH_MODE)
def test_the_ready_line_names_two_workers_under_its_root(serving, framework):
    server = serving[framework]
    assert server.record["framework"] == framework and server.record["pid"] == server.process.pid
    workers = server.record["workers"]
    assert len(set(workers)) == 2 and set(workers) <= set(server.tree[1:])


@pytest.mark.parametrize("framework", WITH_MODE)
def test_the_workers_serve_the_contract(serving, framework):
    server = serving[framework]
    if servers.get(framework).http:
        status, headers, body = http(server.url(contract.JSON))
        assert status == 200 and json.loads(body) == contract.JSON_MESSAGE
    with ws_connect(server) as ws:
        ws.send("hello from a test")
        assert ws.recv(timeout=10) == "hello from a test"


@pytest.mark.parametrize("framework", WITH_MODE)
def test_every_worker_accepts_connections(serving, framework):
    # WebSocket connections stay open, so each one is found in the worker that accepted it. A shared
    # accept queue goes to whichever worker wakes first, SO_REUSEPORT by hash: either way both get
    # some long before MAX_CONNECTIONS unless one does not accept at all.
    server = serving[framework]
    workers = server.record["workers"]
    held = dict.fromkeys(workers, 0)
    opened = 0
    with contextlib.ExitStack() as stack:
        while opened < MAX_CONNECTIONS and not all(held.values()):
            for _ in range(10):
                stack.callback(raw_ws_connect(server)[0].close)
            opened += 10
            inodes = established(server.port)
            held = {pid: connections_held(pid, inodes) for pid in workers}
        assert all(held.values()), f"{opened} connections, held per worker: {held}"
        assert sum(held.values()) == opened  # and by nothing but the workers


@pytest.mark.parametrize("framework", WITH_MODE)
def test_sigterm_or_sigint_to_the_root_ends_every_process(serving, framework):
    # Status 0: the mode stopped its workers itself, within the time the root allows it (after
    # which it kills them, and says so with status 1).
    server = serving[framework]
    server.process.send_signal(signal.SIGINT if WITH_MODE.index(framework) % 2 else signal.SIGTERM)
    assert server.process.wait(timeout=10) == 0, server.stderr()
    assert gone(server.tree), f"{alive(server.tree)} outlived the root"


def test_sigkill_to_the_root_leaves_no_process():
    with fleet(WITH_MODE) as started:
        for server in started.values():
            server.process.kill()
        for server in started.values():
            server.process.wait()
            assert gone(server.tree), f"{server.framework}: {alive(server.tree)} outlived its root"


def test_a_worker_that_dies_ends_the_server_naming_it():
    with fleet(WITH_MODE) as started:
        for server in started.values():
            os.kill(server.record["workers"][0], signal.SIGKILL)
        for server in started.values():
            assert server.process.wait(timeout=10) == EXIT_WORKER_DIED, server.framework
            assert f"worker {server.record['workers'][0]} died" in server.stderr()
            assert gone(server.tree), f"{server.framework}: {alive(server.tree)} outlived the server"


@pytest.mark.parametrize("framework", WITHOUT_MODE)
def test_a_framework_without_a_mode_refuses_saying_why(framework):
    done = subprocess.run(
        [sys.executable, "-m", "servers", framework, "--workers", "2"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == EXIT_UNAVAILABLE
    assert f"cannot run {framework} on 2 workers: {servers.get(framework).no_workers_reason}" in done.stderr


def test_fewer_than_one_worker_is_a_usage_error():
    done = subprocess.run(
        [sys.executable, "-m", "servers", "baseline", "--workers", "0"], capture_output=True, text=True
    )
    assert done.returncode == EXIT_USAGE and "--workers must be at least 1" in done.stderr


def test_one_worker_is_one_process_with_the_ready_line_as_before():
    server = Server("baseline", workers=1)
    try:
        wait_ready([server])
        assert set(server.record) == {"ready", "framework", "port", "pid"}
        assert server.tree == [server.process.pid] == [server.record["pid"]]
    finally:
        server.end()


def test_the_ready_line_is_read_as_before_with_or_without_workers():
    one = {"ready": True, "framework": "aiohttp", "port": 1, "pid": 2}
    assert contract.ready_line("aiohttp", 1, 2) == json.dumps(one)
    assert contract.parse_ready_line(contract.ready_line("aiohttp", 1, 2, [3, 4])) == {**one, "workers": [3, 4]}
