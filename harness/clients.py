"""HTTP clients as the workload: here the client is what is measured, so it runs in this
process (pinned to a generator CPU for the measurement) against servers pinned to the
server CPU.

- compare_clients(): aiohttp.ClientSession vs tornado.httpclient.AsyncHTTPClient (the
  simple client; the curl client needs pycurl, which is not installed) against one fixed
  fast server, the baseline on uvloop with orjson.
- article_json(): the article's JSON test as it ran it: sequential POSTs of its 31 KB
  document with aiohttp's client serializing (``post(json=...)``) and parsing
  (``response.json()``), against each framework's server.

The clients run on the default asyncio loop and without the generators' malloc tuning
(measure.GENERATOR_ENV): as users run them, like the servers. Every response is checked
(status, content type, body); the first wrong one ends the measurement with the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import servers
from harness import documents, stats
from harness.measure import BASELINE_LOOP
from harness.process import ServerProcess, cpu_plan
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


def time_summary(seconds_per_request: list[float], requests: int) -> dict:
    return {
        "rounds": len(seconds_per_request),
        "requests_per_round": requests,
        "seconds_per_request": stats.median(seconds_per_request),
        "spread_pct": stats.spread_pct(seconds_per_request),
        "requests_per_second": 1 / stats.median(seconds_per_request),
    }


def missing_client(name: str) -> str | None:
    return None if importlib.util.find_spec(name) else f"{name} is not installed in this environment"


def compare_clients(
    clients: tuple[str, ...] = CLIENTS,
    cases: tuple[tuple[str, int], ...] = (("small", 1), ("small", 32), ("31KB", 1), ("31KB", 32)),
    *,
    rounds: int = 3,
    requests: int = 320,
    warmup_requests: int = 64,
) -> dict:
    """Each client on each (exchange, concurrency) case against the baseline server,
    interleaved round by round. Returns {"setup", "results": {"<exchange>_c<n>": {client:
    summary | {"skipped"} | {"error"}}}}."""
    server_cpu, generator_cpus = cpu_plan()
    available = {name: missing_client(name) for name in clients}
    results: dict[str, dict] = {f"{e}_c{c}": {} for e, c in cases}
    with (
        ServerProcess("baseline", loop=BASELINE_LOOP, json_codec=SERVER_CODEC, cpu=server_cpu) as server,
        pinned(generator_cpus[0]),
    ):

        async def measure_all() -> None:
            base_url = server.url("")
            opened = {}
            try:
                for name in clients:
                    if available[name] is None:
                        opened[name] = CLIENT_CLASSES[name](base_url)
                        await opened[name].open()
                for exchange_name, concurrency in cases:
                    exchange = exchanges()[exchange_name]
                    row = results[f"{exchange_name}_c{concurrency}"]
                    times: dict[str, list[float]] = {name: [] for name in opened}
                    for name, client in opened.items():  # warm-up: connections, caches
                        try:
                            await run_requests(client, exchange, max(warmup_requests, concurrency), concurrency)
                        except Exception as exc:  # any failure is this client's result, with its cause
                            row[name] = {"error": f"{type(exc).__name__}: {exc}"}
                    for i in range(rounds):
                        names = [n for n in opened if n not in row]
                        shift = i % len(names) if names else 0
                        for name in names[shift:] + names[:shift]:
                            try:
                                seconds = await run_requests(opened[name], exchange, requests, concurrency)
                                times[name].append(seconds / requests)
                            except Exception as exc:  # any failure is this client's result, with its cause
                                row[name] = {"error": f"{type(exc).__name__}: {exc}"}
                    for name in clients:
                        if available[name]:
                            row[name] = {"skipped": available[name]}
                        elif name not in row:
                            row[name] = dict(time_summary(times[name], requests), client=name)
            finally:
                for client in opened.values():
                    await client.close()

        asyncio.run(measure_all())
        server.check_alive()
    return {
        "setup": {
            "server": "baseline",
            "server_loop": BASELINE_LOOP,
            "server_codec": SERVER_CODEC,
            "client_loop": "asyncio",
            "malloc_tuned": False,
            "server_cpu": server_cpu,
            "client_cpu": generator_cpus[0],
            "rounds": rounds,
            "requests": requests,
        },
        "results": results,
    }


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
    loop: str = "asyncio",
) -> dict:
    """The article's JSON round trips (its 31 KB document, aiohttp's client encoding and
    decoding with the stdlib json) against each framework's stdlib-codec server, interleaved.

    Unlike the article, server and client are separate processes on separate CPUs (its
    figures mixed both in one process), and the Tornado server answers application/json (the
    article's answered text/html, which response.json() refuses). ``rounds * requests`` is
    the stated fraction of the article's 10,000; ``article_seconds_10000`` extrapolates.
    """
    server_cpu, generator_cpus = cpu_plan()
    document = documents.article_document()
    results: dict[str, dict] = {}
    started: dict[str, ServerProcess] = {}
    if reason := missing_client("aiohttp"):
        return {"setup": {}, "results": {name: {"skipped": reason} for name in frameworks}}
    try:
        for name in frameworks:
            if reason := servers.missing(name):
                results[name] = {"skipped": reason}
                continue
            server_loop = BASELINE_LOOP if name == "baseline" else loop
            started[name] = ServerProcess(name, loop=server_loop, json_codec="stdlib", cpu=server_cpu).start()
        with pinned(generator_cpus[0]):

            async def measure_all() -> dict[str, list[float]]:
                import aiohttp

                times: dict[str, list[float]] = {name: [] for name in started}
                async with aiohttp.ClientSession() as session:
                    for i in range(-1, rounds):  # round -1 warms up
                        names = [n for n in started if n not in results]
                        shift = i % len(names) if names else 0
                        for name in names[shift:] + names[:shift]:
                            url = started[name].url(contract.JSON_ECHO)
                            try:
                                seconds = await article_requests(session, url, document, requests if i >= 0 else 10)
                            except Exception as exc:  # this server's result, with its cause
                                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                                continue
                            if i >= 0:
                                times[name].append(seconds / requests)
                return {name: t for name, t in times.items() if name not in results}

            times = asyncio.run(measure_all())
        for name, per_request in times.items():
            started[name].check_alive()
            summary = dict(time_summary(per_request, requests), framework=name, version=servers.version(name))
            summary["article_seconds_10000"] = summary["seconds_per_request"] * ARTICLE_REQUESTS
            summary["article_reported_seconds_10000"] = ARTICLE_SECONDS.get(name)
            results[name] = summary
    finally:
        for server in started.values():
            server.stop()
    return {
        "setup": {
            "requests_measured": rounds * requests,
            "fraction_of_article": rounds * requests / ARTICLE_REQUESTS,
            "document_bytes": documents.encoded_size(document),
            "client": "aiohttp.ClientSession, asyncio loop, in this process",
            "server_loop": loop,
            "server_cpu": server_cpu,
            "client_cpu": generator_cpus[0],
        },
        "results": results,
    }
