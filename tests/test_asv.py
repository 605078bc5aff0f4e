"""The suite through asv itself: a quick run in this interpreter records every framework,
shows n/a where a framework lacks the endpoint, starts each server once per measurement
(never per sample) and leaves none behind. asv runs with HOME in a temporary folder, so
its machine file (~/.asv-machine.json) is the test's, never the user's."""

from __future__ import annotations

import ast
import collections
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asv import util

import servers
from benchmarks import bench_cache, bench_cost, bench_http, bench_websocket
from benchmarks.common import Comparison
from harness import shared
from harness.asv_run import asv_home_env
from harness.compare import QUICK_ENV, ServerPool
from harness.cost.family import server_groups
from harness.cost.records import CostRecord, flamegraph_path, profiles_dir
from harness.cost.store import MACHINE_ENV, RESULTS_ENV
from harness.process import ROOT, START_LOG_ENV
from tests.conftest import pid_alive

ASV = [sys.executable, "-m", "asv"]
SMOKE_FRAMEWORKS = ("aiohttp", "tornado", "websockets")
# The quick run measures every class once (a few minutes here): beyond the default timeout.
pytestmark = pytest.mark.timeout(1500)


@pytest.fixture(scope="module")
def asv_run(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("asv")
    conf = util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    conf.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        results_dir=str(work / "results"),
        html_dir=str(work / "html"),
        env_dir=str(work / "env"),
    )
    (work / "asv.conf.json").write_text(json.dumps(conf))
    start_log = work / "starts.log"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    # asv names the commit and environment to the benchmarks it runs in its own virtualenvs
    # (ASV_COMMIT, ASV_ENV_NAME), not with --python=same: given here as asv would, with the
    # machine and results folder harness.asv_run passes (harness/cost/store.py), so the cost
    # family saves its profiles as in a real run.
    extra = {
        # The smoke run measures the original three frameworks (the contract tests check every
        # server); the others must show n/a, which proves the selection (BENCH_FRAMEWORKS).
        servers.SELECTION_ENV: ",".join(SMOKE_FRAMEWORKS),
        QUICK_ENV: "1",
        START_LOG_ENV: str(start_log),
        "ASV_COMMIT": commit or "0" * 40,
        "ASV_ENV_NAME": "smoke-env",
        MACHINE_ENV: "smoke",
        RESULTS_ENV: str(work / "results"),
    }
    env = asv_home_env(work / "home", {**os.environ, **extra})
    common = ["--config", str(work / "asv.conf.json")]
    subprocess.run(ASV + ["machine", "--yes", "--machine", "smoke", *common], check=True, env=env, cwd=work)
    asv_args = [
        "--python=same",
        "--quick",
        "--machine",
        "smoke",
        "--show-stderr",
        "--set-commit-hash",
        commit or "0" * 40,
    ]
    with shared.sharing(asv_args) as sharing_env:  # as harness.asv_run runs asv
        run = subprocess.run(
            ASV + ["run", *common, *asv_args], env={**env, **sharing_env}, cwd=work, capture_output=True, text=True,
            timeout=1800,
        )  # fmt: skip
    results_file = next((work / "results" / "smoke").glob(f"{commit[:8]}*.json"), None)
    return {
        "run": run,
        "results": json.loads(results_file.read_text()) if results_file else None,
        "log": start_log,
        "results_dir": work / "results",
        "commit": commit,
    }


def values(asv_run: dict, name: str) -> dict:
    """A benchmark's values by parameter combination: {(framework, ...): value}."""
    column = dict(zip(asv_run["results"]["result_columns"], asv_run["results"]["results"][name], strict=False))
    combos = itertools.product(*([ast.literal_eval(p) for p in axis] for axis in column["params"]))
    return dict(zip(combos, column["result"], strict=True))


def test_asv_run_succeeds(asv_run):
    run = asv_run["run"]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "failed" not in run.stdout.lower(), run.stdout[-4000:]
    assert asv_run["results"] is not None


def test_every_selected_framework_is_recorded_where_it_has_the_endpoint(asv_run):
    ws = values(asv_run, "bench_websocket.EchoText32B.track_time_per_op")
    assert [f for (f,) in ws] == list(servers.FRAMEWORKS)
    for (framework,), value in ws.items():
        if framework in ("baseline", *SMOKE_FRAMEWORKS):
            assert isinstance(value, float) and value > 0, (framework, value)
        else:  # not selected: asv records a skip (NaN, shown n/a); a failure would be None
            assert isinstance(value, float) and math.isnan(value), (framework, value)
    http = values(asv_run, "bench_http.GetJson.track_time_per_op")
    assert all(isinstance(http[f,], float) and http[f,] > 0 for f in ("baseline", "aiohttp", "tornado")), http
    # websockets has no HTTP server: a skip too.
    assert isinstance(http["websockets",], float) and math.isnan(http["websockets",]), http


def test_a_measurement_several_classes_take_alike_is_taken_once(asv_run):
    """harness/shared.py: the headline echo and GET /json in short rounds and the handshake, each
    measured by the first class asv runs (beside TLS) and read by the others."""
    readers = {
        ("bench_tls.EchoTLS", ("plain",)): [
            ("bench_websocket.EchoGrid", (32, 100, "text")),
            ("bench_websocket.EchoAllocator", ("tuned",)),
            ("bench_websocket.EchoEventLoop", ("asyncio",)),
            ("bench_workers.EchoWorkers", (1,)),  # in bench_tls's rounds, two workers too
        ],
        ("bench_tls.GetJsonTLS", ("plain",)): [("bench_workers.GetJsonWorkers", (1,))],
        ("bench_tls.HandshakesTLS", ("plain",)): [("bench_websocket.Handshakes", ())],
    }
    for (taker, cell), others in readers.items():
        taken = values(asv_run, f"{taker}.track_time_per_op")
        aiohttp = taken[("aiohttp", *cell)]
        assert isinstance(aiohttp, float) and aiohttp > 0, taker
        for reader, reader_cell in others:
            read = values(asv_run, f"{reader}.track_time_per_op")
            for framework in ("baseline", *SMOKE_FRAMEWORKS):
                value = taken[(framework, *cell)]
                if isinstance(value, float) and not math.isnan(value):
                    assert read[(framework, *reader_cell)] == taken[(framework, *cell)], (reader, framework)
    assert (
        values(asv_run, "bench_tls.GetJsonTLS.track_time_per_op")["aiohttp", "plain"]
        != values(asv_run, "bench_http.GetJsonAllocator.track_time_per_op")["aiohttp", "tuned"]
    )


def test_the_cost_family_is_recorded_with_its_profiles(asv_run):
    instructions = values(asv_run, "bench_cost.HeadlineCost.track_instructions_per_op")
    measured = {combo: v for combo, v in instructions.items() if combo[0] in ("baseline", *SMOKE_FRAMEWORKS)}
    assert all(isinstance(v, float) and v > 1000 for c, v in measured.items() if c != ("websockets", "http_get_json"))
    assert math.isnan(instructions["websockets", "http_get_json"])  # websockets serves no HTTP: n/a
    # Beside the results: asv's run gives the commit and environment (harness/cost/store.py).
    profiles = profiles_dir(asv_run["results_dir"])
    records = list(profiles.glob(f"smoke/{asv_run['commit']}/smoke-env/ws_echo_text_32B/aiohttp.json"))
    assert len(records) == 1, list(profiles.rglob("*"))[:20]
    assert CostRecord.load(records[0]).functions


def cost_family_starts(cls: type) -> collections.Counter:
    """The server starts a cost class makes in a smoke run: two per server configuration a
    framework needs (natively, then under valgrind). In a run that shares measurements, as this
    one, HeadlineCost starts none for flame graphs: the headline classes record them."""
    starts = collections.Counter()
    for framework in servers.selection():
        cases = [c for c in cls.cases if c.in_smoke_run and not c.workload.unsupported(framework)]
        starts[framework] = 2 * len(server_groups(cases, framework))
    return starts


def test_the_headline_class_records_the_flame_graph_on_its_own_servers(asv_run):
    with pytest.MonkeyPatch.context() as quick_run:
        quick_run.setenv(QUICK_ENV, "1")  # as asv ran them: one flame graph, aiohttp's echo
        [(workload, framework)] = bench_cost.flamegraph_plan()
    path = flamegraph_path(asv_run["results_dir"], "smoke", asv_run["commit"], "smoke-env", workload.name, framework)
    assert path.is_file(), list(path.parent.parent.rglob("*"))
    assert "ops/s while sampled" in json.loads(path.read_text())["name"]


def comparison_classes() -> list[type]:
    classes = []
    for module in (bench_websocket, bench_http, bench_cache):
        classes += [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, Comparison)]
    return [c for c in classes if getattr(c, "workload", None) or c.grid]


def comparison_starts(cls: type) -> collections.Counter:
    """The server starts a comparison class makes: one per framework and server configuration."""
    workloads = cls.grid.values() if cls.grid else [cls.workload]
    return collections.Counter(
        {
            framework: len({ServerPool.key(w, framework, None) for w in workloads if not w.unsupported(framework)})
            for framework in servers.selection()
            if any(not w.unsupported(framework) for w in workloads)
        }
    )


def test_each_server_starts_once_per_measurement_and_none_is_left(asv_run):
    starts = [line.split() for line in Path(asv_run["log"]).read_text().splitlines()]
    by_parent = collections.defaultdict(collections.Counter)
    for framework, _pid, parent in starts:
        by_parent[parent][framework] += 1
    assert by_parent, "no server was started"
    with pytest.MonkeyPatch.context() as quick_run:
        quick_run.setenv(QUICK_ENV, "1")  # as asv ran them
        quick_run.setenv(servers.SELECTION_ENV, ",".join(SMOKE_FRAMEWORKS))
        cost_starts = cost_family_starts(bench_cost.HeadlineCost)  # WorkloadCost starts none in a smoke run
        grid_starts = [comparison_starts(cls) for cls in comparison_classes()]
    assert not {f for counts in by_parent.values() for f in counts} - {"baseline", *SMOKE_FRAMEWORKS}
    for parent, counts in by_parent.items():
        # A comparison starts each framework once per server configuration its workloads need
        # (a grid shares servers between workloads, harness.compare.ServerPool); the experiments
        # start every framework alike.
        assert len(set(counts.values())) == 1 or counts in grid_starts or counts == cost_starts, (
            f"{parent} started {counts}"
        )
    assert cost_starts in by_parent.values()  # the cost family ran, as planned
    # One measuring process per benchmark class (its setup_cache), none per benchmark or sample.
    classes = {name.rsplit(".", 1)[0] for name in asv_run["results"]["results"]}
    assert len(by_parent) <= len(classes)
    assert not [pid for _f, pid, _p in starts if pid_alive(int(pid))]


def loadgen_processes() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"harness.loadgen" in cmdline and pid_alive(int(entry)):
                pids.append(int(entry))
    return pids


def test_sigkill_of_asv_mid_run_leaves_no_process_behind(tmp_path):
    conf = util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"), results_dir=str(tmp_path / "results"))
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    start_log = tmp_path / "starts.log"
    selection = {servers.SELECTION_ENV: ",".join(SMOKE_FRAMEWORKS)}
    env = asv_home_env(tmp_path / "home", {**os.environ, START_LOG_ENV: str(start_log), **selection})
    env.pop(QUICK_ENV, None)  # a full measurement, so asv is killed in the middle of it
    before = set(loadgen_processes())
    common = ["--config", str(tmp_path / "asv.conf.json")]
    subprocess.run(ASV + ["machine", "--yes", "--machine", "smoke", *common], check=True, env=env, cwd=tmp_path)
    asv = subprocess.Popen(
        ASV + ["run", *common, "--python=same", "--machine", "smoke", "--bench", "EchoText32B"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(start_log.read_text().splitlines() if start_log.exists() else []) < 4:
            time.sleep(0.1)
        servers_started = [int(line.split()[1]) for line in start_log.read_text().splitlines()]
        assert len(servers_started) == 4, "the measurement never started its servers"
        time.sleep(1)  # generators connected, windows running
    finally:
        asv.kill()
        asv.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        any(pid_alive(pid) for pid in servers_started) or set(loadgen_processes()) - before
    ):
        time.sleep(0.1)
    assert not [pid for pid in servers_started if pid_alive(pid)], "a server outlived asv"
    assert not set(loadgen_processes()) - before, "a load generator outlived asv"
