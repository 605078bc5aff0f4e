"""The certificate a TLS measurement's servers present, made for the run with the ``openssl`` CLI.

Why made per run and never committed: a key in the checkout would be a key anyone can read, and a
certificate that expires would break old checkouts. Whoever makes it (harness.compare, the tests)
makes it in a temporary folder and deletes that folder when the run ends.

Why always the same key type (ECDSA on P-256, self-signed, no chain): the handshake's cost depends
on the key's type and size, so every run and every framework pays for the same signature, and
TLS figures stay comparable across runs and commits. The certificate is its own trust anchor: a
client trusts it and nothing else (client_context), and checks the name it connects to against its
subjectAltName (127.0.0.1 and localhost, plus the hosts it was made for).

No ``cryptography`` package here: the suite's environments do not have it, and Debian's openssl
(scripts/setup.sh installs it) is on every host that runs the suite.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "openssl"
OPENSSL_TIMEOUT_S = 10.0  # it takes ~20 ms; a hung openssl fails the run instead of stalling it
VALID_DAYS = 2  # long enough for the longest run, short enough that a leaked key soon means nothing
CURVE = "prime256v1"  # P-256
COMMON_NAME = "127.0.0.1"
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
CERT_FILE_NAME = "server.crt"
KEY_FILE_NAME = "server.key"


class TlsError(RuntimeError):
    """The certificate could not be made: openssl missing, failing or too slow."""


@dataclass(frozen=True)
class Certificate:
    cert_file: Path  # PEM certificate, what servers present and clients trust
    key_file: Path  # PEM private key, unencrypted, readable only by its owner (0600)


def subject_alt_names(hosts: Sequence[str] = ()) -> str:
    """The subjectAltName value for 127.0.0.1, localhost and ``hosts``: an IP entry for an
    address, a DNS entry for a name (a client checks an IP it connects to only against IP entries)."""
    entries: list[str] = []
    for host in (*DEFAULT_HOSTS, *hosts):
        try:
            entry = f"IP:{ipaddress.ip_address(host.strip('[]'))}"
        except ValueError:
            entry = f"DNS:{host}"
        if entry not in entries:
            entries.append(entry)
    return ",".join(entries)


def make_certificate(directory: Path | str, hosts: Sequence[str] = ()) -> Certificate:
    """A self-signed ECDSA P-256 certificate and its key in ``directory``, valid for VALID_DAYS
    days, for 127.0.0.1, localhost and ``hosts`` (a remote server's address, harness.topology).

    TlsError naming the cause (openssl's own message) if openssl is missing, fails or hangs."""
    directory = Path(directory)
    cert_file, key_file = directory / CERT_FILE_NAME, directory / KEY_FILE_NAME
    openssl = shutil.which(OPENSSL)
    if openssl is None:
        raise TlsError(f"cannot make the run's TLS certificate: {OPENSSL} is not on PATH (Debian package openssl)")
    command = [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        f"ec_paramgen_curve:{CURVE}",
        "-nodes",  # unencrypted: servers load it without a passphrase
        "-days",
        str(VALID_DAYS),
        "-subj",
        f"/CN={COMMON_NAME}",
        "-addext",
        f"subjectAltName={subject_alt_names(hosts)}",
        # What a strict verifier (Python 3.13's VERIFY_X509_STRICT) expects of a certificate that
        # is both the trust anchor and the server's: it may sign (itself) and serve TLS.
        "-addext",
        "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext",
        "extendedKeyUsage=serverAuth",
        "-keyout",
        str(key_file),
        "-out",
        str(cert_file),
    ]
    # The key is created 0600 from its first byte (umask), not chmod-ed after it was readable.
    previous_umask = os.umask(0o077)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise TlsError(
            f"cannot make the run's TLS certificate: {OPENSSL} did not finish in {OPENSSL_TIMEOUT_S:g}s"
        ) from None
    except OSError as exc:
        raise TlsError(f"cannot make the run's TLS certificate: cannot run {openssl}: {exc}") from None
    finally:
        os.umask(previous_umask)
    if result.returncode != 0 or not cert_file.is_file() or not key_file.is_file():
        detail = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        raise TlsError(f"cannot make the run's TLS certificate: {OPENSSL} req failed: {detail}")
    key_file.chmod(0o600)
    cert_file.chmod(0o644)
    return Certificate(cert_file=cert_file, key_file=key_file)


def client_context(cert: Certificate) -> ssl.SSLContext:
    """A client context that trusts ``cert`` and nothing else (not the system's CAs), checking
    the chain and the host name, as a browser checks a server against its CAs."""
    return ssl.create_default_context(cafile=str(cert.cert_file))


def describe(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str:
    """What a connection negotiated, for records: e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"."""
    cipher = ssl_object.cipher()
    return f"{ssl_object.version()} {cipher[0] if cipher else 'no cipher'}"
