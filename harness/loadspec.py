"""What the measuring process sends a load-generator process, and what each window answers.

Both sides of the pipe import this module (it needs only the standard library): the parent
builds a frozen spec, ``to_json()`` makes it the first line of the generator's stdin, and the
generator rebuilds it with ``load_spec_from_json()``. One class per kind of load replaces
string-keyed dicts, so a misspelt field fails at construction, not mid-measurement.
"""

from __future__ import annotations

import array
import base64
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

CONNECT_TIMEOUT_S = 10.0  # for all connections of a generator, unless a spec says otherwise


@dataclass(frozen=True)
class LoadSpec:
    """The fields every kind shares: where, how many connections, how long to warm up, and
    for TLS (a wss:// or https:// url) the certificate the server must present."""

    kind: ClassVar[str]
    url: str = ""  # filled in once the server's port is known (Workload.load_spec)
    connections: int = 1
    warmup_s: float = 0.0
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    # The run's certificate as PEM text, the only one the generator trusts (harness/loadgen/
    # tls_client.py): in the spec, not a file, so that a generator on another host needs none.
    server_certificate_pem: str = ""

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, **{f.name: _encode(getattr(self, f.name)) for f in _fields(self)}})


@dataclass(frozen=True)
class WsEcho(LoadSpec):
    """Steady echo on open connections, one message in flight on each."""

    kind: ClassVar[str] = "ws_echo"
    size: int = 32
    binary: bool = False
    payload: str = "filler"  # or "json": documents as compressible as a real API message
    fragment_size: int = 0  # >0: each message sent as fragments of this size
    # "off"; "offer" (as the websockets client does: the server may accept or decline); "require"
    compression: str = "off"


@dataclass(frozen=True)
class WsHandshake(LoadSpec):
    """Connections opened and cleanly closed, one after another on each slot."""

    kind: ClassVar[str] = "ws_handshake"


@dataclass(frozen=True)
class WsBroadcast(LoadSpec):
    """One text message in flight from one publisher to every subscriber."""

    kind: ClassVar[str] = "ws_broadcast"
    size: int = 32


@dataclass(frozen=True)
class WsArticle(LoadSpec):
    """The article's fixed job: connections x messages, a few connections at a time."""

    kind: ClassVar[str] = "ws_article"
    total_connections: int = 1000
    messages: int = 100
    concurrency: int = 100
    message: str = "Hello"
    compression: str = "offer"


@dataclass(frozen=True)
class ExpectedReply:
    """The exact HTTP answer a request must get: anything else fails the measurement."""

    content_type: str
    body: bytes
    status: int = 200
    etag: str | None = None


@dataclass(frozen=True)
class HttpRequests(LoadSpec):
    """One request, sent again and again on keep-alive connections (closed or open loop)."""

    kind: ClassVar[str] = "http"
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    expect: ExpectedReply = field(default_factory=lambda: ExpectedReply("", b""))


KINDS: dict[str, type[LoadSpec]] = {
    cls.kind: cls for cls in (WsEcho, WsHandshake, WsBroadcast, WsArticle, HttpRequests)
}


def load_spec_from_json(text: str) -> LoadSpec:
    data = json.loads(text)
    kind = data.pop("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown load kind {kind!r}; known: {', '.join(KINDS)}")
    cls = KINDS[kind]
    types = {f.name: f.type for f in _fields(cls)}
    unknown = set(data) - set(types)
    if unknown:
        raise ValueError(f"{kind} has no field(s) {', '.join(sorted(unknown))}")
    return cls(**{name: _decode(types[name], value) for name, value in data.items()})


def _fields(spec: LoadSpec | type[LoadSpec]) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(spec)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, ExpectedReply):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _decode(type_name: str, value: Any) -> Any:
    # Annotations are strings here (from __future__ import annotations): match on them.
    if type_name == "bytes":
        return base64.b64decode(value)
    if type_name == "ExpectedReply":
        return ExpectedReply(**{**value, "body": base64.b64decode(value["body"])})
    if type_name.startswith("tuple"):
        return tuple(tuple(pair) for pair in value)
    return value


# --- what a generator answers ------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """A generator's connections are open and warmed up."""

    connect_s: float
    connections: int
    deflate_connections: int  # of those, how many negotiated permessage-deflate
    tls: str | None = None  # what TLS connections negotiated, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"

    def to_json(self) -> str:
        return json.dumps({"ready": dataclasses.asdict(self)})

    @staticmethod
    def merge(parts: list[Ready]) -> Ready:
        negotiated = sorted({p.tls for p in parts if p.tls})  # one value, unless processes disagreed
        return Ready(
            connect_s=max(p.connect_s for p in parts),
            connections=sum(p.connections for p in parts),
            deflate_connections=sum(p.deflate_connections for p in parts),
            tls="; ".join(negotiated) or None,
        )


@dataclass(frozen=True)
class WindowResult:
    """What one measurement window (or burst) counted: verified replies only."""

    ops: int
    bytes: int  # response bytes on the wire, head and body (HTTP generators count them)
    seconds: float  # from the window's start to the last verified reply
    client_cpu_s: float
    deflate_connections: int  # connections opened inside the window that negotiated deflate
    latencies_us: array.array  # one per verified reply ("f")
    schedule_lag_us: array.array | None = None  # open loop: how late each send was noticed
    rate: float | None = None  # open loop: the offered requests per second

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        for key in ("latencies_us", "schedule_lag_us"):
            if data[key] is not None:
                data[key] = base64.b64encode(data[key].tobytes()).decode()
        return json.dumps({"window": data})

    @staticmethod
    def from_record(data: dict) -> WindowResult:
        arrays = {}
        for key in ("latencies_us", "schedule_lag_us"):
            if data.get(key) is not None:
                values = array.array("f")
                values.frombytes(base64.b64decode(data[key]))
                arrays[key] = values
        return WindowResult(**{**data, "schedule_lag_us": None, **arrays})

    @staticmethod
    def merge(parts: list[WindowResult]) -> WindowResult:
        """Several generator processes' windows as one: counts add, the window is the longest."""
        latencies = array.array("f")
        lags = array.array("f") if parts[0].schedule_lag_us is not None else None
        for part in parts:
            latencies.extend(part.latencies_us)
            if lags is not None and part.schedule_lag_us is not None:
                lags.extend(part.schedule_lag_us)
        rates = [p.rate for p in parts if p.rate is not None]
        return WindowResult(
            ops=sum(p.ops for p in parts),
            bytes=sum(p.bytes for p in parts),
            seconds=max(p.seconds for p in parts),
            client_cpu_s=sum(p.client_cpu_s for p in parts),
            deflate_connections=sum(p.deflate_connections for p in parts),
            latencies_us=latencies,
            schedule_lag_us=lags,
            rate=sum(rates) if rates else None,
        )


def error_line(message: str) -> str:
    return json.dumps({"error": message})


def parse_answer(line: str) -> Ready | WindowResult:
    """A generator's answer line as its record; GeneratorFailure for an error or garbage."""
    try:
        record = json.loads(line)
    except ValueError:
        raise GeneratorFailure(f"unreadable answer {line[:200]!r}") from None
    if not isinstance(record, dict):
        raise GeneratorFailure(f"unreadable answer {line[:200]!r}")
    if "error" in record:
        raise GeneratorFailure(str(record["error"]))
    if "ready" in record:
        return Ready(**record["ready"])
    if "window" in record:
        return WindowResult.from_record(record["window"])
    raise GeneratorFailure(f"unexpected answer {line[:200]!r}")


class GeneratorFailure(RuntimeError):
    """A generator reported an error (its message), or answered something unreadable."""
