"""Framework servers behind one endpoint contract (see servers/contract.py).

Adding a framework: write ``servers/<name>_server.py`` with an ``async def start(sock,
options)`` that returns an async ``stop()``, then add one ``Framework`` line below (and the
package to pyproject.toml's ``frameworks`` extra, which asv.conf.json's matrix follows). For
``--workers``, the module's ``serve_workers(sock, options, workers, loop)`` runs the framework's
own multi-process mode (servers/workers.py), and the registration says which it is.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from servers import contract


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
    # The cached endpoints (contract.CACHED_PATHS) it serves through a caching facility of
    # its own; the others are n/a with ``no_cache_reason``. /cache/none needs no cache.
    caches: frozenset[str] = frozenset(contract.CACHED_PATHS)
    no_cache_reason: str = ""
    # The packages a release environment pins beside ``package``, at one release along its
    # line (the default environment's, unless the entry says why not), so that only
    # ``package`` changes there: the ASGI server an application framework runs on, and the
    # libraries that server is run with.
    stack: tuple[str, ...] = ()
    # Why its releases have no history line (the release history skips it), or "".
    no_release_history: str = ""
    # Several server processes (--workers, servers/workers.py): its own documented multi-process
    # mode, in words for the site and the README, which its module's serve_workers() runs; or,
    # for a framework that documents none, "" and why not (--workers above 1 is refused, n/a).
    workers_mode: str = ""
    no_workers_reason: str = ""

    def cache_unsupported(self, path: str) -> str | None:
        """Why this framework serves no cached ``path`` (n/a), or None."""
        if path in contract.CACHED_PATHS and path not in self.caches:
            return f"{self.name}: {self.no_cache_reason}"
        return None


# The mode of the frameworks on uvicorn (servers/uvicorn_runner.py).
ON_UVICORN_WORKERS = (
    "uvicorn's own supervisor, what `uvicorn --workers N` runs (uvicorn.supervisors.Multiprocess): N "
    "spawned workers accepting from the one socket bound before them"
)
NO_CACHE = "it has no caching facility of its own (the article's caches are aiohttp's and Tornado's)"
# uvicorn as uvicorn[standard] runs it: httptools for HTTP, the websockets library's
# Sans-I/O protocol for WebSocket (servers/uvicorn_runner.py names them explicitly).
UVICORN_STACK = ("uvicorn", "httptools", "websockets")


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework(
            "baseline",
            "servers.baseline_server",
            "",
            http=True,
            workers_mode="N forked processes, each accepting on its own SO_REUSEPORT socket (the kernel spreads "
            "connections by hash), as aiohttp's and websockets' are run",
        ),
        Framework(
            "aiohttp",
            "servers.aiohttp_server",
            "aiohttp",
            http=True,
            ws_deflate_by_default=True,
            workers_mode="N processes, each running the application on its own SO_REUSEPORT socket, what "
            "web.run_app(reuse_port=True) does in each (the kernel spreads connections by hash)",
        ),
        Framework(
            "tornado",
            "servers.tornado_server",
            "tornado",
            http=True,
            workers_mode="tornado.process.fork_processes(N) after binding, each child serving the socket "
            "(HTTPServer.add_sockets), as Tornado documents; a child that dies is not restarted (max_restarts=0)",
        ),
        Framework(
            "websockets",
            "servers.websockets_server",
            "websockets",
            http=False,
            ws_deflate_by_default=True,
            min_version="10.4",
            min_version_reason="before 13.0 the server runs on the legacy websockets.server API, checked from 10.4 on",
            caches=frozenset(),
            workers_mode="N processes serving the port with reuse_port=True, the operating system routing "
            "connections, as its deployment guide runs a server on several cores",
        ),
        Framework(
            "picows",
            "servers.picows_server",
            "picows",
            http=False,
            ws_deflate=False,
            caches=frozenset(),
            no_release_history="the load generator is built on picows, pinned by pyproject.toml: another "
            "picows release would change the generator too, so picows stays at the generator's release",
            no_workers_reason="picows documents no way to serve from several processes (its README and docs "
            "run one server in one process)",
        ),
        Framework(
            "uvicorn",
            "servers.uvicorn_server",
            "uvicorn",
            http=True,
            ws_deflate_by_default=True,
            caches=frozenset(),
            no_cache_reason=NO_CACHE,
            stack=("httptools", "websockets"),
            workers_mode=ON_UVICORN_WORKERS,
        ),
        Framework(
            "starlette",
            "servers.starlette_server",
            "starlette",
            http=True,
            ws_deflate_by_default=True,
            caches=frozenset(),
            no_cache_reason=NO_CACHE,
            stack=UVICORN_STACK,
            workers_mode=ON_UVICORN_WORKERS,
        ),
        Framework(
            "fastapi",
            "servers.fastapi_server",
            "fastapi",
            http=True,
            ws_deflate_by_default=True,
            caches=frozenset(),
            no_cache_reason=NO_CACHE,
            # FastAPI allows a range of Starlette and pydantic releases: pinned, so that its
            # line moves with FastAPI alone.
            stack=(*UVICORN_STACK, "starlette", "pydantic"),
            workers_mode=ON_UVICORN_WORKERS,
        ),
        Framework(
            "litestar",
            "servers.litestar_server",
            "litestar",
            http=True,
            ws_deflate_by_default=True,
            caches=frozenset({contract.CACHE_MEMORY, contract.CACHE_REDIS}),
            no_cache_reason="Litestar's own ETag is a fixed value given with the route, not one derived "
            "from the response body",
            stack=UVICORN_STACK,
            workers_mode=ON_UVICORN_WORKERS,
        ),
        Framework(
            "blacksheep",
            "servers.blacksheep_server",
            "blacksheep",
            http=True,
            ws_deflate_by_default=True,
            caches=frozenset(),
            no_cache_reason=NO_CACHE,
            stack=UVICORN_STACK,
            workers_mode=ON_UVICORN_WORKERS,
        ),
        Framework(
            "sanic",
            "servers.sanic_server",
            "sanic",
            http=True,
            ws_deflate=False,
            caches=frozenset(),
            no_cache_reason=NO_CACHE,
            # Sanic's WebSocket runs on the websockets library's protocol; with websockets 14 or
            # later, Sanic before 25.3 sends a stray CRLF after its 101 answer, which breaks
            # every connection. Its release environments pin websockets 13.1, which all run on.
            stack=("websockets",),
            workers_mode="Sanic's worker manager (app.prepare(workers=N), Sanic.serve): N spawned workers accepting "
            "from the one socket bound before them",
        ),
        Framework(
            "granian",
            "servers.granian_server",
            "granian",
            http=True,
            ws_deflate=False,
            caches=frozenset(),
            no_cache_reason=NO_CACHE,
            stack=("starlette",),
            workers_mode="granian's own workers, what `granian --workers N` runs: N worker processes serving the one "
            "socket bound before them (as granian shares it before 2.8 and off Linux)",
        ),
    )
}
# The ladder (harness/report/ladder.py): each rung adds one layer to the one before, so the
# step between two rungs is what that layer costs. The baseline is hand-written asyncio; picows
# a WebSocket library in Cython; websockets a pure-Python protocol stack; uvicorn an ASGI server
# (on websockets' protocol and httptools) with a bare application; Starlette a toolkit on it;
# FastAPI a framework on Starlette. The others stand beside the ladder, each a whole stack.
LADDER = ("baseline", "picows", "websockets", "uvicorn", "starlette", "fastapi")
BESIDE_THE_LADDER = ("aiohttp", "tornado", "sanic", "litestar", "blacksheep", "granian")
FRAMEWORKS_UNDER_TEST = tuple(name for name in FRAMEWORKS if name != "baseline")
HTTP_FRAMEWORKS = tuple(name for name in FRAMEWORKS_UNDER_TEST if FRAMEWORKS[name].http)
assert sorted(LADDER + BESIDE_THE_LADDER) == sorted(FRAMEWORKS), "every framework has its place in the ladder view"
assert all(bool(f.workers_mode) != bool(f.no_workers_reason) for f in FRAMEWORKS.values()), (
    "every framework names its multi-process mode, or why it has none"
)


class UnknownFramework(ValueError):
    pass


def workers_unsupported(name: str) -> str | None:
    """Why ``name`` cannot run several server processes (n/a for --workers above 1), or None."""
    framework = get(name)
    return None if framework.workers_mode else f"{name}: {framework.no_workers_reason}"


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


# Which frameworks a measurement runs: a comma-separated list of names (the baseline, the
# generator's reference, always runs). Unset or empty: all of them. The others show n/a with
# the reason, so asv's parameters stay the same in every run and every environment.
SELECTION_ENV = "BENCH_FRAMEWORKS"


def named() -> tuple[str, ...]:
    """The frameworks BENCH_FRAMEWORKS names, in the frameworks' order (none when it is unset);
    UnknownFramework for a name that is not registered, so a typo fails at once instead of
    measuring nothing."""
    names = [name.strip() for name in os.environ.get(SELECTION_ENV, "").split(",") if name.strip()]
    for name in names:
        get(name)
    return tuple(n for n in FRAMEWORKS if n in names)


def selection() -> tuple[str, ...]:
    """The frameworks BENCH_FRAMEWORKS selects: those it names and the baseline (all when it is unset)."""
    names = named()
    return tuple(FRAMEWORKS) if not names else tuple(n for n in FRAMEWORKS if n in names or n == "baseline")


def unavailable(name: str) -> str | None:
    """Why a measurement skips ``name`` (n/a): not installed or too old here, or not selected."""
    if name not in selection():
        return f"{name} is not selected ({SELECTION_ENV}={os.environ.get(SELECTION_ENV)})"
    return missing(name)


# PEP 440's public version scheme, without epochs: release, pre-release, post-release, dev.
RELEASE = re.compile(
    r"v?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_phase>alpha|a|beta|b|preview|pre|rc|c)[-_.]?(?P<pre>\d*))?"
    r"(?:-(?P<implicit_post>\d+)|[-_.]?(?:post|rev|r)[-_.]?(?P<post>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev>\d*))?"
    r"(?:\+[a-z0-9._-]*)?"
)
PRE_PHASES = {"alpha": 1, "a": 1, "beta": 2, "b": 2, "preview": 3, "pre": 3, "rc": 3, "c": 3}
DEV_OF_FINAL, FINAL = 0, 4  # a dev release of 3.9.5 comes before 3.9.5a1; 3.9.5 itself after 3.9.5rc1


def release_key(release: str) -> tuple[int, ...]:
    """A sort key for a release number in PEP 440's order: '3.9.5rc1' < '3.9.5' < '3.10.11' < '6.1'.

    Within one release: dev < a < b < rc < the release < post; trailing zeros do not count
    ('6.1' == '6.1.0'). A string that is no release number sorts before every release.
    """
    match = RELEASE.fullmatch(release.strip().lower())
    if match is None:
        return ()
    numbers = [int(number) for number in match["release"].split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    post = match["implicit_post"] or match["post"]
    dev = match["dev"]
    if match["pre_phase"]:
        phase = PRE_PHASES[match["pre_phase"]]
    else:
        phase = DEV_OF_FINAL if dev is not None and post is None else FINAL
    # The release's numbers shifted by one and ended by 0: a release sorts before every longer
    # one it begins ('3.9' < '3.9.5rc1') whatever the parts after it say.
    return (
        *(number + 1 for number in numbers),
        0,
        phase,
        int(match["pre"] or 0),
        -1 if post is None else int(post or 0),
        1 if dev is None else 0,  # a dev release before the one it leads to
        int(dev or 0),
    )


def version(name: str) -> str:
    """The installed release of the framework under test ('' for the baseline)."""
    framework = get(name)
    return importlib.metadata.version(framework.package) if framework.package else ""


# The listening socket's backlog (python -m servers binds it); servers that call listen() again
# with their own (uvicorn 2048, granian 128) are given this one, so the queue stays as it is.
LISTEN_BACKLOG = 4096


@dataclass(frozen=True)
class ServerOptions:
    json_codec: str = "stdlib"  # "stdlib" or "orjson"
    compression: bool = False  # negotiate permessage-deflate when the client offers it
    cache_ttl_s: float = contract.DEFAULT_CACHE_TTL_S  # how long a cached value lives
    backend_ms: float = contract.DEFAULT_BACKEND_MS  # the slow backend's awaited delay
    redis_port: int | None = None  # the redis-server on 127.0.0.1 behind /cache/redis
    # TLS (https, wss): the PEM certificate and its unencrypted key the server presents, both or
    # neither (python -m servers checks that they load before it binds); None: plain TCP.
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def server_ssl_context(options: ServerOptions) -> ssl.SSLContext | None:
    """The server side's TLS context for ``options`` (None without TLS), for a framework whose own
    TLS setting takes a context: the standard library's defaults for a server (TLS 1.2 and 1.3,
    its cipher list), no client certificate asked for, so that every such framework negotiates
    the same; ssl.SSLError or OSError if the certificate or key does not load."""
    if not options.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options.tls_cert, options.tls_key)
    return context


Stop = Callable[[], Awaitable[None]]


def run_on_new_loop(main: Coroutine[Any, Any, Any], loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """``asyncio.Runner(loop_factory=...).run(main)``. Python 3.10 has no Runner (3.11 added it):
    there the same steps are taken by hand, as asyncio.run takes them with its own loop."""
    if hasattr(asyncio, "Runner"):
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main)
        return
    loop = loop_factory()
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main)
    finally:
        try:
            asyncio.runners._cancel_all_tasks(loop)  # what asyncio.run does on 3.10
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


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


# What a codec raises for a request body it cannot read or write back (servers/contract.py,
# "Bad input"): a malformed, truncated, empty or non-UTF-8 body is a ValueError (both codecs'
# JSONDecodeError and UnicodeDecodeError are); nesting too deep is the stdlib's RecursionError,
# orjson's JSONDecodeError when reading, or its JSONEncodeError (a TypeError) when writing back.
JSON_REFUSED = (ValueError, TypeError, RecursionError)


def json_refusal(error: BaseException) -> str:
    """The short reason to answer a body that the codec refused with ``error``."""
    if isinstance(error, (RecursionError, TypeError)) or "depth limit" in str(error):
        return contract.JSON_TOO_DEEP
    return contract.JSON_INVALID


class ClientFaultsInOneLine(logging.Filter):
    """Writes a client's fault that a framework logs with a traceback (a malformed request, a
    peer gone mid-request) as one warning line: the framework has answered it already, and a
    traceback would read as a bug in the server. Only records whose message starts with
    ``message`` and whose exception is one of ``faults`` change; the others pass as they are."""

    def __init__(self, message: str, faults: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.message = message
        self.faults = faults

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.faults) and str(record.msg).startswith(self.message):
            detail = " ".join(str(error).split())  # framework messages can span several lines
            record.msg, record.args = f"{record.getMessage()}: {type(error).__name__}: {detail}", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def client_fault_logger(name: str, message: str, faults: tuple[type[BaseException], ...]) -> logging.Logger:
    """The logger ``name``, writing ``faults`` logged as ``message...`` in one line (see
    ClientFaultsInOneLine), for a framework that takes its logger as an argument."""
    logger = logging.getLogger(name)
    if not any(isinstance(existing, ClientFaultsInOneLine) for existing in logger.filters):
        logger.addFilter(ClientFaultsInOneLine(message, faults))
    return logger
