"""The caches behave as servers/contract.py says: TTL, backend counter, stampede, ETag/304,
and a real Redis round trip. Behaviour only; no timing thresholds (the sleeps below wait
for a TTL to pass, they judge nothing)."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from harness import redis_server, workloads
from harness.compare import Rounds, compare
from harness.experiments import cache_paths as cache
from harness.generator import GeneratorError
from harness.outcomes import Skipped
from harness.process import ServerProcess, cpu_plan
from servers import contract
from tests.conftest import generator_for

FRAMEWORKS = ["aiohttp", "tornado"]
SHORT_TTL_S = 1.0
needs_redis = pytest.mark.skipif(redis_server.redis_missing() is not None, reason=str(redis_server.redis_missing()))


def get(server: ServerProcess, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def document_version(server: ServerProcess, path: str) -> int:
    status, headers, body = get(server, path)
    assert status == 200, body
    assert headers["content-type"].startswith(contract.APPLICATION_JSON)
    document = json.loads(body)
    assert document == contract.cache_document(document["version"])
    return document["version"]


def cache_server(framework: str, *args: str) -> ServerProcess:
    """The framework's server with a 1 ms backend, started by ``with``."""
    return ServerProcess(framework, extra_args=("--backend-ms", "1") + args)


@pytest.fixture(scope="module")
def redis_port():
    if redis_server.redis_missing():
        pytest.skip(redis_server.redis_missing())
    with redis_server.RedisServer() as redis:
        yield redis.port


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("path", [contract.CACHE_MEMORY, pytest.param(contract.CACHE_REDIS, marks=needs_redis)])
def test_value_holds_within_ttl_and_refreshes_after(framework, path, request):
    args = ("--cache-ttl", str(SHORT_TTL_S))
    if path == contract.CACHE_REDIS:
        args += ("--redis-port", str(request.getfixturevalue("redis_port")))
    with cache_server(framework, *args) as server:
        cache.request(server, "POST", contract.CACHE_CLEAR)  # the Redis server is shared by the tests
        calls = cache.backend_calls(server)
        assert document_version(server, path) == 0
        cache.request(server, "POST", contract.CACHE_BUMP)  # the data changes ...
        assert document_version(server, path) == 0  # ... but within the TTL the cached value holds
        assert cache.backend_calls(server) == calls + 1
        time.sleep(SHORT_TTL_S * 1.5)
        assert document_version(server, path) == 1  # after it, the value is refreshed
        assert cache.backend_calls(server) == calls + 2


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_backend_counter_counts_every_uncached_call_and_no_hit(framework):
    with cache_server(framework) as server:
        for _ in range(3):
            document_version(server, contract.CACHE_NONE)
        assert cache.backend_calls(server) == 3
        for _ in range(3):
            document_version(server, contract.CACHE_MEMORY)
        assert cache.backend_calls(server) == 4
        cache.request(server, "POST", contract.CACHE_CLEAR)
        document_version(server, contract.CACHE_MEMORY)
        assert cache.backend_calls(server) == 5


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_stampede_on_an_empty_cache_runs_the_backend_once_per_request(framework):
    # A 300 ms backend: all 10 requests arrive while the first is still waiting for it, and
    # neither design coalesces concurrent misses, so each one runs the backend.
    with ServerProcess(framework, extra_args=("--backend-ms", "300", "--cache-ttl", "3600")) as server:
        result = cache.stampede(server, connections=10, repeats=2, json_codec="stdlib", cpus=cpu_plan()[1])
    assert result.backend_calls_all == [10, 10]
    assert result.latency_max_s >= result.latency_p50_s > 0


@pytest.mark.parametrize("framework", FRAMEWORKS + ["baseline"])
def test_etag_is_the_contract_tag_and_a_matching_request_gets_304(framework):
    with cache_server(framework, "--cache-ttl", "3600") as server:
        status, headers, body = get(server, contract.CACHE_ETAG)
        assert status == 200 and headers["etag"] == contract.etag(body)
        status, headers, not_modified_body = get(server, contract.CACHE_ETAG, {"If-None-Match": contract.etag(body)})
        assert status == 304 and headers["etag"] == contract.etag(body) and not_modified_body == b""


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_etag_changes_when_the_data_changes(framework):
    with cache_server(framework, "--cache-ttl", "3600") as server:
        _, headers, body = get(server, contract.CACHE_ETAG)
        old_tag = headers["etag"]
        cache.request(server, "POST", contract.CACHE_BUMP)
        cache.request(server, "POST", contract.CACHE_CLEAR)
        status, headers, new_body = get(server, contract.CACHE_ETAG, {"If-None-Match": old_tag})
        assert status == 200 and json.loads(new_body)["version"] == 1  # the old tag no longer matches
        assert headers["etag"] == contract.etag(new_body) != old_tag
        assert get(server, contract.CACHE_ETAG, {"If-None-Match": headers["etag"]})[0] == 304


@pytest.mark.parametrize("framework", FRAMEWORKS + ["baseline"])
def test_a_304_carries_no_body(framework):
    # Two pipelined requests on one connection: if the 304 carried any body bytes, they
    # would sit between its head and the next response's status line.
    with cache_server(framework, "--cache-ttl", "3600") as server:
        tag = get(server, contract.CACHE_ETAG)[1]["etag"]
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                f"GET {contract.CACHE_ETAG} HTTP/1.1\r\nHost: x\r\nIf-None-Match: {tag}\r\n\r\n"
                f"GET {contract.HEALTH} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            received = b""
            while not received.endswith(contract.HEALTH_BODY):
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {received!r}"
                received += chunk
        assert received.startswith(b"HTTP/1.1 304 ")
        head, _, rest = received.partition(b"\r\n\r\n")
        assert rest.startswith(b"HTTP/1.1 200 ")


def test_generator_measures_304s_and_counts_their_bytes():
    full = workloads.http_get(contract.CACHE_ETAG, 2)
    conditional = workloads.http_get(contract.CACHE_ETAG, 2, if_none_match=True)
    sizes = {}
    for workload in (full, conditional):
        summary = compare(workload, ["aiohttp"], Rounds(1, 0.2, 0.05)).result("aiohttp")
        assert summary.ops > 0, summary
        sizes[workload.name] = summary.response_bytes
    assert sizes[conditional.name] < sizes[full.name] - len(json.dumps(contract.cache_document()))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_generator_fails_loudly_when_a_conditional_get_is_not_304(framework):
    with cache_server(framework, "--cache-ttl", "3600") as server:
        cache.request(server, "POST", contract.CACHE_BUMP)  # the client's tag is for version 0
        workload = workloads.http_get(contract.CACHE_ETAG, 1, if_none_match=True)
        with generator_for(workload, server, warmup_s=0.05) as generator:
            with pytest.raises(GeneratorError, match="status 'HTTP/1.1 200"):
                generator.wait_ready()


@needs_redis
@pytest.mark.parametrize("framework,key", [("aiohttp", "aiohttp:document"), ("tornado", "tornado:document")])
def test_redis_path_round_trips_real_data(framework, key, redis_port):
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_port)
    try:
        with cache_server(framework, "--cache-ttl", "3600", "--redis-port", str(redis_port)) as server:
            cache.request(server, "POST", contract.CACHE_CLEAR)
            assert client.get(key) is None
            assert document_version(server, contract.CACHE_REDIS) == 0
            assert json.loads(client.get(key)) == contract.cache_document(0)  # stored in the real redis-server
            client.set(key, json.dumps(contract.cache_document(7)))  # what Redis holds is what is served
            assert document_version(server, contract.CACHE_REDIS) == 7
            assert cache.backend_calls(server) == 1
            cache.request(server, "POST", contract.CACHE_CLEAR)
            assert client.get(key) is None
    finally:
        client.close()


def test_cache_redis_without_a_redis_port_is_503():
    with cache_server("aiohttp") as server:
        assert get(server, contract.CACHE_REDIS)[0] == 503


@needs_redis
def test_redis_server_retries_on_a_taken_port_and_stops(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], redis_server.free_port()])
        monkeypatch.setattr(redis_server, "free_port", lambda: next(ports))
        with redis_server.RedisServer() as redis:
            assert redis.port != taken.getsockname()[1]
            assert redis.process.poll() is None
            with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as sock:
                sock.sendall(b"PING\r\n")
                assert sock.recv(64) == b"+PONG\r\n"
        assert redis.process.poll() is not None


def test_redis_family_is_skipped_with_the_reason_when_redis_server_is_missing(monkeypatch):
    monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)
    result = redis_server.compare_with_redis(workloads.http_get(contract.CACHE_REDIS, 1), ["aiohttp", "tornado"])
    assert result.outcomes["aiohttp"] == Skipped(redis_server.redis_missing())
    assert "redis-server is not installed" in result.outcomes["tornado"].reason
