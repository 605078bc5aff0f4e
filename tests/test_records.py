"""The typed records at the harness's boundaries: what the parent sends a generator and
what it answers (harness/loadspec.py), the workload catalogue (harness/workloads.py), what
a measurement returns (harness/outcomes.py), and how benchmarks read it."""

from __future__ import annotations

import array
import dataclasses
import json

import pytest

from benchmarks import common
from harness import loadspec, workloads
from harness.loadspec import ExpectedReply, GeneratorFailure, HttpRequests, Ready, WindowResult, WsArticle, WsEcho
from harness.outcomes import Failed, Measurement, NotMeasured, Skipped
from servers import contract


@pytest.mark.parametrize(
    "spec",
    [
        WsEcho(url="ws://127.0.0.1:1/ws/echo", connections=3, size=1024, binary=True, fragment_size=256),
        loadspec.WsHandshake(connections=10),
        loadspec.WsBroadcast(connections=100, size=32, connect_timeout_s=11.0),
        WsArticle(total_connections=4, messages=3, concurrency=2),
        HttpRequests(
            connections=2,
            method="POST",
            body=b"\x00\xff{}",
            headers=(("If-None-Match", '"x"'),),
            expect=ExpectedReply("application/json", b"\xfe\x00", status=304, etag='"x"'),
        ),
    ],
    ids=lambda spec: spec.kind,
)
def test_every_load_spec_survives_the_trip_to_the_generator(spec):
    assert loadspec.load_spec_from_json(spec.to_json()) == spec


def test_a_spec_with_an_unknown_kind_or_field_is_refused():
    with pytest.raises(ValueError, match="unknown load kind 'ws_nope'"):
        loadspec.load_spec_from_json(json.dumps({"kind": "ws_nope"}))
    with pytest.raises(ValueError, match="ws_echo has no field"):
        loadspec.load_spec_from_json(json.dumps({"kind": "ws_echo", "sise": 3}))


def test_answers_round_trip_and_errors_name_their_cause():
    ready = Ready(0.5, 10, 2)
    assert loadspec.parse_answer(ready.to_json()) == ready
    window = WindowResult(5, 100, 0.25, 0.1, 0, array.array("f", [1.0, 2.0]), array.array("f", [0.5]), 20.0)
    assert loadspec.parse_answer(window.to_json()) == window
    with pytest.raises(GeneratorFailure, match="the server hung"):
        loadspec.parse_answer(loadspec.error_line("LoadError: the server hung"))
    with pytest.raises(GeneratorFailure, match="unreadable answer"):
        loadspec.parse_answer("Traceback (most recent call last):")


def test_windows_of_several_processes_merge():
    parts = [
        WindowResult(3, 30, 1.0, 0.5, 1, array.array("f", [1, 2, 3]), None, None),
        WindowResult(2, 20, 1.2, 0.25, 0, array.array("f", [4, 5]), None, None),
    ]
    merged = WindowResult.merge(parts)
    assert (merged.ops, merged.bytes, merged.seconds, merged.client_cpu_s, merged.deflate_connections) == (
        5,
        50,
        1.2,
        0.75,
        1,
    )
    assert list(merged.latencies_us) == [1, 2, 3, 4, 5] and merged.schedule_lag_us is None
    assert Ready.merge([Ready(0.1, 3, 1), Ready(0.3, 2, 0)]) == Ready(0.3, 5, 1)


# The catalogue: the workload owns every axis, and names the ones that are not the default.


def test_workload_names_say_their_axes():
    assert workloads.ws_echo(32, 100).name == "ws_echo_text_32B_c100"
    assert workloads.ws_echo(32, 100, loop="uvloop").name == "ws_echo_text_32B_c100_uvloop"
    assert workloads.http_get(contract.JSON, 64, allocator="glibc").name == "http_get_json_c64_glibc_malloc"
    assert workloads.http_post_json("1KB", 16, json_codec="orjson").name == "http_post_json_echo_1KB_c16_orjson"
    assert workloads.http_get(contract.JSON, 64, allocator="glibc").server_env == {}
    assert workloads.http_get(contract.JSON, 64).server_env == workloads.ALLOCATORS["tuned"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: workloads.ws_echo(32, 1, loop="trio"), "unknown loop 'trio'"),
        (lambda: workloads.http_post_json("1KB", 1, json_codec="ujson"), "unknown JSON codec 'ujson'"),
        (lambda: workloads.http_get(contract.JSON, 1, allocator="jemalloc"), "unknown allocator 'jemalloc'"),
        (lambda: workloads.http_get("/nope", 1), "no expected response known for GET /nope"),
        (lambda: workloads.http_get(contract.JSON, 1, if_none_match=True), "no ETag known"),
    ],
)
def test_unknown_axes_and_paths_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_expected_bodies_are_the_codecs_exact_bytes():
    import orjson

    stdlib = workloads.http_get(contract.JSON, 1).load.expect.body
    fast = workloads.http_get(contract.JSON, 1, json_codec="orjson").load.expect.body
    assert stdlib == json.dumps(contract.JSON_MESSAGE).encode() and fast == orjson.dumps(contract.JSON_MESSAGE)
    etag = workloads.http_get(contract.CACHE_ETAG, 1, if_none_match=True).load
    assert etag.expect.status == 304 and etag.headers == (("If-None-Match", etag.expect.etag),)
    post = workloads.http_post_json("1KB", 1).load
    assert post.body == post.expect.body and json.loads(post.body)


def test_a_workload_aims_its_spec_at_a_server():
    class Server:
        def url(self, path: str, scheme: str) -> str:
            return f"{scheme}://127.0.0.1:9{path}"

    spec = workloads.ws_broadcast(100).load_spec(Server(), warmup_s=0.5)
    assert spec == dataclasses.replace(
        workloads.ws_broadcast(100).load, url="ws://127.0.0.1:9/ws/broadcast", warmup_s=0.5
    )


# What a measurement returns, as benchmarks read it.


def test_a_skip_reads_as_na_and_a_failure_as_a_failure_with_its_cause():
    measured = Measurement("w", {}, {"a": Skipped("no HTTP server"), "b": Failed("server died")})
    with pytest.raises(NotMeasured, match="no HTTP server"):
        measured.result("a")
    assert measured.failures() == {"b": Failed("server died")}
    with pytest.raises(NotImplementedError, match="no HTTP server"):  # asv: n/a
        common.require(measured.outcomes["a"], "a")
    with pytest.raises(RuntimeError, match="b failed during the measurement: server died"):
        common.require(measured.outcomes["b"], "b")


def test_tracked_sets_the_unit_and_leaves_itself_out_of_the_hashed_source():
    # asv hashes pretty_source into the benchmark's version: a unit must not restart a history.
    method = common.Comparison.track_time_per_op
    assert method.unit == "seconds"
    assert method.pretty_source.startswith("def track_time_per_op(")
    assert "@tracked" not in method.pretty_source
