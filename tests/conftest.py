"""Shared fixtures: servers started through the harness, and small framework-neutral
clients (urllib for HTTP, the websockets library's sync client for WebSocket) to check
the endpoint contract. Tests never assert on timings."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.generator import Generator
from harness.process import ServerProcess
from harness.workloads import Workload

FAKE_SERVER = Path(__file__).with_name("fake_server.py")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def http(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """(status, lower-cased headers, body) of one request; error statuses are returned too."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def live_children() -> list[psutil.Process]:
    """This process's descendants that are still running (zombies excluded)."""
    live = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                live.append(child)
        except psutil.NoSuchProcess:  # exited since it was listed
            pass
    return live


@pytest.fixture
def start_server() -> Iterator:
    """start_server(framework, **options) -> a started ServerProcess, stopped after the test."""
    started: list[ServerProcess] = []

    def start(framework: str, **options) -> ServerProcess:
        server = ServerProcess(framework, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        assert not pid_alive(server.pid), f"{server.framework} server {server.pid} outlived its test"


@pytest.fixture(scope="module")
def running() -> Iterator:
    """running(framework, codec="stdlib") -> its ServerProcess, started once for the test module:
    for the cases that leave a server as they found it, so that each framework starts once."""
    started: dict[tuple[str, str], ServerProcess] = {}

    def get(framework: str, codec: str = "stdlib") -> ServerProcess:
        if (framework, codec) not in started:
            started[framework, codec] = ServerProcess(framework, json_codec=codec).start()
        started[framework, codec].check_alive()
        return started[framework, codec]

    yield get
    for process in started.values():
        process.stop()
        assert not pid_alive(process.pid), f"{process.framework} server {process.pid} outlived its tests"


def fake_server(mode: str) -> ServerProcess:
    """An unstarted tests/fake_server.py in ``mode`` (a context manager starts and stops it)."""
    return ServerProcess(f"fake-{mode}", command=[sys.executable, str(FAKE_SERVER), mode])


def generator_for(workload: Workload, server: ServerProcess, warmup_s: float = 0.0, **changes: object) -> Generator:
    """One unpinned generator process running ``workload`` against ``server``."""
    return Generator(workload.load_spec(server, warmup_s=warmup_s, **changes), [None], 1)


def home_state() -> dict[str, object]:
    """What the tests must leave as it was in the user's HOME: asv's machine file, and the
    entries of the folders where programs keep their state (asv, Chromium, virtualenv)."""
    home = Path.home()
    machine_file = home / ".asv-machine.json"
    state: dict[str, object] = {"asv machine file": machine_file.read_bytes() if machine_file.exists() else None}
    for folder in (home, home / ".config", home / ".cache", home / ".local" / "share"):
        state[str(folder)] = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else None
    return state


@pytest.fixture(scope="session", autouse=True)
def _users_home_untouched() -> Iterator[None]:
    # Tests write only to their temporary folders; programs that keep state in HOME (asv's
    # machine file, Chromium, virtualenv) run with a temporary HOME (harness.asv_run.asv_home_env).
    before = home_state()
    yield
    after = home_state()
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert not changed, f"the tests changed the user's HOME: {changed}"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Clients in tests talk to loopback only; never through a proxy from the environment.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    assert os.environ["NO_PROXY"] == "*"
