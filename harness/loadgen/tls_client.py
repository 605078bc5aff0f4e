"""The generator's side of TLS: a client context that trusts the run's certificate and nothing
else, what a connection negotiated, and a failed verification reported as one.

The measuring process makes a certificate for each measurement (harness.compare) and puts its
PEM text in the spec (LoadSpec.server_certificate_pem), so a generator on another host needs
no file. The generator verifies the server's certificate and its name (the url's host, which
the certificate's subjectAltName covers) against it, as a browser verifies a server against
its CAs; verification is never turned off (no CERT_NONE), so a server presenting another
certificate is refused, and nothing counts.

Every connection makes a full handshake: neither Python's ssl (under uvloop, the HTTP
generator's) nor aiofastnet (picows' transports) resumes a TLS session unless one is handed to
the new connection, which the generator never does; the handshake workload checks it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

from harness.loadgen.window import LoadError
from harness.loadspec import LoadSpec

T = TypeVar("T")
SECURE_SCHEMES = ("https", "wss")


def client_context(spec: LoadSpec) -> ssl.SSLContext | None:
    """The context that verifies the server against the spec's certificate, or None for a
    plain url; LoadError when the url and the certificate disagree (one without the other)."""
    secure = urlsplit(spec.url).scheme in SECURE_SCHEMES
    if secure != bool(spec.server_certificate_pem):
        have = "a certificate but a plain url" if spec.server_certificate_pem else "no certificate"
        raise LoadError(f"the spec for {spec.url} has {have}: TLS needs both a wss/https url and the run's certificate")
    if not secure:
        return None
    # cadata alone: the system's CAs are not loaded, so the run's certificate is the only one
    # that verifies. create_default_context requires a verified chain and a matching name.
    return ssl.create_default_context(cadata=spec.server_certificate_pem)


def describe(ssl_object: ssl.SSLObject) -> str:
    """What a connection negotiated, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"."""
    cipher, _, _ = ssl_object.cipher()
    return f"{ssl_object.version()} {cipher}"


def negotiated(transport: asyncio.BaseTransport) -> str | None:
    """describe() for a transport's TLS connection; None for a plain one."""
    ssl_object = transport.get_extra_info("ssl_object")
    return None if ssl_object is None else describe(ssl_object)


def session_resumed(transport: asyncio.BaseTransport) -> bool:
    ssl_object = transport.get_extra_info("ssl_object")
    return ssl_object is not None and bool(ssl_object.session_reused)


async def verified(connecting: Awaitable[T], url: str) -> T:
    """``connecting``'s connection; a LoadError that says so when the server's certificate
    did not verify (aiofastnet's SSLCertVerificationError has an empty message: its
    verify_message is the reason)."""
    try:
        return await connecting
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc) or "no reason given"
        raise LoadError(
            f"TLS certificate verification failed for {url}: {reason} (the generator trusts only the run's "
            f"certificate, from its spec)"
        ) from None
