"""The suite through asv itself: a quick run in this interpreter records every framework,
shows n/a where a framework lacks the endpoint, starts each server once per measurement
(never per sample) and leaves none behind. asv runs with HOME in a temporary folder, so
its machine file (~/.asv-machine.json) is the test's, never the user's."""

from __future__ import annotations

import collections
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
from benchmarks import bench_cost
from harness.asv_run import asv_home_env
from harness.compare import QUICK_ENV
from harness.cost.family import server_groups
from harness.cost.records import CostRecord, profiles_dir
from harness.cost.store import MACHINE_ENV, RESULTS_ENV
from harness.process import ROOT, START_LOG_ENV
from tests.conftest import pid_alive

ASV = [sys.executable, "-m", "asv"]
# The quick run measures every class once (about 5 minutes here): beyond the default timeout.
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
    run = subprocess.run(
        ASV + ["run", *common, "--python=same", "--quick", "--machine", "smoke", "--show-stderr",
               "--set-commit-hash", commit or "0" * 40],
        env=env, cwd=work, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    results_file = next((work / "results" / "smoke").glob(f"{commit[:8]}*.json"), None)
    return {
        "run": run,
        "results": json.loads(results_file.read_text()) if results_file else None,
        "log": start_log,
        "results_dir": work / "results",
        "commit": commit,
    }


def values(asv_run: dict, name: str) -> list:
    return asv_run["results"]["results"][name][0]


def test_asv_run_succeeds(asv_run):
    run = asv_run["run"]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "failed" not in run.stdout.lower(), run.stdout[-4000:]
    assert asv_run["results"] is not None


def test_every_framework_is_recorded_where_it_has_the_endpoint(asv_run):
    # params are [baseline, aiohttp, tornado, websockets]
    ws = values(asv_run, "bench_websocket.EchoText32B.track_time_per_op")
    assert len(ws) == 4 and all(isinstance(v, float) and v > 0 for v in ws), ws
    http = values(asv_run, "bench_http.GetJson.track_time_per_op")
    assert all(isinstance(v, float) and v > 0 for v in http[:3]), http
    # websockets has no HTTP server: asv records a skip (NaN, shown n/a); a failure would be None.
    assert isinstance(http[3], float) and math.isnan(http[3]), http


def test_the_cost_family_is_recorded_with_its_profiles(asv_run):
    # params are [baseline, aiohttp, tornado, websockets] x [ws_echo_text_32B, http_get_json]
    instructions = values(asv_run, "bench_cost.HeadlineCost.track_instructions_per_op")
    assert all(isinstance(v, float) and v > 1000 for v in instructions[:7]), instructions
    assert math.isnan(instructions[7]), instructions  # websockets serves no HTTP: n/a
    # Beside the results: asv's run gives the commit and environment (harness/cost/store.py).
    profiles = profiles_dir(asv_run["results_dir"])
    records = list(profiles.glob(f"smoke/{asv_run['commit']}/smoke-env/ws_echo_text_32B/aiohttp.json"))
    assert len(records) == 1, list(profiles.rglob("*"))[:20]
    assert CostRecord.load(records[0]).functions


def cost_family_starts(cls: type) -> collections.Counter:
    """The server starts a cost class makes in a smoke run: two per server configuration a
    framework needs (natively, then under valgrind), and HeadlineCost's flame graphs one each."""
    starts = collections.Counter()
    for framework in servers.FRAMEWORKS:
        cases = [c for c in cls.cases if c.in_smoke_run and not c.workload.unsupported(framework)]
        starts[framework] = 2 * len(server_groups(cases, framework))
    if cls is bench_cost.HeadlineCost:
        starts.update(framework for _workload, framework in bench_cost.flamegraph_plan())
    return starts


def test_each_server_starts_once_per_measurement_and_none_is_left(asv_run):
    starts = [line.split() for line in Path(asv_run["log"]).read_text().splitlines()]
    by_parent = collections.defaultdict(collections.Counter)
    for framework, _pid, parent in starts:
        by_parent[parent][framework] += 1
    assert by_parent, "no server was started"
    with pytest.MonkeyPatch.context() as quick_run:
        quick_run.setenv(QUICK_ENV, "1")  # as asv ran them
        cost_starts = cost_family_starts(bench_cost.HeadlineCost)  # WorkloadCost starts none in a smoke run
    for parent, counts in by_parent.items():
        # Each workload a class measures starts every framework once (a grid: once per workload).
        assert len(set(counts.values())) == 1 or counts == cost_starts, f"{parent} started {counts}"
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
    env = asv_home_env(tmp_path / "home", {**os.environ, START_LOG_ENV: str(start_log)})
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
