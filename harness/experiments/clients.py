"""HTTP clients as the workload: the client is what is measured, so it runs in this
process (pinned to a generator CPU for the measurement) against servers pinned to the
server CPU.

- compare_clients(): aiohttp.ClientSession vs tornado.httpclient.AsyncHTTPClient (the
  simple client; the curl client needs pycurl, which is not installed) against one fixed
  fast server, the baseline on uvloop with orjson.
- article_json(): the article's JSON test as it ran it: sequential POSTs of its 31 KB
  document with aiohttp's client serializing (``post(json=...)``) and parsing
  (``response.json()``), against each framework's server.

The clients run on the default asyncio loop and without the generators' malloc tuning
(harness.generator.GENERATOR_ENV): as users run them, like the servers. Every response is checked
(status, content type, body); the first wrong one ends the measurement with the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import servers
from harness import documents, stats
from harness.outcomes import Failed, Measurement, Skipped
from harness.process import ServerProcess, cpu_plan
from harness.workloads import BASELINE_LOOP
from servers import contract

CLIENTS = ("aiohttp", "tornado")
MAX_CONCURRENCY = 64
SERVER_CODEC = "orjson"  # the fixed server's codec: cheap, so the clients dominate
ARTICLE_REQUESTS = 10_000  # what the article timed; the default run does a stated fraction
ARTICLE_SECONDS = {"aiohttp": 192.3151, "tornado": 199.5136}  # its "HTTP JSON Round-trip" figures


class ResponseError(AssertionError):
    """A response with the wrong status, content type or body."""


@dataclass(frozen=True)
class Exchange:
    """One request and the exact response it must get."""

    name: str
    method: str
    path: str
    body: bytes | None
    content_type: str
    expect_body: bytes


def exchanges(json_codec: str = SERVER_CODEC) -> dict[str, Exchange]:
    """The client workloads: a small JSON response, and the 31 KB document echoed back."""
    dumps, _ = servers.json_codec(json_codec)
    document = dumps(documents.article_document())
    return {
        "small": Exchange("small", "GET", contract.JSON, None, contract.APPLICATION_JSON, dumps(contract.JSON_MESSAGE)),
        "31KB": Exchange("31KB", "POST", contract.JSON_ECHO, document, contract.APPLICATION_JSON, document),
    }


def check_response(status: int, content_type: str | None, body: bytes, exchange: Exchange) -> None:
    """Raise ResponseError unless the response is exactly what ``exchange`` expects."""
    if status != 200:
        raise ResponseError(f"{exchange.method} {exchange.path}: status {status}, body {body[:80]!r}")
    if not (content_type or "").startswith(exchange.content_type):
        raise ResponseError(
            f"{exchange.method} {exchange.path}: content type {content_type!r}, expected {exchange.content_type!r}"
        )
    if body != exchange.expect_body:
        raise ResponseError(
            f"{exchange.method} {exchange.path}: wrong body, {len(body)} bytes starting {body[:40]!r}, "
            f"expected {len(exchange.expect_body)} bytes"
        )


def request_headers(exchange: Exchange) -> dict[str, str]:
    return {"Content-Type": contract.APPLICATION_JSON} if exchange.body is not None else {}


class AiohttpClient:
    """aiohttp.ClientSession: pooled keep-alive connections."""

    name = "aiohttp"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def open(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=MAX_CONCURRENCY))

    async def fetch(self, exchange: Exchange) -> None:
        url = self.base_url + exchange.path
        async with self.session.request(
            exchange.method, url, data=exchange.body, headers=request_headers(exchange)
        ) as response:
            body = await response.read()
            check_response(response.status, response.headers.get("Content-Type"), body, exchange)

    async def close(self) -> None:
        await self.session.close()


class TornadoClient:
    """tornado.httpclient.AsyncHTTPClient, the simple client: it sends ``Connection:
    close`` and opens a new connection for every request (no keep-alive)."""

    name = "tornado"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def open(self) -> None:
        from tornado.httpclient import AsyncHTTPClient

        self.client = AsyncHTTPClient(force_instance=True, max_clients=MAX_CONCURRENCY)

    async def fetch(self, exchange: Exchange) -> None:
        response = await self.client.fetch(
            self.base_url + exchange.path,
            method=exchange.method,
            body=exchange.body,
            headers=request_headers(exchange),
            raise_error=False,
        )
        if response.code == 599:  # tornado's code for "no HTTP response at all"
            raise ResponseError(f"{exchange.method} {exchange.path}: {response.error}")
        check_response(response.code, response.headers.get("Content-Type"), response.body or b"", exchange)

    async def close(self) -> None:
        self.client.close()


CLIENT_CLASSES = {"aiohttp": AiohttpClient, "tornado": TornadoClient}


async def run_requests(client, exchange: Exchange, requests: int, concurrency: int) -> float:
    """``requests`` verified requests, ``concurrency`` at a time; the wall time they took."""
    if not 1 <= concurrency <= MAX_CONCURRENCY or requests < concurrency:
        raise ValueError(f"need 1 <= concurrency <= {MAX_CONCURRENCY} and requests >= concurrency")
    shares = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]

    async def worker(count: int) -> None:
        for _ in range(count):
            await client.fetch(exchange)

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(worker(n)) for n in shares]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # no stray requests may run on into the next measurement
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return time.perf_counter() - started


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Run this process on ``cpu`` for the block (the measured client), then as before."""
    before = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@dataclass(frozen=True)
class RequestTimes:
    """Wall time per verified request over rounds, for one client or one server."""

    name: str  # the client, or the framework whose server answered
    version: str
    rounds: int
    requests_per_round: int
    seconds_per_request: float  # median over rounds
    iqr_pct: float

    @property
    def requests_per_second(self) -> float:
        return 1 / self.seconds_per_request

    @staticmethod
    def of(name: str, version: str, seconds_per_request: list[float], requests: int) -> RequestTimes:
        median = stats.median(seconds_per_request)
        return RequestTimes(
            name, version, len(seconds_per_request), requests, median, stats.iqr_pct(seconds_per_request)
        )


@dataclass(frozen=True)
class ArticleRoundTrips:
    """The article's JSON loop against one framework's server, with its own figure beside."""

    times: RequestTimes
    article_seconds_10000: float  # this run's time per request x the article's 10,000
    article_reported_seconds_10000: float | None


def package_version(name: str) -> str:
    return importlib.metadata.version(name)


def missing_client(name: str) -> str | None:
    return None if importlib.util.find_spec(name) else f"{name} is not installed in this environment"


async def interleaved_rounds(
    names: list[str], rounds: int, run: Callable[[str, bool], Awaitable[float]], failed: dict[str, Failed]
) -> dict[str, list[float]]:
    """``run(name, warmup)`` for every name, a warm-up round first, then ``rounds`` rounds
    rotating who goes first; a failure ends that name (recorded in ``failed``) only.
    Returns each surviving name's seconds per request, one per round."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(-1, rounds):
        alive = [n for n in names if n not in failed]
        shift = i % len(alive) if alive else 0
        for name in alive[shift:] + alive[:shift]:
            try:
                seconds = await run(name, i < 0)
            except Exception as exc:  # any failure is this one's result, with its cause
                failed[name] = Failed(f"{type(exc).__name__}: {exc}")
                continue
            if i >= 0:
                times[name].append(seconds)
    return {name: t for name, t in times.items() if name not in failed}


def compare_clients(
    clients: tuple[str, ...] = CLIENTS,
    cases: tuple[tuple[str, int], ...] = (("small", 1), ("small", 32), ("31KB", 1), ("31KB", 32)),
    *,
    rounds: int = 3,
    requests: int = 320,
    warmup_requests: int = 64,
) -> Measurement[RequestTimes]:
    """Each client on each (exchange, concurrency) case against the baseline server,
    interleaved round by round: outcomes keyed by ("<exchange>_c<n>", client)."""
    server_cpu, generator_cpus = cpu_plan()
    outcomes: dict[tuple[str, str], RequestTimes | Skipped | Failed] = {}
    for name in clients:
        if reason := missing_client(name):
            outcomes.update({(f"{e}_c{c}", name): Skipped(reason) for e, c in cases})
    usable = [name for name in clients if not missing_client(name)]
    with (
        ServerProcess("baseline", loop=BASELINE_LOOP, json_codec=SERVER_CODEC, cpu=server_cpu) as server,
        pinned(generator_cpus[0]),
    ):

        async def measure_all() -> None:
            opened = {name: CLIENT_CLASSES[name](server.url("")) for name in usable}
            try:
                for client in opened.values():
                    await client.open()
                for exchange_name, concurrency in cases:
                    exchange, case = exchanges()[exchange_name], f"{exchange_name}_c{concurrency}"

                    async def run(name: str, warmup: bool, exchange=exchange, concurrency=concurrency) -> float:
                        count = max(warmup_requests, concurrency) if warmup else requests
                        return await run_requests(opened[name], exchange, count, concurrency) / count

                    failed: dict[str, Failed] = {}
                    times = await interleaved_rounds(usable, rounds, run, failed)
                    outcomes.update({(case, name): failure for name, failure in failed.items()})
                    for name, per_request in times.items():
                        outcomes[case, name] = RequestTimes.of(name, package_version(name), per_request, requests)
            finally:
                for client in opened.values():
                    await client.close()

        asyncio.run(measure_all())
        server.check_alive()
    setup = {
        "server": "baseline",
        "server_loop": BASELINE_LOOP,
        "server_codec": SERVER_CODEC,
        "client_loop": "asyncio",
        "malloc_tuned": False,
        "server_cpu": server_cpu,
        "client_cpu": generator_cpus[0],
        "rounds": rounds,
        "requests": requests,
    }
    return Measurement("http_clients", setup, outcomes)


async def article_requests(session, url: str, document: dict, requests: int) -> float:
    """The article's loop: ``post(json=document)`` then ``response.json()``, sequentially.
    Each reply must be the document; the wall time of ``requests`` of them."""
    started = time.perf_counter()
    for _ in range(requests):
        async with session.post(url, json=document) as response:
            if response.status != 200:
                raise ResponseError(f"POST {url}: status {response.status}, body {(await response.read())[:80]!r}")
            if response.content_type != contract.APPLICATION_JSON:  # response.json() would refuse it
                raise ResponseError(f"POST {url}: content type {response.content_type!r}, expected application/json")
            if await response.json() != document:
                raise ResponseError(f"POST {url}: the echoed document differs from the one sent")
    return time.perf_counter() - started


def article_json(
    frameworks: tuple[str, ...] = ("baseline", "aiohttp", "tornado"),
    *,
    rounds: int = 3,
    requests: int = 200,
    warmup_requests: int = 10,
) -> Measurement[ArticleRoundTrips]:
    """The article's JSON round trips (its 31 KB document, aiohttp's client encoding and
    decoding with the stdlib json) against each framework's stdlib-codec server, interleaved.

    Unlike the article, server and client are separate processes on separate CPUs (its
    figures mixed both in one process), and the Tornado server answers application/json (the
    article's answered text/html, which response.json() refuses). ``rounds * requests`` is
    the stated fraction of the article's 10,000; ``article_seconds_10000`` extrapolates.
    """
    server_cpu, generator_cpus = cpu_plan()
    document = documents.article_document()
    outcomes: dict[str, ArticleRoundTrips | Skipped | Failed] = {}
    started: dict[str, ServerProcess] = {}
    setup = {
        "requests_measured": rounds * requests,
        "fraction_of_article": rounds * requests / ARTICLE_REQUESTS,
        "document_bytes": documents.encoded_size(document),
        "client": "aiohttp.ClientSession, asyncio loop, in this process",
        "server_loop": "asyncio",
        "server_cpu": server_cpu,
        "client_cpu": generator_cpus[0],
    }
    if reason := missing_client("aiohttp"):
        return Measurement("article_json_round_trip", setup, {name: Skipped(reason) for name in frameworks})
    try:
        for name in frameworks:
            if reason := servers.unavailable(name):
                outcomes[name] = Skipped(reason)
                continue
            server_loop = BASELINE_LOOP if name == "baseline" else "asyncio"
            started[name] = ServerProcess(name, loop=server_loop, json_codec="stdlib", cpu=server_cpu).start()
        with pinned(generator_cpus[0]):

            async def measure_all() -> dict[str, list[float]]:
                import aiohttp

                async with aiohttp.ClientSession() as session:

                    async def run(name: str, warmup: bool) -> float:
                        count = warmup_requests if warmup else requests
                        url = started[name].url(contract.JSON_ECHO)
                        return await article_requests(session, url, document, count) / count

                    return await interleaved_rounds(list(started), rounds, run, failed)

            failed: dict[str, Failed] = {}
            times = asyncio.run(measure_all())
            outcomes.update(failed)
        for name, per_request in times.items():
            started[name].check_alive()
            measured = RequestTimes.of(name, servers.version(name), per_request, requests)
            outcomes[name] = ArticleRoundTrips(
                measured, measured.seconds_per_request * ARTICLE_REQUESTS, ARTICLE_SECONDS.get(name)
            )
    finally:
        for server in started.values():
            server.stop()
    return Measurement("article_json_round_trip", setup, outcomes)
