"""HTTP and JSON workloads: the generator against a real socket, the open-loop scheduler,
the in-process clients' checks, documents, codecs and wrk.

tests/fake_server.py answers every request one chosen way, so each client check is shown to
catch exactly its fault; the generator's own checks are fed bytes in test_verify.py.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from harness import codecs, documents, workloads, wrk
from harness.experiments import clients
from harness.generator import Generator
from harness.loadgen.openloop import Schedule
from harness.process import ServerProcess
from servers import contract
from tests import fake_server as fake_module
from tests.conftest import fake_server as unstarted_fake_server
from tests.conftest import generator_for


@pytest.fixture
def fake_server():
    started = []

    def start(mode: str) -> ServerProcess:
        server = unstarted_fake_server(mode).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def ready_generator(server: ServerProcess, workload: workloads.Workload) -> Generator:
    generator = generator_for(workload, server)
    generator.wait_ready()
    return generator


def test_generator_counts_verified_replies_from_a_correct_server(fake_server):
    with ready_generator(fake_server("ok"), workloads.http_get(contract.JSON, 2)) as generator:
        result = generator.window(0.2)
    assert result.ops > 0
    assert len(result.latencies_us) == result.ops
    assert result.bytes == result.ops * len(fake_module.response("200 OK", "application/json", fake_module.MESSAGE))


def test_a_spec_larger_than_a_command_line_argument_reaches_the_generator(fake_server):
    # A 1 MB POST body: its spec is over argv's 128 KiB per argument, and goes on stdin.
    workload = workloads.http_post_json("1MB", connections=1)
    assert len(workload.load.to_json()) > 128 * 1024
    with ready_generator(fake_server("ok"), workload) as generator:
        result = generator.window(0.2)
    assert result.ops > 0


# The open-loop scheduler: intended times depend on the rate and start only.
def test_schedule_gives_intended_times_not_actual_ones():
    schedule = Schedule(rate=1000, start=10.0, total=5)
    assert schedule.take_due(9.0) == []
    assert schedule.take_due(10.0) == [10.0]
    # Asked late, it still hands out the times the requests were due, in order.
    assert schedule.take_due(10.0025) == pytest.approx([10.001, 10.002])
    assert schedule.take_due(10.0025) == []
    assert not schedule.finished()
    assert schedule.take_due(99.0) == pytest.approx([10.003, 10.004])
    assert schedule.finished()
    assert schedule.take_due(100.0) == []


@pytest.mark.parametrize("rate, total", [(0, 10), (-5, 10), (100, -1)])
def test_schedule_refuses_nonsense(rate, total):
    with pytest.raises(ValueError):
        Schedule(rate=rate, start=0.0, total=total)


def test_open_loop_sends_the_scheduled_count_and_counts_latency_from_intended_times(fake_server):
    # One connection, a reply every DELAY_S at best, requests due twice as often: the
    # queue grows, and the last request cannot complete before all of them were served. A
    # generator timing from the actual send would report about DELAY_S for each.
    rate, seconds = 100.0, 0.2
    count = round(rate * seconds)
    with ready_generator(fake_server("slow"), workloads.http_get(contract.JSON, 1)) as generator:
        result = generator.window(seconds, rate=rate)
    assert result.ops == count
    assert len(result.schedule_lag_us) == count
    bound_s = count * fake_module.DELAY_S - (count - 1) / rate  # last completion minus last intended time
    assert max(result.latencies_us) / 1e6 >= bound_s * 0.999


# The in-process clients check what they get, like the generator.
EXCHANGE = clients.Exchange(
    "small", "GET", contract.JSON, None, contract.APPLICATION_JSON, b'{"message": "Hello, World!"}'
)


@pytest.mark.parametrize(
    "status, content_type, body, message",
    [
        (500, "application/json", EXCHANGE.expect_body, "status 500"),
        (200, "text/html", EXCHANGE.expect_body, "content type 'text/html'"),
        (200, None, EXCHANGE.expect_body, "content type None"),
        (200, "application/json", b"{}", "wrong body"),
    ],
)
def test_check_response_rejects_each_fault(status, content_type, body, message):
    with pytest.raises(clients.ResponseError, match=message):
        clients.check_response(status, content_type, body, EXCHANGE)
    clients.check_response(200, "application/json; charset=UTF-8", EXCHANGE.expect_body, EXCHANGE)


async def fetch_with(client_class, server: ServerProcess, requests: int = 4, concurrency: int = 2) -> float:
    client = client_class(server.url(""))
    await client.open()
    try:
        return await clients.run_requests(client, EXCHANGE, requests, concurrency)
    finally:
        await client.close()


@pytest.mark.parametrize("client_class", [clients.AiohttpClient, clients.TornadoClient])
@pytest.mark.parametrize("mode, message", [("status", "status 500"), ("content_type", "text/html"), ("body", "wrong")])
def test_clients_detect_wrong_responses(fake_server, client_class, mode, message):
    with pytest.raises(clients.ResponseError, match=message):
        asyncio.run(fetch_with(client_class, fake_server(mode)))


@pytest.mark.parametrize("client_class", [clients.AiohttpClient, clients.TornadoClient])
def test_clients_pass_a_correct_server(fake_server, client_class):
    assert asyncio.run(fetch_with(client_class, fake_server("ok"))) > 0


def test_run_requests_refuses_more_concurrency_than_requests():
    with pytest.raises(ValueError):
        asyncio.run(clients.run_requests(None, EXCHANGE, requests=1, concurrency=2))


def test_article_client_refuses_html_as_the_articles_tornado_leg_did(fake_server):
    import aiohttp

    server = fake_server("content_type")

    async def run() -> float:
        async with aiohttp.ClientSession() as session:
            return await clients.article_requests(session, server.url(contract.JSON_ECHO), {"a": 1.0}, 2)

    with pytest.raises(clients.ResponseError, match="text/html"):
        asyncio.run(run())


def test_article_client_echo_round_trip(fake_server):
    import aiohttp

    server = fake_server("ok")

    async def run() -> float:
        async with aiohttp.ClientSession() as session:
            return await clients.article_requests(session, server.url(contract.JSON_ECHO), {"a": 1.0}, 2)

    assert asyncio.run(run()) > 0


# Documents, codecs and wrk: small inputs.
def test_documents_are_fixed_and_sized():
    article = documents.article_document()
    assert article == documents.document("31KB") == documents.article_document()
    assert list(article)[:2] == ["key_0", "key_1"] and len(article) == 1000
    assert all(isinstance(v, float) for v in article.values())
    assert 30_000 < documents.encoded_size(article) < 32_000
    assert documents.float_document(3, seed=1) != documents.float_document(3, seed=2)


@pytest.mark.parametrize("call", [lambda: documents.document("2KB"), lambda: documents.float_document(0)])
def test_documents_refuse_unknown_sizes(call):
    with pytest.raises(ValueError):
        call()


def test_every_encoder_and_decoder_round_trips_the_document():
    document = documents.article_document()
    body = json.dumps(document).encode()
    for name, factory in codecs.ENCODERS.items():
        encoded = factory()(document)
        raw = encoded.body if hasattr(encoded, "body") else encoded
        assert json.loads(raw) == document, name
    for name, factory in codecs.DECODERS.items():
        decode = factory(body)
        assert decode() == document and decode() == document, name


def test_run_without_suspending_refuses_a_coroutine_that_waits():
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="suspended"):
        codecs.run_without_suspending(waits())


WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:1/json
  1 threads and 64 connections
  8000 requests in 2.00s, 1.2MB read
Requests/sec:   4000.50
Transfer/sec:    600.00KB
"""


def test_parse_wrk_output():
    assert wrk.parse_wrk_output(WRK_OUTPUT) == 4000.50
    with pytest.raises(wrk.WrkError, match="Non-2xx"):
        wrk.parse_wrk_output(WRK_OUTPUT + "  Non-2xx or 3xx responses: 12\n")
    with pytest.raises(wrk.WrkError, match="Socket errors"):
        wrk.parse_wrk_output("  Socket errors: connect 0, read 3, write 0, timeout 0\n" + WRK_OUTPUT)
    with pytest.raises(wrk.WrkError, match="no Requests/sec"):
        wrk.parse_wrk_output("garbage")


def test_wrk_runs_and_fails_on_error_statuses(fake_server):
    assert wrk.wrk_requests_per_second(fake_server("ok").url(contract.JSON), connections=2, duration_s=1) > 0
    with pytest.raises(wrk.WrkError, match="Non-2xx"):
        wrk.wrk_requests_per_second(fake_server("status").url(contract.JSON), connections=2, duration_s=1)
