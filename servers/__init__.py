"""Framework servers behind one endpoint contract (see servers/contract.py).

Adding a framework: write ``servers/<name>_server.py`` with an ``async def start(sock,
options)`` that returns an async ``stop()``, then add one ``Framework`` line below.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import itertools
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol


@dataclass(frozen=True)
class Framework:
    name: str
    module: str  # the server module implementing the contract
    package: str  # the distribution under test, whose version results are tied to
    http: bool  # serves the HTTP endpoints as well as the WebSocket ones
    min_version: str = ""  # the oldest release the server module supports, and why
    min_version_reason: str = ""
    # permessage-deflate: can it (with --compression), and does the library do it by
    # default when a client offers it (as in the article, which ran the libraries' defaults)?
    ws_deflate: bool = True
    ws_deflate_by_default: bool = False


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("baseline", "servers.baseline_server", "", http=True),
        Framework("aiohttp", "servers.aiohttp_server", "aiohttp", http=True, ws_deflate_by_default=True),
        Framework("tornado", "servers.tornado_server", "tornado", http=True),
        Framework(
            "websockets",
            "servers.websockets_server",
            "websockets",
            http=False,
            ws_deflate_by_default=True,
            min_version="13.0",
            min_version_reason="the new asyncio implementation (websockets.asyncio.server) arrived in 13.0",
        ),
    )
}
FRAMEWORKS_UNDER_TEST = tuple(name for name in FRAMEWORKS if name != "baseline")
HTTP_FRAMEWORKS = tuple(name for name in FRAMEWORKS_UNDER_TEST if FRAMEWORKS[name].http)


class UnknownFramework(ValueError):
    pass


def get(name: str) -> Framework:
    try:
        return FRAMEWORKS[name]
    except KeyError:
        raise UnknownFramework(f"unknown framework {name!r}; known frameworks: {', '.join(FRAMEWORKS)}") from None


def missing(name: str) -> str | None:
    """Why ``name`` cannot run in this interpreter, or None if it can."""
    framework = get(name)
    if framework.package and importlib.util.find_spec(framework.package) is None:
        return f"{framework.package} is not installed in this environment"
    if framework.min_version and release_key(version(name)) < release_key(framework.min_version):
        return (
            f"{framework.package} {version(name)} is older than {framework.min_version}, the oldest release "
            f"this suite's server supports: {framework.min_version_reason}"
        )
    return None


def release_key(release: str) -> tuple[int, ...]:
    """A sortable key for a release number such as '3.10.11' (pre-release tags dropped)."""
    parts = []
    for part in release.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        parts.append(int(digits or 0))
    return tuple(parts)


def version(name: str) -> str:
    """The installed release of the framework under test ('' for the baseline)."""
    framework = get(name)
    return importlib.metadata.version(framework.package) if framework.package else ""


@dataclass(frozen=True)
class ServerOptions:
    json_codec: str = "stdlib"  # "stdlib" or "orjson"
    compression: bool = False  # negotiate permessage-deflate when the client offers it
    cache_ttl_s: float = 30.0  # how long a cached value lives (contract.DEFAULT_CACHE_TTL_S)
    backend_ms: float = 20.0  # the slow backend's awaited delay (contract.DEFAULT_BACKEND_MS)
    redis_port: int | None = None  # the redis-server on 127.0.0.1 behind /cache/redis


Stop = Callable[[], Awaitable[None]]


class ServerModule(Protocol):
    async def start(self, sock: socket.socket, options: ServerOptions) -> Stop: ...


def load(name: str) -> ModuleType:
    return importlib.import_module(get(name).module)


def json_codec(name: str) -> tuple[Callable[[Any], bytes], Callable[[bytes | str], Any]]:
    """(dumps to bytes, loads) for a codec name: the stdlib json module or orjson."""
    if name == "stdlib":
        return (lambda obj: json.dumps(obj).encode()), json.loads
    if name == "orjson":
        import orjson

        return orjson.dumps, orjson.loads
    raise ValueError(f"unknown JSON codec {name!r}; choose stdlib or orjson")
