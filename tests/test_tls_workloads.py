"""TLS workloads (the tls axis of harness/workloads.py, benchmarks/bench_tls.py): the spec
carries the run's certificate, generators verify servers against it and refuse any other,
the certificate lives only as long as its measurement, and plain names stay as they were.
On real servers (the baseline and aiohttp), a few connections, short windows, no timings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import bench_tls
from harness import compare as compare_module
from harness import loadspec, tls, workloads
from harness.compare import Rounds, compare, compare_each, compare_together
from harness.generator import Generator, GeneratorError
from harness.loadgen.tls_client import client_context
from harness.loadgen.window import LoadError
from harness.loadspec import ExpectedReply, HttpRequests, Ready, WsEcho, WsHandshake
from harness.outcomes import Measurement, Summary
from servers import contract

QUICK = Rounds(rounds=1, window_s=0.1, warmup_s=0.05)
FRAMEWORKS = ["baseline", "aiohttp"]
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


# --- names and records --------------------------------------------------------------------


def test_tls_variants_are_named_tls_and_plain_names_are_unchanged():
    assert workloads.headline_ws_echo().name == "ws_echo_text_32B_c100"
    assert workloads.headline_get_json().name == "http_get_json_c64"
    assert workloads.with_tls(workloads.headline_ws_echo()).name == "ws_echo_text_32B_c100_tls"
    assert workloads.ws_handshake(10, tls=True).name == "ws_handshake_c10_tls"
    assert workloads.http_get(contract.JSON, 64, tls=True).name == "http_get_json_c64_tls"
    assert workloads.ws_echo(32, 100, loop="uvloop", tls=True).name == "ws_echo_text_32B_c100_uvloop_tls"
    assert [w.scheme for w in (workloads.ws_echo(32, 1, tls=True), workloads.http_get(contract.JSON, 1, tls=True))] == [
        "wss",
        "https",
    ]
    # The benchmarks' grids: the plain row is the plain workload itself (its history goes on).
    assert {key: w.name for key, w in bench_tls.EchoTLS.grid.items()} == {
        ("plain",): "ws_echo_text_32B_c100",
        ("tls",): "ws_echo_text_32B_c100_tls",
    }
    assert bench_tls.HandshakesTLS.grid["tls",].name == "ws_handshake_c10_tls"
    assert bench_tls.GetJsonTLS.grid["tls",].name == "http_get_json_c64_tls"


def test_a_tls_server_or_spec_without_the_certificate_is_refused():
    workload = workloads.ws_echo(32, 1, tls=True)
    with pytest.raises(ValueError, match="needs the measurement's certificate"):
        workload.server("baseline", None)


@pytest.mark.parametrize(
    "spec",
    [
        WsEcho(url="wss://10.0.0.1:1/ws/echo", connections=3, server_certificate_pem=PEM),
        WsHandshake(url="wss://127.0.0.1:1/ws/echo", connections=10, server_certificate_pem=PEM),
        HttpRequests(
            url="https://127.0.0.1:1/json",
            connections=2,
            expect=ExpectedReply("application/json", b"{}"),
            server_certificate_pem=PEM,
        ),
    ],
    ids=lambda spec: spec.kind,
)
def test_the_certificate_survives_the_trip_to_the_generator(spec):
    assert loadspec.load_spec_from_json(spec.to_json()) == spec


def test_what_tls_negotiated_survives_the_answer_and_the_merge():
    ready = Ready(0.5, 10, 0, tls="TLSv1.3 TLS_AES_256_GCM_SHA384")
    assert loadspec.parse_answer(ready.to_json()) == ready
    assert Ready.merge([ready, Ready(0.2, 5, 0, tls="TLSv1.3 TLS_AES_256_GCM_SHA384")]).tls == ready.tls
    assert Ready.merge([Ready(0.1, 1, 0), Ready(0.1, 1, 0)]).tls is None  # plain


def test_the_generator_refuses_a_url_and_a_certificate_that_disagree():
    with pytest.raises(LoadError, match="no certificate"):
        client_context(WsEcho(url="wss://127.0.0.1:1/ws/echo"))
    with pytest.raises(LoadError, match="a certificate but a plain url"):
        client_context(WsEcho(url="ws://127.0.0.1:1/ws/echo", server_certificate_pem=PEM))
    assert client_context(HttpRequests(url="http://127.0.0.1:1/json")) is None


def summary(seconds_per_op: float) -> Summary:
    return Summary("aiohttp", "", 3, 100, seconds_per_op, 0, 1 / seconds_per_op, 99, 50, 0, 0, 0, 0, 0, 1.0)


def test_the_cost_of_tls_is_tls_time_over_plain_time_on_the_tls_row():
    measured = {
        ("plain",): Measurement("plain", {}, {"aiohttp": summary(20e-6)}),
        ("tls",): Measurement("tls", {}, {"aiohttp": summary(30e-6)}),
    }
    echo = bench_tls.EchoTLS()
    assert echo.track_tls_time_ratio(measured, "aiohttp", "tls") == pytest.approx(1.5)
    # asv's n/a is NaN from a track method: an exception there fails the benchmark (it did, in a run).
    assert math.isnan(echo.track_tls_time_ratio(measured, "aiohttp", "plain"))


# --- on real servers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "workload",
    [workloads.ws_echo(32, 4, tls=True), workloads.http_get(contract.JSON, 4, tls=True)],
    ids=lambda w: w.name,
)
def test_tls_workloads_are_verified_on_the_baseline_and_aiohttp(workload):
    measured = compare(workload, FRAMEWORKS, QUICK)
    assert measured.setup["tls"] is True
    for framework in FRAMEWORKS:
        result = measured.result(framework)
        assert result.ops > 0, framework
        assert result.tls and result.tls.startswith("TLSv1."), (framework, result.tls)


def test_tls_handshakes_count_completions():
    measured = compare(workloads.ws_handshake(2, tls=True), FRAMEWORKS, QUICK)
    for framework in FRAMEWORKS:
        result = measured.result(framework)
        assert result.ops > 0, framework
        assert result.tls and result.tls.startswith("TLSv1."), (framework, result.tls)


@pytest.mark.parametrize(
    "workload",
    [
        workloads.ws_echo(32, 2, tls=True),
        workloads.ws_handshake(2, tls=True),
        workloads.http_get(contract.JSON, 2, tls=True),
    ],
    ids=lambda w: w.name,
)
def test_a_server_presenting_another_certificate_is_refused(workload, tmp_path, start_server):
    (tmp_path / "served").mkdir()
    (tmp_path / "trusted").mkdir()
    served = tls.make_certificate(tmp_path / "served", hosts=("127.0.0.1",))
    trusted = tls.make_certificate(tmp_path / "trusted", hosts=("127.0.0.1",))
    server = start_server("baseline", command=workload.server("baseline", None, certificate=served).command)
    with Generator(workload.load_spec(server, trusted), [None], 1) as generator:
        with pytest.raises(GeneratorError, match="TLS certificate verification failed"):
            generator.wait_ready()


def spy_on_certificates(monkeypatch) -> list[Path]:
    """The folders run_certificate makes certificates in, recorded as it makes them."""
    folders: list[Path] = []
    make = tls.make_certificate

    def recording(directory, *args, **kwargs):
        folders.append(Path(directory))
        return make(directory, *args, **kwargs)

    monkeypatch.setattr(tls, "make_certificate", recording)
    return folders


def test_the_certificate_is_made_for_the_measurement_and_deleted_after_it(monkeypatch):
    folders = spy_on_certificates(monkeypatch)
    plain = workloads.ws_echo(32, 2)
    measured = compare_each([plain, workloads.with_tls(plain)], ["baseline"], QUICK)
    assert measured[plain.name + "_tls"].result("baseline").ops > 0
    assert len(folders) == 1, "one certificate for the grid"
    assert not folders[0].exists()
    assert folders[0].name.startswith(compare_module.CERTIFICATE_DIR_PREFIX)


def test_the_certificate_is_deleted_when_the_measurement_fails(monkeypatch):
    folders = spy_on_certificates(monkeypatch)

    def failing(*args, **kwargs):
        assert folders and folders[0].exists()  # made before the servers start
        raise RuntimeError("the host went away")

    monkeypatch.setattr(compare_module, "start_contenders", failing)
    with pytest.raises(RuntimeError, match="the host went away"):
        compare(workloads.ws_echo(32, 2, tls=True), ["baseline"], QUICK)
    assert len(folders) == 1 and not folders[0].exists()


def test_no_certificate_is_made_without_a_tls_workload(monkeypatch):
    folders = spy_on_certificates(monkeypatch)
    with compare_module.run_certificate([workloads.ws_echo(32, 2)], "127.0.0.1") as certificate:
        assert certificate is None
    assert folders == []


def test_the_certificate_covers_the_servers_address_when_it_is_not_loopback(monkeypatch):
    requested: list[tuple] = []
    monkeypatch.setattr(tls, "make_certificate", lambda directory, hosts: requested.append(hosts))
    with compare_module.run_certificate([workloads.ws_echo(32, 2, tls=True)], "10.0.0.1"):
        pass
    assert requested == [("10.0.0.1",)]


def test_plain_and_tls_are_measured_in_the_same_rounds(monkeypatch):
    folders = spy_on_certificates(monkeypatch)
    measured_order = []
    real = compare_module.measure_round

    def recording(contender, window_s):
        over_tls = "--tls-cert" in contender.server.command
        measured_order.append((len(contender.rounds), contender.framework, "tls" if over_tls else "plain"))
        return real(contender, window_s)

    monkeypatch.setattr(compare_module, "measure_round", recording)
    plain = workloads.ws_echo(32, 2)
    measured = compare_together([plain, workloads.with_tls(plain)], FRAMEWORKS, Rounds(2, 0.05, 0.05))
    assert set(measured) == {plain.name, plain.name + "_tls"}
    for name, negotiated in ((plain.name, False), (plain.name + "_tls", True)):
        for framework in FRAMEWORKS:
            result = measured[name].result(framework)
            assert result.ops > 0 and bool(result.tls) == negotiated, (name, framework, result.tls)
            assert result.ratio_to_baseline is not None, "each variant's ratio to its own baseline"
    rounds = [index for index, _framework, _transport in measured_order]
    assert rounds == sorted(rounds), "every contender's first window before any second one"
    first = {(fw, transport) for index, fw, transport in measured_order if index == 0}
    assert first == {(fw, t) for fw in FRAMEWORKS for t in ("plain", "tls")}, "both variants in each round"
    assert len(folders) == 1 and not folders[0].exists()
    with pytest.raises(ValueError, match="fixed jobs"):
        compare_together([workloads.ws_article(total_connections=2, messages=1)], FRAMEWORKS)


def test_the_tls_classes_measure_plain_and_tls_together():
    for cls in (bench_tls.EchoTLS, bench_tls.HandshakesTLS, bench_tls.GetJsonTLS):
        assert cls.together and cls.params[1] == ["plain", "tls"], cls.__name__
