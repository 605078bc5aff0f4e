"""The workload catalogue: what a generator sends, what it must get back, and every axis the
servers run with (event loop, JSON codec, allocator, compression, TLS), as frozen records.

A workload owns all of its variations, so a benchmark class is a grid of workloads and the
comparison takes only how long to measure (compare.Rounds). Expected HTTP bodies are made
here with the workload's codec: the generator compares every reply with these exact bytes.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import servers
from harness import documents
from harness.loadspec import ExpectedReply, HttpRequests, LoadSpec, WsArticle, WsBroadcast, WsEcho, WsHandshake
from harness.process import MALLOC_ENV, ServerProcess
from harness.topology import LOOPBACK
from servers import contract

if TYPE_CHECKING:
    from harness.tls import Certificate

# The baseline is the generator's reference ceiling, so it runs as fast as it can.
BASELINE_LOOP = "uvloop"
LOOPS = ("asyncio", "uvloop")
CODECS = ("stdlib", "orjson")
# "tuned": the steady state of a long-running server (harness/process.py, MALLOC_ENV);
# "glibc": glibc's defaults, as most deployments run.
ALLOCATORS = {"tuned": MALLOC_ENV, "glibc": {}}
# permessage-deflate: "off"; "on" (the server enables it, the generator requires it);
# "default" (each library as deployed by default; the generator offers it as the websockets
# client does, which is what the article ran).
COMPRESSION = {"off": "off", "on": "require", "default": "offer"}


@dataclass(frozen=True)
class Workload:
    """One thing to measure on every framework; ``load`` is the generator's spec without
    the server's address, which ``load_spec`` fills in once the server is up."""

    label: str  # the load itself, e.g. ws_echo_text_32B_c100; ``name`` adds the non-default axes
    path: str
    load: LoadSpec
    needs_http: bool = False
    server_args: tuple[str, ...] = ()  # extra ``python -m servers`` options (servers/__main__.py)
    compression: str = "off"
    loop: str = "asyncio"
    json_codec: str = "stdlib"
    allocator: str = "tuned"
    generator_processes: int | None = None  # None: one per generator CPU
    workers: int = 1  # server processes, in each framework's own multi-process mode (servers.Framework.workers_mode)
    warmup: bool = True  # False for fixed jobs that include their own set-up
    # Over TLS (wss://, https://): each server in its framework's own TLS configuration with
    # the certificate made for the measurement (compare.run_certificate), which the generator
    # verifies the server against.
    tls: bool = False

    def __post_init__(self) -> None:
        for value, allowed, axis in (
            (self.compression, COMPRESSION, "compression"),
            (self.loop, LOOPS, "loop"),
            (self.json_codec, CODECS, "JSON codec"),
            (self.allocator, ALLOCATORS, "allocator"),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {axis} {value!r}; choose one of {', '.join(allowed)}")

    @property
    def name(self) -> str:
        axes = [
            self.loop if self.loop != "asyncio" else "",
            self.json_codec if self.json_codec != "stdlib" else "",
            f"{self.allocator}_malloc" if self.allocator != "tuned" else "",
            f"{self.workers}_workers" if self.workers != 1 else "",
            "tls" if self.tls else "",
        ]
        return "_".join([self.label, *filter(None, axes)])

    @property
    def connections(self) -> int:
        return self.load.connections

    @property
    def scheme(self) -> str:
        plain = "http" if isinstance(self.load, HttpRequests) else "ws"
        return plain + "s" if self.tls else plain

    @property
    def server_env(self) -> dict[str, str]:
        return ALLOCATORS[self.allocator]

    def server_loop(self, framework: str) -> str:
        return BASELINE_LOOP if framework == "baseline" else self.loop

    def server_compression(self, framework: str) -> bool:
        if self.compression == "default":
            return servers.get(framework).ws_deflate_by_default
        return self.compression == "on"

    def unsupported(self, framework: str) -> str | None:
        """Why ``framework`` cannot run this workload (asv shows n/a), or None."""
        if self.needs_http and not servers.get(framework).http:
            return f"{framework} has no HTTP server"
        if self.compression == "on" and not servers.get(framework).ws_deflate:
            return f"{framework} implements no permessage-deflate"
        if self.workers > 1 and (reason := servers.workers_unsupported(framework)):
            return reason
        return servers.get(framework).cache_unsupported(self.path)

    def server(
        self,
        framework: str,
        cpu: int | tuple[int, ...] | None,
        host: str = LOOPBACK,
        certificate: Certificate | None = None,
    ) -> ServerProcess:
        """The (unstarted) server process for ``framework`` with this workload's axes, pinned
        to ``cpu`` (one or several), bound to ``host`` (harness.topology); a TLS workload's
        presents ``certificate``, the measurement's."""
        workers = ("--workers", str(self.workers)) if self.workers != 1 else ()
        return ServerProcess(
            framework,
            loop=self.server_loop(framework),
            json_codec=self.json_codec,
            compression=self.server_compression(framework),
            cpu=cpu,
            host=host,
            extra_args=self.server_args + workers + self.tls_server_args(certificate),
            env=self.server_env,
        )

    def tls_server_args(self, certificate: Certificate | None) -> tuple[str, ...]:
        """``python -m servers``' TLS options for this workload (none without TLS)."""
        if not self.tls:
            return ()
        certificate = self.required(certificate)
        return ("--tls-cert", str(certificate.cert_file), "--tls-key", str(certificate.key_file))

    def load_spec(self, server: ServerProcess, certificate: Certificate | None = None, **changes: object) -> LoadSpec:
        """The generator's spec aimed at ``server`` (``changes``: connections, warmup_s, ...);
        a TLS workload's carries ``certificate``'s PEM text, the one the generator trusts."""
        pem = Path(self.required(certificate).cert_file).read_text() if self.tls else ""
        url = server.url(self.path, self.scheme)
        return dataclasses.replace(self.load, url=url, server_certificate_pem=pem, **changes)

    def required(self, certificate: Certificate | None) -> Certificate:
        if certificate is None:
            raise ValueError(
                f"{self.name} runs over TLS: it needs the measurement's certificate (compare.run_certificate)"
            )
        return certificate

    def with_server_args(self, *args: str) -> Workload:
        return dataclasses.replace(self, server_args=self.server_args + args)


def with_tls(workload: Workload) -> Workload:
    """``workload`` over TLS: the same load, named ``<name>_tls``."""
    return dataclasses.replace(workload, tls=True)


# --- WebSocket ---------------------------------------------------------------------------


def ws_echo(
    size: int,
    connections: int,
    binary: bool = False,
    *,
    loop: str = "asyncio",
    allocator: str = "tuned",
    tls: bool = False,
) -> Workload:
    kind = "binary" if binary else "text"
    load = WsEcho(connections=connections, size=size, binary=binary)
    label = f"ws_echo_{kind}_{size}B_c{connections}"
    return Workload(label, contract.WS_ECHO, load, loop=loop, allocator=allocator, tls=tls)


def ws_echo_json(size: int, connections: int, compression: str) -> Workload:
    """Echo of JSON text documents of ``size`` bytes, with permessage-deflate on or off."""
    load = WsEcho(connections=connections, size=size, payload="json", compression=COMPRESSION[compression])
    label = f"ws_echo_json_{size}B_c{connections}_deflate_{compression}"
    return Workload(label, contract.WS_ECHO, load, compression=compression)


def ws_echo_fragmented(size: int, fragment_size: int, connections: int) -> Workload:
    """Binary echo of ``size``-byte messages, each sent as ``fragment_size``-byte fragments."""
    load = WsEcho(connections=connections, size=size, binary=True, fragment_size=fragment_size)
    return Workload(f"ws_echo_binary_{size}B_in_{fragment_size}B_fragments_c{connections}", contract.WS_ECHO, load)


# The headline workloads (benchmarks/headline.txt: bench_websocket.EchoText32B and
# bench_http.GetJson), named once: the cost family records their flame graphs too.
def headline_ws_echo() -> Workload:
    return ws_echo(size=32, connections=100)


def ws_handshake(connections: int, *, tls: bool = False) -> Workload:
    """WebSocket connections opened and cleanly closed, ``connections`` slots at a time. With
    ``tls`` each one is TCP connect, a full TLS handshake (never a resumed session), the
    upgrade and the closing handshake."""
    load = WsHandshake(connections=connections)
    return Workload(f"ws_handshake_c{connections}", contract.WS_ECHO, load, tls=tls)


def ws_broadcast(subscribers: int, size: int = 32) -> Workload:
    """One text message in flight from one publisher to ``subscribers`` (publisher included).
    An op is one message delivered to all; latencies are per delivery."""
    load = WsBroadcast(connections=subscribers, size=size, connect_timeout_s=10 + subscribers / 100)
    # One generator process: the publisher must see every delivery to time the fan-out.
    return Workload(f"ws_broadcast_{size}B_to_{subscribers}", contract.WS_BROADCAST, load, generator_processes=1)


def ws_article(total_connections: int = 1000, messages: int = 100, concurrency: int = 100) -> Workload:
    """The article's WebSocket workload, as its script ran it: ``total_connections`` x
    ``messages`` echoes of "Hello", at most ``concurrency`` connections open at a time, each
    opened, used and closed inside the timing; permessage-deflate offered as the websockets
    client does and accepted or declined by each server's defaults. An op is one message."""
    load = WsArticle(total_connections=total_connections, messages=messages, concurrency=concurrency)
    label = f"ws_article_{total_connections}x{messages}_at_most_{concurrency}"
    return Workload(label, contract.WS_ECHO, load, compression="default", generator_processes=1, warmup=False)


# --- HTTP --------------------------------------------------------------------------------


@functools.cache
def encoded(json_codec: str, document_name: str) -> bytes:
    """A named JSON document (the contract's or documents.py's) as ``json_codec`` writes it."""
    dumps, _ = servers.json_codec(json_codec)
    if document_name == "message":
        return dumps(contract.JSON_MESSAGE)
    if document_name == "cache":
        return dumps(contract.cache_document())
    return dumps(documents.document(document_name))


def http_get(
    path: str,
    connections: int,
    *,
    if_none_match: bool = False,
    server_args: tuple[str, ...] = (),
    json_codec: str = "stdlib",
    loop: str = "asyncio",
    allocator: str = "tuned",
    tls: bool = False,
) -> Workload:
    """GET ``path`` again and again (over TLS with ``tls``). On /cache/etag the ETag is checked
    too, and with ``if_none_match`` every request carries the current tag and must be answered 304."""
    if if_none_match and path != contract.CACHE_ETAG:
        raise ValueError(f"no ETag known for GET {path}")
    headers: tuple[tuple[str, str], ...] = ()
    if path == contract.PLAINTEXT:
        expect = ExpectedReply(contract.TEXT_PLAIN, contract.PLAINTEXT_BODY)
    elif path == contract.JSON:
        expect = ExpectedReply(contract.APPLICATION_JSON, encoded(json_codec, "message"))
    elif path in contract.CACHE_DOCUMENT_PATHS:
        body = encoded(json_codec, "cache")
        tag = contract.etag(body) if path == contract.CACHE_ETAG else None
        expect = ExpectedReply(contract.APPLICATION_JSON, body, etag=tag)
        if if_none_match:  # the client holds the current version
            headers = (("If-None-Match", tag),)
            expect = ExpectedReply("", b"", status=304, etag=tag)
    else:
        raise ValueError(f"no expected response known for GET {path}")
    load = HttpRequests(connections=connections, method="GET", headers=headers, expect=expect)
    label = f"http_get{path.replace('/', '_')}{'_if_none_match' if if_none_match else ''}_c{connections}"
    axes = {"json_codec": json_codec, "loop": loop, "allocator": allocator, "tls": tls}
    return Workload(label, path, load, needs_http=True, server_args=server_args, **axes)


def headline_get_json() -> Workload:
    return http_get(contract.JSON, connections=64)


def http_post_json(size_name: str, connections: int, *, json_codec: str = "stdlib") -> Workload:
    """POST /json/echo of documents.document(size_name); the reply must be the server's
    codec's exact bytes for the same document."""
    body = encoded(json_codec, size_name)
    expect = ExpectedReply(contract.APPLICATION_JSON, body)
    load = HttpRequests(connections=connections, method="POST", body=body, expect=expect)
    label = f"http_post_json_echo_{size_name}_c{connections}"
    return Workload(label, contract.JSON_ECHO, load, needs_http=True, json_codec=json_codec)
