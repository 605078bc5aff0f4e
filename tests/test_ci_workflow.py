"""The release history over CI runners (.github/workflows/releases.yml): the workflow lints
clean (and the linter does catch a broken one), runs the scripts these tests run, its jobs
cover every release environment once, its planning job needs nothing but asv, and its
commands run here as the runners would: two release jobs on a stand-in benchmark, each under
its own machine and in its share of the environments, merged into one site, then two more
merged over that publication and judged against it (harness.regressions --old-results)."""

from __future__ import annotations

import ast
import dataclasses
import http.server
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml
from asv import environment, util
from asv.config import Config
from packaging.requirements import Requirement

from harness import ci, regressions
from harness.asv_run import asv_home_env
from harness.cost.records import CostRecord, FunctionCost, record_path
from harness.process import ROOT
from tests import site_fixtures
from tests.test_regressions import write_results

WORKFLOW = ROOT / ".github" / "workflows" / "releases.yml"
ACTIONLINT = ROOT / ".venv" / "bin" / "actionlint"
# A stand-in for the headline class, whose ratio to the baseline each job's run chooses.
STAND_IN = """
import os


class EchoText32B:
    params = [["baseline", "aiohttp", "tornado"]]
    param_names = ["framework"]

    def track_ratio_to_baseline(self, framework):
        return float(os.environ.get("STAND_IN_RATIO", "2.0"))

    track_ratio_to_baseline.unit = "x baseline"
"""
# The stand-in's build command, found through asv's {conf_dir} as the suite's own
# (scripts/suite_wheel.py) is: only where the job's config really is.
STAND_IN_BUILD = "print('stand-in build: nothing to build')\n"


def workflow_jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def test_the_workflow_lints_clean_and_the_linter_catches_a_broken_one(tmp_path):
    done = subprocess.run([str(ACTIONLINT), str(WORKFLOW)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("needs: plan", "needs: plann"))
    done = subprocess.run([str(ACTIONLINT), str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and "plann" in done.stdout


def test_the_workflow_runs_the_scripts_the_tests_run():
    jobs = workflow_jobs()
    steps = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    assert "python -m harness.ci matrix" in steps["plan"]
    assert 'scripts/ci/release-job.sh "${{ matrix.framework }}"' in steps["release"]
    assert 'scripts/ci/previous.sh "${{ steps.pages.outputs.base_url }}" previous.tar.gz' in steps["publish"]
    assert "scripts/ci/merge.sh artifacts previous.tar.gz" in steps["publish"]
    assert ".venv/bin/python -m harness.ci regressions artifacts previous/results" in steps["publish"]
    assert jobs["release"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    uploaded = next(s for s in jobs["release"]["steps"] if "upload-artifact" in s.get("uses", ""))["with"]["path"]
    assert "results/${{ matrix.machine }}/" in uploaded and "profiles/${{ matrix.machine }}/" in uploaded
    # Every job is bounded, and the planning job installs the asv the suite is tested with.
    assert all(isinstance(job.get("timeout-minutes"), int) for job in jobs.values())
    pin = re.search(r'^dev = \[.*"(asv==[^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert pin and f"pip install -q {pin[1]}" in steps["plan"]


def test_the_jobs_cover_every_release_environment_exactly_once():
    conf = Config.load(str(ci.RELEASES_CONFIG))
    every = [env.name for env in environment.get_environments(conf, None, verbose=False)]
    assert len(every) == len(util.load_json(str(ci.RELEASES_CONFIG), js_comments=True)["include"])
    # The latest releases on the other interpreters run where those are (scripts/releases.sh).
    every = [name for name in every if not name.endswith(f"-{ci.LATEST_RELEASES}1")]
    assert len(every) == 48
    covered = []
    for job in ci.jobs():
        assert job["machine"] == f"ci-{job['framework']}"
        names = ci.environments(str(job["framework"]))
        assert len(names) == job["environments"]
        assert all(name.endswith(f"-BENCH_FRAMEWORKS{job['framework']}") for name in names)
        covered.extend(names)
    assert sorted(covered) == sorted(every) and len(set(covered)) == len(covered)
    with pytest.raises(SystemExit, match="no release environment for 'picows'"):
        ci.environments("picows")


class _Site(http.server.BaseHTTPRequestHandler):
    """A published site: /site/ with its raw results, /none/ without (404), /denied/ refusing (403)."""

    def do_GET(self) -> None:  # http.server's name for it
        status = {"/site/results.tar.gz": 200, "/denied/results.tar.gz": 403}.get(self.path, 404)
        body = b"packed results" if status == 200 else b"<html>not here</html>"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_the_previous_results_are_fetched_and_only_their_absence_is_a_first_run(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    out = tmp_path / "previous.tar.gz"

    def fetch(site: str) -> subprocess.CompletedProcess:
        script = str(ROOT / "scripts" / "ci" / "previous.sh")
        return subprocess.run([script, site, str(out)], capture_output=True, text=True, timeout=60)

    try:
        done = fetch(f"{base}/site/")
        assert done.returncode == 0 and out.read_bytes() == b"packed results", done.stderr
        done = fetch(f"{base}/none")  # no site yet, or one without results: the history starts
        assert done.returncode == 0 and not out.exists() and "a first run" in done.stdout, done.stderr
        done = fetch(f"{base}/denied")  # anything else must not publish over the history
        assert done.returncode == 1 and not out.exists() and "HTTP 403" in done.stderr, done.stdout
    finally:
        server.shutdown()
        server.server_close()


def _closure(name: str) -> set[str]:
    """A distribution and everything it requires (markers evaluated, no extras), normalised names."""

    def norm(text: str) -> str:
        return re.sub(r"[-_.]+", "-", text).lower()

    seen: set[str] = set()
    todo = [name]
    while todo:
        dist = norm(todo.pop())
        if dist in seen:
            continue
        seen.add(dist)
        for line in importlib.metadata.requires(dist) or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def test_the_planning_job_needs_nothing_but_asv():
    # What the plan job runs, in a fresh interpreter: the distributions of every module the
    # command imports (those loaded at start-up, such as .pth hooks, set aside).
    script = (
        "import contextlib, importlib.metadata, io, json, sys\n"
        "before = set(sys.modules)\n"
        "from harness import ci\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    ci.main(['matrix'])\n"
        "dists = importlib.metadata.packages_distributions()\n"
        "names = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "print(json.dumps([json.loads(out.getvalue()), sorted({d for n in names for d in dists.get(n, [])})]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    matrix, used = json.loads(done.stdout)
    assert {job["framework"] for job in matrix["include"]} >= {"aiohttp", "tornado", "websockets"}
    allowed = _closure("asv") | {"asyncweb-bench"}  # the suite itself, from the checkout
    assert {re.sub(r"[-_.]+", "-", d).lower() for d in used} <= allowed


def test_the_old_side_can_come_from_an_earlier_publication_of_the_same_commit(tmp_path, capsys):
    # Wall clock: one commit, published before with aiohttp at 3.7 x baseline, measured again at 4.8.
    commit = "a" * 40
    write_results(tmp_path / "old" / "box", commit, "env", 1, [1.0, 3.7, 5.9, None], [5e-6, 2e-5, 3e-5, None])
    write_results(tmp_path / "new" / "box", commit, "env", 2, [1.0, 4.8, 5.9, None], [5e-6, 2.6e-5, 3e-5, None])
    args = ["--results", str(tmp_path / "new"), "--commits", "aaaa", "aaaa", "--bench", "bench_websocket.EchoText32B"]
    assert regressions.main([*args, "--old-results", str(tmp_path / "old")]) == 1
    assert any("aiohttp" in line and "SLOWER" in line for line in capsys.readouterr().out.splitlines())
    assert regressions.main(args) == 0  # without it, the new set against itself

    # Cost: the movers come from each side's own profiles, beside its own results.
    pins = {"aiohttp": "3.9.5"}
    for side in ("old", "new"):
        site_fixtures.write_benchmarks(tmp_path / side / "results", cost=True)
        site_fixtures.write_machine(tmp_path / side / "results", "ci-aiohttp")
    site_fixtures.write_run(tmp_path / "old" / "results", "ci-aiohttp", commit, 0, pins, cost=True)
    path = site_fixtures.write_run(tmp_path / "new" / "results", "ci-aiohttp", commit, 1, pins, cost=True)
    env = json.loads(path.read_text())["env_name"]
    new_record = record_path(tmp_path / "new" / "results", "ci-aiohttp", commit, env, "http_get_json", "aiohttp")
    record = CostRecord.load(new_record)
    added = 20_000.0  # instructions per op, all in one function
    functions = tuple(
        FunctionCost(f.function, f.obj, f.per_op + added) if f.function == site_fixtures.INJECTED else f
        for f in record.functions
    )
    record = dataclasses.replace(
        record, functions=functions, instructions=record.instructions + int(added * record.ops)
    )
    record.dump(new_record)
    data = json.loads(path.read_text())
    row = data["results"]["bench_cost.HeadlineCost.track_instructions_per_op"]
    frameworks, cases = (list(map(ast.literal_eval, axis)) for axis in row[1])
    row[0][frameworks.index("aiohttp") * len(cases) + cases.index("http_get_json")] = record.instructions_per_op
    path.write_text(json.dumps(data))
    code = regressions.main(
        ["--results", str(tmp_path / "new" / "results"), "--old-results", str(tmp_path / "old" / "results"),
         "--commits", commit, commit, "--env", env]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"{site_fixtures.INJECTED} (fixture_aiohttp.so): " in out and "(+20,000 per op)" in out, out


def job(work: Path, framework: str, benchmarks: Path, env_dir: Path, ratio: float, *asv_args: str) -> None:
    """One release job, as a runner runs it: in its own folder (its own checkout's results) with
    its own HOME (its own ~/.asv-machine.json)."""
    conf = util.load_json(str(ROOT / "asv.releases.json"), js_comments=True)
    conf.update(
        repo=str(ROOT), benchmark_dir=str(benchmarks), results_dir=str(work / "results"), html_dir=str(work / "html"),
        env_dir=str(env_dir), build_command=["python {conf_dir}/stand_in_build.py"], install_command=[],
        uninstall_command=[],
        include=[{"python": "3.11", "env_nobuild": {"BENCH_FRAMEWORKS": name}} for name in ("aiohttp", "tornado")],
    )  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    (work / "asv.json").write_text(json.dumps(conf))
    (work / "stand_in_build.py").write_text(STAND_IN_BUILD)
    extra = {"BENCH_SKIP_SETUP": "1", "BENCH_ASV_CONFIG": str(work / "asv.json"), "STAND_IN_RATIO": str(ratio)}
    run = subprocess.run(
        [str(ROOT / "scripts" / "ci" / "release-job.sh"), framework, *asv_args],
        env=asv_home_env(work / "home", {**os.environ, **extra}), cwd=work, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "all 1 environments measured" in run.stdout, run.stdout[-3000:]  # its share, and built
    machine = f"ci-{framework}"
    recorded = [p.name for p in (work / "results" / machine).glob("*-virtualenv-*.json")]
    assert recorded and all(name.endswith(f"-BENCH_FRAMEWORKS{framework}.json") for name in recorded), recorded
    assert sorted(p.name for p in (work / "results").iterdir() if p.is_dir()) == [machine]
    assert (work / "profiles" / machine).is_dir()  # uploaded as the artifact's profiles/ even when empty


def run_jobs(folder: Path, env_dir: Path, *jobs: tuple) -> list[Path]:
    """The matrix's jobs, (framework, ratio, asv arguments...) each, one after another. They share
    ``env_dir``, and so one environment: the stand-in's two differ only in an env_nobuild
    variable, which asv leaves out of an environment's folder name (the real ones pin different
    releases), and one creation is most of a job's time here."""
    benchmarks = folder.parent / "benchmarks"
    if not benchmarks.exists():
        benchmarks.mkdir(parents=True)
        (benchmarks / "__init__.py").write_text("")
        (benchmarks / "bench_websocket.py").write_text(STAND_IN)
    for framework, ratio, *args in jobs:
        job(folder / framework, framework, benchmarks, env_dir, ratio, *args)
    return [folder / framework for framework, *_ in jobs]


def upload(artifacts: Path, done: Path) -> None:
    """A job's upload as the publish job downloads it: its results/ and profiles/ in a folder of its own."""
    target = artifacts / f"results-{done.name}"
    target.mkdir(parents=True)
    for folder in ("results", "profiles"):
        subprocess.run(["cp", "-a", str(done / folder), str(target / folder)], check=True)


def merge(work: Path, jobs: list[Path], home: Path, previous: Path | None) -> tuple[str, subprocess.CompletedProcess]:
    """The publish job's scripts in its checkout: merge.sh (its output), then the regressions step."""
    for done in jobs:
        upload(work / "artifacts", done)
    conf = json.loads((jobs[0] / "asv.json").read_text())
    conf.update(results_dir=str(work / "results"), html_dir=str(work / "html"))
    (work / "asv.json").write_text(json.dumps(conf))
    env = asv_home_env(home, {**os.environ, "BENCH_SKIP_SETUP": "1", "BENCH_ASV_CONFIG": str(work / "asv.json")})
    merged = subprocess.run(
        [str(ROOT / "scripts" / "ci" / "merge.sh"), str(work / "artifacts"), str(previous or work / "previous.tar.gz")],
        env=env, cwd=work, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    # The workflow's regressions step; its folders are the checkout's there, the work folder's here.
    judged = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "harness.ci", "regressions", "artifacts", "previous/results"],
        env={**env, "PYTHONPATH": str(ROOT)}, cwd=work, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return merged.stdout, judged


def commits_of(results: Path, machine: str) -> set[str]:
    return {json.loads(p.read_text())["commit_hash"] for p in (results / machine).glob("*-virtualenv-*.json")}


@pytest.mark.timeout(300)
def test_two_runs_of_two_jobs_merge_into_one_site_and_the_second_is_judged_against_the_first(tmp_path, capsys):
    home, env_dir = tmp_path / "home", tmp_path / "env"  # the publish job's HOME; the jobs have their own
    # Two commits of this repository, by hash: HEAD may move while the test runs (a commit).
    head, parent = (util.check_output(["git", "-C", str(ROOT), "rev-parse", ref]).strip() for ref in ("HEAD", "HEAD~1"))
    # The first run, at the previous commit: both lines at 2.0 x baseline.
    first_jobs = run_jobs(tmp_path / "jobs1", env_dir, ("aiohttp", 2.0, f"{parent}^!"), ("tornado", 2.0, f"{parent}^!"))
    merged, first = merge(tmp_path / "first", first_jobs, home, None)
    assert "merge: no previous results (a first run)" in merged and "merge: results of 2 jobs" in merged, merged
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "no previous publication" in first.stdout and "0 of 2 runs compared" in first.stdout, first.stdout
    site = tmp_path / "first" / "html"
    index = json.loads((site / "index.json").read_text())
    assert {"ci-aiohttp", "ci-tornado"} <= set(index["params"]["machine"])  # one site, both runners
    assert (site / "frameworks.html").exists()
    with tarfile.open(site / "results.tar.gz") as tar:
        names = tar.getnames()
    assert {"results/ci-aiohttp", "results/ci-tornado", "results/benchmarks.json", "profiles/ci-aiohttp"} <= set(names)

    # The second run: aiohttp at the next commit, unchanged; Tornado's line measured again at the same
    # commit (a weekly run of an unchanged suite), now 50 % slower than its publication.
    second_jobs = run_jobs(tmp_path / "jobs2", env_dir, ("aiohttp", 2.0, f"{head}^!"), ("tornado", 3.0, f"{parent}^!"))
    merged, second = merge(tmp_path / "second", second_jobs, home, site / "results.tar.gz")
    assert "merge: previous results from" in merged, merged
    out = second.stdout
    assert second.returncode == 1, out[-3000:] + second.stderr[-3000:]
    lines = {line.split(":")[0]: line for line in out.splitlines() if line.startswith("ci-")}
    aiohttp = lines["ci-aiohttp virtualenv-py3.11-BENCH_FRAMEWORKSaiohttp"]
    tornado = lines["ci-tornado virtualenv-py3.11-BENCH_FRAMEWORKStornado"]
    assert aiohttp.endswith(f"{parent[:8]} -> {head[:8]}: ok"), out
    assert tornado.endswith(f"{parent[:8]} -> {parent[:8]}: REGRESSION"), out
    assert "+50.0%  SLOWER" in out and "2 of 2 runs compared with the previous publication, regressions found" in out
    # The merged results: aiohttp's history holds both commits, Tornado's rerun replaced its
    # published run; the site was built from them.
    results = tmp_path / "second" / "results"
    assert commits_of(results, "ci-aiohttp") == {parent, head} and commits_of(results, "ci-tornado") == {parent}
    (rerun,) = (results / "ci-tornado").glob("*-virtualenv-*.json")
    assert 3.0 in json.loads(rerun.read_text())["results"]["bench_websocket.EchoText32B.track_ratio_to_baseline"][0]
    assert (tmp_path / "second" / "html" / "frameworks.html").exists()

    # Judged alone, the unchanged line passes.
    alone = tmp_path / "second" / "aiohttp-only"
    upload(alone, second_jobs[0])
    assert ci.main(["regressions", str(alone), str(tmp_path / "second" / "previous" / "results")]) == 0
    assert "1 of 1 runs compared with the previous publication, none regressed" in capsys.readouterr().out
