"""Every framework served over TLS (``python -m servers <framework> --tls-cert FILE --tls-key FILE``),
in its own TLS setting, with a certificate harness.tls made for the run: GET /json over https and a
WebSocket echo over wss, each verified against that certificate alone; a plain request gets no HTTP
answer; the flags refuse what cannot be served before binding; and harness.tls says why it cannot
make a certificate.

The servers start together (one scenario, as in test_workers), the SO_REUSEPORT mode (the baseline's)
and uvicorn's supervisor on two workers among them, and are stopped with SIGTERM at the end, leaving
no process behind."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

import servers
from harness import tls
from servers import contract
from servers.__main__ import EXIT_USAGE
from tests.test_workers import Server, alive, gone, wait_ready

ROOT = Path(__file__).resolve().parent.parent
ALL = list(servers.FRAMEWORKS)
HTTP = [name for name in ALL if servers.FRAMEWORKS[name].http]
# One framework per kind of multi-process mode that must serve TLS: the baseline's SO_REUSEPORT
# processes (aiohttp's and websockets' mode too) and uvicorn's supervisor (the ASGI frameworks').
ON_WORKERS = ["baseline", "uvicorn"]
STOP_TIMEOUT_S = 10.0
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")


class TlsServer(Server):
    """One ``python -m servers <framework> --tls-cert --tls-key [--workers N]`` and its ready record."""

    def __init__(self, framework: str, certificate: tls.Certificate, workers: int = 1) -> None:
        tls_args = ("--tls-cert", str(certificate.cert_file), "--tls-key", str(certificate.key_file))
        super().__init__(framework, workers, tls_args)

    def __repr__(self) -> str:
        return f"{self.framework} on {self.workers} worker(s)"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tls.Certificate:
    return tls.make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def serving(certificate: tls.Certificate) -> Iterator[dict[tuple[str, int], TlsServer]]:
    """Every framework over TLS on one worker, and ON_WORKERS on two, started together; stopped with
    SIGTERM once the module's tests are done, each exiting 0 with its whole tree gone."""
    started = [TlsServer(name, certificate) for name in ALL]
    started += [TlsServer(name, certificate, workers=2) for name in ON_WORKERS]
    try:
        wait_ready(started)
        yield {(server.framework, server.workers): server for server in started}
        for server in started:
            server.process.send_signal(signal.SIGTERM)
        for server in started:
            code = server.process.wait(timeout=STOP_TIMEOUT_S)
            assert code == 0, f"{server} exited with status {code}: {server.process.stderr.read().decode()}"
    finally:
        for server in started:
            with contextlib.suppress(ProcessLookupError):
                server.process.kill()
            server.process.wait()
        for server in started:
            assert gone(server.tree), f"{server}: {alive(server.tree)} outlived the root"


def get_json(port: int, context: ssl.SSLContext) -> tuple[http.client.HTTPResponse, bytes, str]:
    """GET /json over https: the response, its body, and the TLS version negotiated."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", contract.JSON)
        response = connection.getresponse()
        return response, response.read(), connection.sock.version()
    finally:
        connection.close()


def check_wss_echo(port: int, context: ssl.SSLContext) -> str:
    """A text and a binary message echoed over wss, verified; the TLS version negotiated."""
    url = f"wss://127.0.0.1:{port}{contract.WS_ECHO}"
    with connect(url, ssl=context, proxy=None, open_timeout=10, max_size=None) as ws:
        for message in ("héllo over TLS", bytes(range(256)) * 64):
            ws.send(message)
            assert ws.recv(timeout=10) == message
        return ws.socket.version()


def servers_on(serving: dict, frameworks: list[str]) -> list[TlsServer]:
    return [serving[name, 1] for name in frameworks]


def test_the_ready_line_says_tls(serving):
    for server in serving.values():
        assert server.record["tls"] is True, server
        assert server.record["framework"] == server.framework
        assert len(server.record.get("workers", [server.record["pid"]])) == server.workers


def test_get_json_over_https_verified_against_the_run_certificate(serving, certificate):
    context = tls.client_context(certificate)
    for server in servers_on(serving, HTTP):
        response, body, version = get_json(server.port, context)
        assert response.status == 200, server
        assert response.getheader("Content-Type", "").startswith(contract.APPLICATION_JSON), server
        assert json.loads(body) == contract.JSON_MESSAGE, server
        assert version in TLS_VERSIONS, (server, version)


def test_ws_echo_over_wss_verified_against_the_run_certificate(serving, certificate):
    context = tls.client_context(certificate)
    for server in servers_on(serving, ALL):
        assert check_wss_echo(server.port, context) in TLS_VERSIONS, server


def test_several_workers_serve_tls(serving, certificate):
    # Enough connections that both workers answer some (each accepts its own share).
    context = tls.client_context(certificate)
    for name in ON_WORKERS:
        server = serving[name, 2]
        for _ in range(4):
            response, body, _version = get_json(server.port, context)
            assert (response.status, json.loads(body)) == (200, contract.JSON_MESSAGE), server
            check_wss_echo(server.port, context)


def test_a_plain_request_to_a_tls_server_gets_no_http_answer(serving):
    for server in servers_on(serving, ALL):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(f"GET {contract.HEALTH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            answer = b""
            with contextlib.suppress(OSError):  # a reset, or nothing until the timeout
                while chunk := sock.recv(4096):
                    answer += chunk
        assert not answer.startswith(b"HTTP/"), (server, answer[:80])


def test_a_client_trusting_another_certificate_is_refused(serving, tmp_path):
    stranger = tls.client_context(tls.make_certificate(tmp_path))
    with pytest.raises(ssl.SSLCertVerificationError):
        get_json(serving["baseline", 1].port, stranger)


def test_the_negotiated_connection_is_described_for_records(serving, certificate):
    context = tls.client_context(certificate)
    with socket.create_connection(("127.0.0.1", serving["aiohttp", 1].port), timeout=10) as plain:
        with context.wrap_socket(plain, server_hostname="127.0.0.1") as sock:
            version, cipher = tls.describe(sock).split(" ")
    assert version in TLS_VERSIONS and cipher


# --- the flags -------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "servers", "baseline", *args], cwd=ROOT, capture_output=True, text=True, timeout=20
    )


@pytest.mark.parametrize("given, missing", [("--tls-cert", "--tls-key"), ("--tls-key", "--tls-cert")])
def test_one_flag_without_the_other_is_a_usage_error_naming_it(certificate, given, missing):
    path = certificate.cert_file if given == "--tls-cert" else certificate.key_file
    result = run_cli(given, str(path))
    assert result.returncode == EXIT_USAGE
    assert f"needs {missing}" in result.stderr


def test_a_missing_file_is_a_usage_error_naming_it(certificate, tmp_path):
    nowhere = tmp_path / "no-such.key"
    result = run_cli("--tls-cert", str(certificate.cert_file), "--tls-key", str(nowhere))
    assert result.returncode == EXIT_USAGE
    assert f"--tls-key {nowhere}" in result.stderr and "No such file" in result.stderr


def test_a_key_that_is_not_the_certificates_is_a_usage_error(certificate, tmp_path):
    other = tls.make_certificate(tmp_path)
    result = run_cli("--tls-cert", str(certificate.cert_file), "--tls-key", str(other.key_file))
    assert result.returncode == EXIT_USAGE
    assert "the key does not belong to the certificate" in result.stderr


def test_files_swapped_are_a_usage_error_naming_the_file(certificate):
    result = run_cli("--tls-cert", str(certificate.key_file), "--tls-key", str(certificate.cert_file))
    assert result.returncode == EXIT_USAGE
    assert f"--tls-cert {certificate.key_file}: no PEM certificate" in result.stderr


def test_an_encrypted_key_is_refused_without_asking_for_a_passphrase(certificate, tmp_path):
    encrypted = tmp_path / "encrypted.key"
    command = ["openssl", "ec", "-in", str(certificate.key_file), "-aes256", "-passout", "pass:secret"]
    subprocess.run(
        [*command, "-out", str(encrypted)],
        check=True,
        capture_output=True,
        timeout=10,
    )
    result = run_cli("--tls-cert", str(certificate.cert_file), "--tls-key", str(encrypted))
    assert result.returncode == EXIT_USAGE
    assert "encrypted" in result.stderr


# --- harness.tls -----------------------------------------------------------------------------


def test_the_certificate_covers_loopback_and_the_hosts_asked_for(tmp_path):
    made = tls.make_certificate(tmp_path, hosts=("10.1.2.3", "bench.example"))
    assert made.key_file.stat().st_mode & 0o777 == 0o600
    text = subprocess.run(
        ["openssl", "x509", "-in", str(made.cert_file), "-noout", "-text"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("IP Address:127.0.0.1", "DNS:localhost", "IP Address:10.1.2.3", "DNS:bench.example"):
        assert name in text
    assert "ASN1 OID: prime256v1" in text


def test_without_openssl_on_path_make_certificate_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(tls.TlsError, match="openssl is not on PATH"):
        tls.make_certificate(tmp_path)


def test_a_failing_openssl_is_reported_with_its_own_message(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "openssl"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'unable to load curve' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    with pytest.raises(tls.TlsError, match="openssl req failed: unable to load curve"):
        tls.make_certificate(tmp_path)
