"""``python -m servers`` and the registry behind it: arguments, errors, signals, options, release order."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

import servers
from servers import contract
from servers.__main__ import is_loopback
from tests.conftest import http


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "servers", *args], capture_output=True, text=True, timeout=timeout)


def test_unknown_framework_is_refused_with_the_list_of_frameworks():
    result = run_cli("nosuch")
    assert result.returncode == 2
    assert "unknown framework 'nosuch'" in result.stderr
    for name in servers.FRAMEWORKS:
        assert name in result.stderr


def test_busy_port_is_a_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_cli("baseline", "--port", str(port))
    assert result.returncode == 4
    assert f"cannot bind 127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr


def test_missing_framework_package_is_a_clear_error(monkeypatch):
    # Hide tornado from a child interpreter: find_spec then reports it missing.
    code = (
        "import sys, importlib.util as u; real = u.find_spec;"
        "u.find_spec = lambda n, *a: None if n == 'tornado' else real(n, *a);"
        "from servers.__main__ import main; sys.exit(main(['tornado']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert result.returncode == 3
    assert "cannot run tornado: tornado is not installed" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("framework", list(servers.FRAMEWORKS))
def test_ready_line_then_clean_exit_on_signal(framework, signum):
    process = subprocess.Popen(
        [sys.executable, "-m", "servers", framework], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        record = contract.parse_ready_line(process.stdout.readline())
        assert record is not None and record["framework"] == framework and record["pid"] == process.pid
        assert http(f"http://127.0.0.1:{record['port']}{contract.HEALTH}")[0] == 200
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0, process.stderr.read()
    finally:
        process.kill()
        process.wait()


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.org")


def test_server_options_default_to_the_contract():
    options = servers.ServerOptions()
    assert (options.cache_ttl_s, options.backend_ms) == (contract.DEFAULT_CACHE_TTL_S, contract.DEFAULT_BACKEND_MS)


@pytest.mark.parametrize(
    "ordered",
    [
        ["3.9.5rc1", "3.9.5", "3.10.11", "3.14.5", "6.1"],
        ["1.0.dev1", "1.0a1.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1.dev1", "1.0.post1", "1.0.1"],
        ["not a release", "0.9", "13.0", "13.1", "17.4"],
    ],
)
def test_release_key_orders_releases_as_pep_440_does(ordered):
    assert sorted(reversed(ordered), key=servers.release_key) == ordered


def test_release_key_ignores_trailing_zeros_and_spelling():
    assert servers.release_key("6.1") == servers.release_key("6.1.0") == servers.release_key("v6.1")
    assert servers.release_key("3.9.5rc1") == servers.release_key("3.9.5-RC.1")
