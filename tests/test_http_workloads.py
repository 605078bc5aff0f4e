"""HTTP and JSON workloads: response checks, the open-loop scheduler, failure paths.

A tiny fake server (FAKE_SERVER, run as a child process through ServerProcess) answers
every request one chosen way, so each check is shown to catch exactly its fault.
Traffic is small; run under the bench lock like every test that sends traffic.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from harness import clients, codecs, documents, measure, wrk
from harness.loadgen import OpenLoopSchedule
from harness.process import ServerProcess
from servers import contract

FAKE_SERVER = r"""
import asyncio, json, os, sys
from servers import contract

MODE = sys.argv[1]
MESSAGE = json.dumps(contract.JSON_MESSAGE).encode()
DELAY_S = 0.02

def response(status, content_type, body):
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body

class Fake(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode().lower()
            length = int(head.split("content-length:")[1].split()[0]) if "content-length:" in head else 0
            if len(self.buffer) < end + 4 + length:
                return
            body, self.buffer = self.buffer[end + 4 : end + 4 + length], self.buffer[end + 4 + length :]
            if MODE == "status":
                reply = response("500 Internal Server Error", "application/json", MESSAGE)
            elif MODE == "content_type":
                reply = response("200 OK", "text/html; charset=UTF-8", body or MESSAGE)
            elif MODE == "body":
                reply = response("200 OK", "application/json", MESSAGE.replace(b"!", b"?"))
            else:  # "ok" and "slow": GET gets the message, POST its body back
                reply = response("200 OK", "application/json", body or MESSAGE)
            if MODE == "slow":
                asyncio.get_running_loop().call_later(DELAY_S, self.transport.write, reply)
            else:
                self.transport.write(reply)

async def main():
    server = await asyncio.get_running_loop().create_server(Fake, "127.0.0.1", 0)
    print(contract.ready_line("fake", server.sockets[0].getsockname()[1], os.getpid()), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""
FAKE_DELAY_S = 0.02  # DELAY_S in FAKE_SERVER


@pytest.fixture
def fake_server():
    started = []

    def start(mode: str) -> ServerProcess:
        server = ServerProcess("fake", command=[sys.executable, "-c", FAKE_SERVER, mode]).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def generator_for(server: ServerProcess, workload: measure.Workload, connections: int = 2) -> measure.Generator:
    spec = workload.generator_spec(server, "stdlib", connections)
    generator = measure.Generator(dict(spec, warmup_s=0), [None], 1)
    generator.wait_ready()
    return generator


# Response checks in the generator: each fault is caught, and a correct server passes.
@pytest.mark.parametrize(
    "mode, message",
    [("status", "status 'HTTP/1.1 500"), ("content_type", "content type b'text/html"), ("body", "wrong body")],
)
def test_generator_detects_wrong_responses(fake_server, mode, message):
    generator = generator_for(fake_server(mode), measure.http_get(contract.JSON, 2))
    try:
        with pytest.raises(measure.GeneratorError, match="load generator failed") as failure:
            generator.window(0.2)
        assert message in str(failure.value)
    finally:
        generator.close()


def test_generator_counts_verified_replies_from_a_correct_server(fake_server):
    generator = generator_for(fake_server("ok"), measure.http_get(contract.JSON, 2))
    try:
        result = generator.window(0.2)
    finally:
        generator.close()
    assert result["ops"] > 0
    assert len(result["latencies_us"]) == result["ops"]


def test_large_post_goes_through_a_spec_file_and_is_cleaned_up(fake_server):
    workload = measure.http_post_json("1MB", connections=1)
    generator = generator_for(fake_server("ok"), workload, connections=1)
    spec_files = list(generator.spec_files)
    try:
        result = generator.window(0.2)
    finally:
        generator.close()
    assert spec_files and result["ops"] > 0
    assert not any(os.path.exists(path) for path in spec_files)


# The open-loop scheduler: intended times depend on the rate and start only.
def test_schedule_gives_intended_times_not_actual_ones():
    schedule = OpenLoopSchedule(rate=1000, start=10.0, total=5)
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
        OpenLoopSchedule(rate=rate, start=0.0, total=total)


def test_open_loop_sends_the_scheduled_count_and_counts_latency_from_intended_times(fake_server):
    # One connection, a reply every FAKE_DELAY_S at best, requests due twice as often: the
    # queue grows, and the last request cannot complete before all of them were served. A
    # generator timing from the actual send would report about FAKE_DELAY_S for each.
    rate, seconds = 100.0, 0.2
    count = round(rate * seconds)
    generator = generator_for(fake_server("slow"), measure.http_get(contract.JSON, 1), connections=1)
    try:
        result = generator.window(seconds, rate=rate)
    finally:
        generator.close()
    assert result["ops"] == count
    assert len(result["schedule_lag_us"]) == count
    bound_s = count * FAKE_DELAY_S - (count - 1) / rate  # last completion minus last intended time
    assert max(result["latencies_us"]) / 1e6 >= bound_s * 0.999


def test_open_loop_measurement_reports_each_load_fraction():
    result = measure.open_loop(
        ["baseline"], connections=4, capacity_rounds=1, window_s=0.2, open_window_s=0.2, warmup_s=0.1
    )
    row = result["results"]["baseline"]
    assert row["capacity_rps"] > 0
    assert set(row["at"]) == {"0.5", "0.8"}
    for fraction, at in row["at"].items():
        assert at["rate_rps"] == pytest.approx(float(fraction) * row["capacity_rps"])
        assert at["requests"] == max(1, round(at["rate_rps"] * 0.2))
        assert at["latency_p50_s"] <= at["latency_p99_s"] <= at["latency_p999_s"]


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
