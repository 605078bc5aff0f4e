"""The release history over CI runners (.github/workflows/releases.yml): the workflow lints
clean (and the linter does catch a broken one), its jobs cover every release environment once,
and its commands run here as the runners would: two release jobs on a stand-in benchmark,
each under its own machine, merged into one site, judged against the previous publication."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from asv import util

from harness import ci
from harness.asv_run import asv_home_env
from harness.process import ROOT

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


def test_the_workflow_lints_clean_and_the_linter_catches_a_broken_one(tmp_path):
    done = subprocess.run([str(ACTIONLINT), str(WORKFLOW)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("needs: plan", "needs: plann"))
    done = subprocess.run([str(ACTIONLINT), str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and "plann" in done.stdout


def test_the_workflow_runs_the_scripts_the_tests_run():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    steps = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    assert "python -m harness.ci matrix" in steps["plan"]
    assert 'scripts/ci/release-job.sh "${{ matrix.framework }}"' in steps["release"]
    assert "scripts/ci/merge.sh artifacts previous.tar.gz" in steps["publish"]
    assert jobs["release"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    uploaded = next(s for s in jobs["release"]["steps"] if "upload-artifact" in s.get("uses", ""))["with"]["path"]
    assert "results/${{ matrix.machine }}/" in uploaded and "profiles/${{ matrix.machine }}/" in uploaded


def test_the_jobs_cover_every_release_environment_exactly_once(tmp_path):
    full = util.load_json(str(ci.RELEASES_CONFIG), js_comments=True)["include"]
    covered = []
    for job in ci.jobs():
        assert job["machine"] == f"ci-{job['framework']}"
        path = tmp_path / f"{job['framework']}.json"
        ci.job_config(job["framework"], path)
        conf = json.loads(path.read_text())
        assert all(entry["env_nobuild"]["BENCH_FRAMEWORKS"] == job["framework"] for entry in conf["include"])
        assert Path(conf["results_dir"]) == ROOT / "results"  # as the full config means it
        covered.extend(conf["include"])
    assert sorted(map(json.dumps, covered)) == sorted(map(json.dumps, full))
    with pytest.raises(SystemExit, match="no release environment for 'picows'"):
        ci.job_config("picows", tmp_path / "none.json")


def job(work: Path, framework: str, env_dir: Path, home: Path, ratio: float, *asv_args: str) -> None:
    """One release job, as a runner runs it, in its own folder (its own checkout's results)."""
    benchmarks = work.parent / "benchmarks"
    if not benchmarks.exists():
        benchmarks.mkdir(parents=True)
        (benchmarks / "__init__.py").write_text("")
        (benchmarks / "bench_websocket.py").write_text(STAND_IN)
    conf = util.load_json(str(ROOT / "asv.releases.json"), js_comments=True)
    conf.update(
        repo=str(ROOT), benchmark_dir=str(benchmarks), results_dir=str(work / "results"), html_dir=str(work / "html"),
        env_dir=str(env_dir), build_command=[], install_command=[], uninstall_command=[],
        include=[{"python": "3.11", "env_nobuild": {"BENCH_FRAMEWORKS": name}} for name in ("aiohttp", "tornado")],
    )  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    (work / "asv.json").write_text(json.dumps(conf))
    extra = {"BENCH_SKIP_SETUP": "1", "BENCH_ASV_CONFIG": str(work / "asv.json"), "STAND_IN_RATIO": str(ratio)}
    run = subprocess.run(
        [str(ROOT / "scripts" / "ci" / "release-job.sh"), framework, *asv_args],
        env=asv_home_env(home, {**os.environ, **extra}), cwd=work, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    machine = f"ci-{framework}"
    recorded = (work / "results" / machine).glob(f"*-virtualenv-py3.11-BENCH_FRAMEWORKS{framework}.json")
    assert list(recorded), f"no results under {machine}"
    assert not [p.name for p in (work / "results").iterdir() if p.is_dir() and p.name != machine]


def merge(work: Path, jobs: list[Path], home: Path, previous: Path | None) -> subprocess.CompletedProcess:
    """The publish job: each job's upload (results/ and profiles/) as the artifact it would be."""
    artifacts = work / "artifacts"
    for i, done in enumerate(jobs):
        subprocess.run(["cp", "-a", str(done / "results"), str(artifacts / f"results-{i}" / "results")],
                       check=False)  # fmt: skip
    conf = json.loads((jobs[0] / "asv.json").read_text())
    conf.update(results_dir=str(work / "results"), html_dir=str(work / "html"))
    (work / "asv.json").write_text(json.dumps(conf))
    extra = {"BENCH_SKIP_SETUP": "1", "BENCH_ASV_CONFIG": str(work / "asv.json")}
    return subprocess.run(
        [str(ROOT / "scripts" / "ci" / "merge.sh"), str(artifacts), str(previous or "")],
        env=asv_home_env(home, {**os.environ, **extra}), cwd=work, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


@pytest.mark.timeout(600)
def test_two_runs_of_two_jobs_merge_into_one_site_and_the_second_is_judged_against_the_first(tmp_path):
    home, env_dir = tmp_path / "home", tmp_path / "env"
    for i in range(2):
        (tmp_path / "first" / "artifacts" / f"results-{i}").mkdir(parents=True)
        (tmp_path / "second" / "artifacts" / f"results-{i}").mkdir(parents=True)
    # The first run: the line's job on the previous commit (aiohttp at 2.0 x baseline).
    job(tmp_path / "jobs1" / "aiohttp", "aiohttp", env_dir, home, 2.0, "HEAD~1^!")
    job(tmp_path / "jobs1" / "tornado", "tornado", env_dir, home, 2.0, "HEAD~1^!")
    first = merge(tmp_path / "first", [tmp_path / "jobs1" / "aiohttp", tmp_path / "jobs1" / "tornado"], home, None)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "no previous results (a first run)" in first.stdout
    assert "ci: 0 environments compared" in first.stdout
    site = tmp_path / "first" / "html"
    index = json.loads((site / "index.json").read_text())
    assert {"ci-aiohttp", "ci-tornado"} <= set(index["params"]["machine"])  # one site, both runners
    packed = site / "results.tar.gz"
    with tarfile.open(packed) as tar:
        names = tar.getnames()
    assert any(n.startswith("results/ci-aiohttp/") for n in names) and any(n.startswith("profiles") for n in names)

    # The second run, at HEAD: aiohttp 50 % slower than its previous results, Tornado unchanged.
    job(tmp_path / "jobs2" / "aiohttp", "aiohttp", env_dir, home, 3.0)
    job(tmp_path / "jobs2" / "tornado", "tornado", env_dir, home, 2.0)
    second = merge(tmp_path / "second", [tmp_path / "jobs2" / "aiohttp", tmp_path / "jobs2" / "tornado"], home, packed)
    out = second.stdout
    assert second.returncode == 1, out[-3000:] + second.stderr[-3000:]
    lines = {line.split(":")[0]: line for line in out.splitlines() if line.startswith("ci-")}
    assert lines["ci-aiohttp virtualenv-py3.11-BENCH_FRAMEWORKSaiohttp"].endswith("REGRESSION"), out
    assert lines["ci-tornado virtualenv-py3.11-BENCH_FRAMEWORKStornado"].endswith("ok"), out
    assert "ci: 2 environments compared with earlier results, regressions found" in out
    # The site still holds the first run's results beside the second's, and was built.
    assert (tmp_path / "second" / "html" / "frameworks.html").exists()
    commits = {p.name.split("-")[0] for p in (tmp_path / "second" / "results" / "ci-aiohttp").glob("*-virtualenv*")}
    assert len(commits) == 2
