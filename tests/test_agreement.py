"""The second opinions of python -m harness.agreement: the Node.js WebSocket client counts
only verified echoes and fails with the cause; the command refuses unknown frameworks.
No timing is asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import agreement
from harness.process import ServerProcess
from tests.test_websocket_workloads import fake_server


def test_node_client_counts_verified_echoes_and_samples_the_server():
    with ServerProcess("baseline") as server:
        rate, server_cpu = agreement.node_ws_echo(server, connections=4, seconds=0.3, size=32, cpu=None)
    assert rate > 0
    assert 0 < server_cpu <= 110


@pytest.mark.parametrize(
    ("mode", "message"),
    [("wrong", 'wrong echo: sent "00000000000000000000000000000000"'), ("die", "closed by the server|ECONNRESET")],
)
def test_node_client_fails_with_the_cause(mode, message):
    with fake_server(mode) as server:
        with pytest.raises(RuntimeError, match=message):
            agreement.node_ws_echo(server, connections=2, seconds=2, size=32, cpu=None)


def test_node_client_refuses_sizes_too_small_for_its_sequence_numbers():
    with ServerProcess("baseline") as server:
        with pytest.raises(RuntimeError, match="usage"):
            agreement.node_ws_echo(server, connections=1, seconds=0.1, size=8, cpu=None)


def test_agreement_refuses_an_unknown_framework():
    result = subprocess.run(
        [sys.executable, "-m", "harness.agreement", "--frameworks", "aiohttp,nope"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown framework 'nope'" in result.stderr
