"""Measurements that several benchmark classes take alike, taken once per run (harness/shared.py):
the key, the folder, asv's --bench patterns, and the classes reading what another measured.
The measuring functions are replaced by recorders: what is checked is who measures what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_cost, bench_tls, bench_websocket, bench_workers
from harness import asv_run, shared, workloads
from harness.compare import Rounds
from harness.cost.records import CostRecord
from harness.outcomes import Measurement

SHORT = Rounds(rounds=3, window_s=0.3, warmup_s=0.1)


@pytest.fixture
def share(monkeypatch, tmp_path):
    """A share folder as harness.asv_run gives a run, every benchmark selected."""
    with shared.sharing([]) as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env


def test_the_key_is_decided_by_the_workload_its_rounds_and_the_run(monkeypatch):
    echo = workloads.ws_echo(32, 100)
    assert shared.key(echo, SHORT) == shared.key(workloads.headline_ws_echo(), SHORT)
    assert shared.key(echo, SHORT) != shared.key(workloads.ws_echo(32, 100, allocator="glibc"), SHORT)
    assert shared.key(echo, SHORT) != shared.key(echo, Rounds(rounds=7, window_s=1.0, warmup_s=0.5))
    before = shared.key(echo, SHORT)
    for name in ("BENCH_FRAMEWORKS", "BENCH_QUICK", "ASV_ENV_NAME", "ASV_COMMIT", "BENCH_TOPOLOGY"):
        with monkeypatch.context() as changed:
            changed.setenv(name, "other")
            assert shared.key(echo, SHORT) != before, name


def test_without_a_folder_nothing_is_kept_or_found(monkeypatch):
    monkeypatch.delenv(shared.SHARE_ENV, raising=False)
    shared.save("k", Measurement("m", {}))
    assert shared.load("k") is None


def test_what_one_class_leaves_another_finds_until_the_run_ends(monkeypatch):
    with shared.sharing([]) as env:
        monkeypatch.setenv(shared.SHARE_ENV, env[shared.SHARE_ENV])
        shared.save("k", Measurement("m", {"rounds": 3}, {"aiohttp": 1.0}))
        assert shared.load("k") == Measurement("m", {"rounds": 3}, {"aiohttp": 1.0})
        assert shared.load("other") is None
    assert shared.load("k") is None  # the folder went with the run


@pytest.mark.parametrize(
    ("args", "patterns"),
    [
        ([], []),
        (["--show-stderr", "HEAD^!"], []),
        (["--bench", "a", "-b", "b", "--bench=c", "-bd", "--show-stderr"], ["a", "b", "c", "d"]),
    ],
)
def test_asv_run_bench_patterns_are_read_as_asv_reads_them(args, patterns):
    assert shared.bench_patterns(args) == patterns


def test_a_class_is_selected_when_a_pattern_matches_one_of_its_methods(monkeypatch):
    methods = ("track_instructions_per_op",)
    monkeypatch.delenv(shared.SELECTED_ENV, raising=False)
    assert not shared.selected("bench_cost.WorkloadCost", methods)  # the run did not say
    for patterns, expected in (([], True), (["bench_cost"], True), (["^bench_cost\\.HeadlineCost\\."], False)):
        monkeypatch.setenv(shared.SELECTED_ENV, json.dumps(patterns))
        assert shared.selected("bench_cost.WorkloadCost", methods) is expected, patterns


class Recorder:
    """compare_each and compare_together as they are called: the workloads each measured."""

    def __init__(self) -> None:
        self.measured: list[str] = []

    def each(self, chosen, frameworks=None, rounds=None, rounds_by_name=None, before_rounds=None):
        self.measured += [w.name for w in chosen]
        return {w.name: Measurement(w.name, {"by": "each"}, {"aiohttp": len(self.measured)}) for w in chosen}

    def together(self, chosen, frameworks=None, rounds=None, certificate=None):
        self.measured += [w.name for w in chosen]
        return {w.name: Measurement(w.name, {"by": "together"}, {"aiohttp": len(self.measured)}) for w in chosen}


def test_the_headline_echo_in_short_rounds_is_measured_once_for_four_classes(monkeypatch, share):
    recorder = Recorder()
    monkeypatch.setattr("benchmarks.common.compare_each", recorder.each)
    monkeypatch.setattr("benchmarks.common.compare_together", recorder.together)
    tls = bench_tls.EchoTLS().measure()  # asv runs bench_tls before bench_websocket and bench_workers
    echo = workloads.headline_ws_echo().name
    readers = {
        bench_websocket.EchoAllocator: ("tuned",),
        bench_websocket.EchoEventLoop: ("asyncio",),
        bench_websocket.EchoGrid: (32, 100, "text"),
    }
    for cls, cell in readers.items():
        measured = cls().measure()
        assert measured[cell] == tls[("plain",)], cls.__name__
        assert measured[cell].setup["measured_for"] == "bench_tls.EchoTLS"
    # Each class measured its other cells itself, once.
    assert len(recorder.measured) == len(set(recorder.measured))
    assert f"{echo}_glibc_malloc" in recorder.measured
    # Workers read one worker and two, both measured in bench_tls's rounds: their ratio is the figure.
    workers = bench_workers.EchoWorkers().measure()
    assert recorder.measured.count(echo) == 1  # taken once, with TLS and two workers beside it
    assert workers[(1,)] == tls[("plain",)]
    assert workers[(2,)].setup == {"by": "together", "measured_for": "bench_tls.EchoTLS"}
    two_workers = bench_workers.with_workers(workloads.headline_ws_echo(), 2).name
    assert recorder.measured == [echo, f"{echo}_tls", two_workers, *recorder.measured[3:]]  # one compare_together


@pytest.mark.parametrize(("taker", "workers"), [(bench_tls.EchoTLS, bench_workers.EchoWorkers),
                                                (bench_tls.GetJsonTLS, bench_workers.GetJsonWorkers)])  # fmt: skip
def test_workers_join_the_tls_rounds_only_when_the_run_selects_them(monkeypatch, share, taker, workers):
    recorder = Recorder()
    monkeypatch.setattr("benchmarks.common.compare_together", recorder.together)
    monkeypatch.setenv(shared.SELECTED_ENV, json.dumps(["^bench_tls\\."]))
    taker().measure()
    assert len(recorder.measured) == 2  # plain and TLS only
    workers().measure()  # not selected by this run, yet run by hand: it measures its own
    assert len(recorder.measured) == 4
    monkeypatch.setenv(shared.SELECTED_ENV, json.dumps([]))
    with shared.sharing([]) as env:  # a fresh run selecting everything
        monkeypatch.setenv(shared.SHARE_ENV, env[shared.SHARE_ENV])
        taker().measure()
        workers().measure()
    assert len(recorder.measured) == 7  # plain, TLS and two workers together; the workers read them


def test_a_workload_in_other_rounds_is_measured_again(monkeypatch, share):
    recorder = Recorder()
    monkeypatch.setattr("benchmarks.common.compare_each", recorder.each)
    bench_websocket.EchoGrid().measure()
    bench_websocket.EchoText32B().measure()  # the headline's longer rounds: its own measurement
    assert recorder.measured.count(workloads.headline_ws_echo().name) == 2


def test_without_sharing_every_class_measures_its_own(monkeypatch):
    monkeypatch.delenv(shared.SHARE_ENV, raising=False)
    recorder = Recorder()
    monkeypatch.setattr("benchmarks.common.compare_each", recorder.each)
    bench_websocket.EchoGrid().measure()
    bench_websocket.EchoAllocator().measure()
    assert recorder.measured.count(workloads.headline_ws_echo().name) == 2


class CostRecorder:
    """measure_costs as it is called: the case names of each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, cases, frameworks, count_syscalls=True):
        self.calls.append([case.name for case in cases])
        self.counted_syscalls = count_syscalls
        record = dict(instructions=1000, syscall_ops=0, syscalls={}, functions=(("f", 1.0),), profiled=1000)
        outcomes = {
            (fw, case.name): CostRecord(framework=fw, release="1", case=case.name, ops=1, tool={}, **record)
            for fw in frameworks
            for case in cases
        }
        return Measurement("cost", {}, outcomes)


def test_headline_cost_measures_workload_costs_cases_on_its_servers_when_both_run(monkeypatch, share):
    recorder = CostRecorder()
    monkeypatch.setattr(bench_cost, "measure_costs", recorder)
    monkeypatch.setattr(bench_cost.store, "save_records", lambda measured: None)
    headline = bench_cost.HeadlineCost().measure()
    workload = bench_cost.WorkloadCost().measure()
    headline_names = [c.name for c in bench_cost.HEADLINE_CASES]
    workload_names = [c.name for c in bench_cost.WORKLOAD_CASES]
    assert recorder.calls == [headline_names + workload_names]  # one measurement, its own cases first
    assert {case for _fw, case in headline.outcomes} == set(headline_names)
    assert {case for _fw, case in workload.outcomes} == set(workload_names)
    assert workload.setup["measured_for"] == "bench_cost.HeadlineCost"
    assert all(record.functions == () for record in workload.outcomes.values())  # asv keeps no profiles


def test_headline_cost_measures_its_own_cases_alone_when_workload_cost_does_not_run(monkeypatch, share):
    monkeypatch.setenv(shared.SELECTED_ENV, json.dumps(["^(bench_cost\\.HeadlineCost)\\."]))  # the release history
    recorder = CostRecorder()
    monkeypatch.setattr(bench_cost, "measure_costs", recorder)
    monkeypatch.setattr(bench_cost.store, "save_records", lambda measured: None)
    bench_cost.HeadlineCost().measure()
    assert recorder.calls == [[c.name for c in bench_cost.HEADLINE_CASES]]
    assert recorder.counted_syscalls


def test_system_calls_are_not_counted_when_the_run_leaves_their_track_out(monkeypatch, share):
    monkeypatch.setenv(shared.SELECTED_ENV, json.dumps([asv_run.other_interpreters_pattern()]))
    recorder = CostRecorder()
    monkeypatch.setattr(bench_cost, "measure_costs", recorder)
    monkeypatch.setattr(bench_cost.store, "save_records", lambda measured: None)
    bench_cost.HeadlineCost().measure()
    assert recorder.calls == [[c.name for c in bench_cost.HEADLINE_CASES]]
    assert not recorder.counted_syscalls


def test_the_headline_classes_record_the_flame_graphs_when_the_run_shares(monkeypatch, share):
    recorded: list[tuple[str, str]] = []
    monkeypatch.setattr(bench_cost, "record_flamegraph", lambda w, fw, out, **kw: recorded.append((w.name, fw)))
    monkeypatch.setattr(bench_cost.store, "flamegraph_file", lambda workload, framework: Path("unused"))
    echo, get = workloads.headline_ws_echo(), workloads.headline_get_json()
    assert bench_cost.flamegraphs_before_rounds(echo) is not None
    assert bench_cost.flamegraphs_before_rounds(get) is not None
    bench_cost.record_flamegraphs()  # HeadlineCost, which asv runs first, leaves them to those classes
    assert recorded == []
    monkeypatch.setenv(shared.SELECTED_ENV, json.dumps(["^bench_cost\\.", "^bench_http\\.GetJson\\."]))
    assert bench_cost.flamegraphs_before_rounds(echo) is None  # EchoText32B does not run: HeadlineCost records
    bench_cost.record_flamegraphs()
    assert {w for w, _fw in recorded} == {echo.name}
    monkeypatch.delenv(shared.SHARE_ENV)  # asv run by hand: nothing shared, HeadlineCost records them all
    recorded.clear()
    assert bench_cost.flamegraphs_before_rounds(echo) is None
    bench_cost.record_flamegraphs()
    assert {w for w, _fw in recorded} == {echo.name, get.name}
