"""The measuring commands are honest and leave the user's state alone: scripts/bench.sh and
scripts/releases.sh record results under this host's own asv machine, exit 1 and publish
nothing when no environment was measured, and name every environment that was not; the
verdict (harness/asv_run.py) is read from the results files, here fabricated ones; no test
writes the user's ~/.asv-machine.json (asv runs with a temporary HOME)."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from asv import util

from harness import asv_run
from harness.asv_run import asv_home_env, judge
from harness.process import ROOT
from tests import site_fixtures

ASV = [sys.executable, "-m", "asv"]
HOST = platform.uname().node  # what asv's defaults call this machine
RELEASE_ENV = "virtualenv-py3.11-aiohttp3.9.5"  # site_fixtures.write_run's names
DEFAULT_ENV = "virtualenv-py3.11-aiohttp-tornado-websockets"
T = 1767268800000  # site_fixtures' started_at, ms
DAY = 86_400_000
# A benchmark with a headline class's name (releases.sh selects those), measuring nothing real.
FAKE_BENCHMARK = """
class EchoText32B:
    params = [["baseline", "aiohttp", "tornado", "websockets"]]
    param_names = ["framework"]

    def track_time_per_op(self, framework):
        return 1e-5

    track_time_per_op.unit = "seconds"
"""


def machines_in(home: Path) -> dict:
    return json.loads((home / ".asv-machine.json").read_text())


# --- the machine entry ------------------------------------------------------------------


def test_a_temporary_home_keeps_asv_away_from_the_users_machine_file(tmp_path, monkeypatch):
    user = tmp_path / "user"
    user.mkdir()
    sentinel = b'{"sentinel": {"machine": "sentinel"}, "version": 1}'
    (user / ".asv-machine.json").write_bytes(sentinel)
    monkeypatch.setenv("HOME", str(user))  # as if the tests ran in this user's session
    env = asv_home_env(tmp_path / "home")
    # The step tests/test_asv.py runs before asv run.
    command = [*ASV, "machine", "--yes", "--machine", "smoke", "--config", str(ROOT / "asv.conf.json")]
    subprocess.run(command, check=True, env=env, cwd=tmp_path, capture_output=True)
    assert (user / ".asv-machine.json").read_bytes() == sentinel
    assert "smoke" in machines_in(tmp_path / "home")


def test_this_host_is_registered_by_the_name_asv_machine_yes_gives_it(tmp_path):
    reference = asv_home_env(tmp_path / "reference")
    subprocess.run([*ASV, "machine", "--yes", "--config", str(ROOT / "asv.conf.json")], check=True, env=reference,
                   cwd=tmp_path, capture_output=True)  # fmt: skip
    expected = machines_in(tmp_path / "reference")[HOST]
    # A machine file holding only another machine: asv itself would answer with that one.
    home = tmp_path / "home"
    home.mkdir()
    smoke = {"machine": "smoke", "os": "test", "arch": "test", "cpu": "test", "num_cpu": "1", "ram": "1"}
    (home / ".asv-machine.json").write_text(json.dumps({"smoke": smoke, "version": 1}))
    command = [sys.executable, "-m", "harness.asv_run", "machine"]
    first = subprocess.run(command, env=asv_home_env(home), cwd=ROOT, capture_output=True, text=True, check=True)
    assert first.stdout.strip() == HOST
    assert "registered" in first.stderr
    written = (home / ".asv-machine.json").read_bytes()
    assert json.loads(written) == {"smoke": smoke, HOST: expected, "version": 1}
    again = subprocess.run(command, env=asv_home_env(home), cwd=ROOT, capture_output=True, text=True, check=True)
    assert again.stdout.strip() == HOST and not again.stderr
    assert (home / ".asv-machine.json").read_bytes() == written


# --- the verdict, on fabricated results ---------------------------------------------------


def edit(path: Path, *, result=..., duration=..., started_at=...) -> None:
    """Rewrite every benchmark row of one results file (columns: result, params, version, started_at, duration)."""
    data = json.loads(path.read_text())
    for row in data["results"].values():
        if result is not ...:
            row[0] = result
        if started_at is not ...:
            row[3] = started_at
        if duration is not ...:
            row[4] = duration
    path.write_text(json.dumps(data))


@pytest.fixture
def results(tmp_path) -> Path:
    results = tmp_path / "results"
    site_fixtures.write_benchmarks(results)
    site_fixtures.write_machine(results, HOST)
    return results


def test_each_environment_is_judged_from_what_this_run_wrote(results):
    commit = "c" * 40
    write = site_fixtures.write_run
    write(results, HOST, commit, 0, {"aiohttp": "3.9.5"})  # measured now
    edit(write(results, HOST, commit, 0, {"aiohttp": "3.10.11"}), result=None, duration=None)  # asv skipped all
    edit(write(results, HOST, commit, 0, {"tornado": "6.4.2"}), result=None)  # ran, every one failed
    edit(write(results, HOST, commit, 0, {}), started_at=T - DAY)  # measured yesterday, skipped today
    envs = [RELEASE_ENV, "virtualenv-py3.11-aiohttp3.10.11", "virtualenv-py3.11-tornado6.4.2",
            "virtualenv-py3.11-websockets17.4", DEFAULT_ENV, "virtualenv-py3.11-aiohttp0.0.999"]  # fmt: skip
    verdicts = judge(
        results, HOST, envs, [commit], since_ms=T,
        not_created={"virtualenv-py3.11-aiohttp0.0.999": "ERROR: No matching distribution found for aiohttp==0.0.999"},
        installed={"virtualenv-py3.11-aiohttp3.10.11": None}, asv_status=2,
    )  # fmt: skip
    assert [v.status for v in verdicts] == ["measured", "not built", "failed", "no results", "kept", "not created"]
    assert [v.ok for v in verdicts] == [True, False, False, False, True, False]
    assert verdicts[0].detail == "20 values from 10 benchmarks"  # 2 workloads x 5, baseline and aiohttp
    assert asv_run.exit_status(verdicts) == 0  # some were measured: publish them
    text = asv_run.report("releases", verdicts, HOST, Path("asv.releases.json"), 2)
    assert "WARNING: 4 of 6 environments NOT measured" in text.splitlines()[-1]
    for env in envs[1:4] + envs[5:]:
        assert f"NOT MEASURED {env}: " in text
    assert "No matching distribution found for aiohttp==0.0.999" in text


def test_a_run_that_measured_nothing_fails(results):
    commit = "c" * 40
    edit(site_fixtures.write_run(results, HOST, commit, 0, {}), result=None, duration=None)
    verdicts = judge(results, HOST, [DEFAULT_ENV], [commit], since_ms=T, installed={DEFAULT_ENV: commit})
    assert verdicts[0].status == "nothing ran"  # installed, yet no benchmark ran: import or setup_cache
    assert asv_run.exit_status(verdicts) == 1
    text = asv_run.report("bench", verdicts, HOST, Path("asv.conf.json"), 2)
    assert text.splitlines()[-1].startswith("bench: FAILED: nothing was measured")


def test_results_under_another_machine_name_do_not_count(results):
    # What happened before: the run went to a test's "smoke" machine.
    commit = "c" * 40
    site_fixtures.write_machine(results, "smoke")
    site_fixtures.write_run(results, "smoke", commit, 0, {})
    verdicts = judge(results, HOST, [DEFAULT_ENV], [commit], since_ms=T)
    assert verdicts[0].status == "no results" and asv_run.exit_status(verdicts) == 1


def test_earlier_results_are_kept_only_when_asv_went_through_its_run(results):
    commit = "c" * 40
    edit(site_fixtures.write_run(results, HOST, commit, 0, {}), started_at=T - DAY)
    completed = judge(results, HOST, [DEFAULT_ENV], [commit], since_ms=T, asv_status=0)
    assert completed[0].status == "kept"
    # asv stopped before its loop (an unknown machine, say): yesterday's values are not today's verdict.
    stopped = judge(results, HOST, [DEFAULT_ENV], [commit], since_ms=T, asv_status=1)
    assert stopped[0].status == "no results" and asv_run.exit_status(stopped) == 1


def test_failure_cause_is_pips_last_error():
    output = (
        "Using pip 26.3\nERROR: Ignored the following yanked versions: 3.8.2\n"
        "ERROR: Could not find a version that satisfies the requirement aiohttp==0.0.999\n"
        "ERROR: No matching distribution found for aiohttp==0.0.999\n"
    )
    assert asv_run.failure_cause(output) == "ERROR: No matching distribution found for aiohttp==0.0.999"
    assert asv_run.failure_cause("Traceback\nOSError: no python3.11\n") == "OSError: no python3.11"


def test_commits_are_resolved_as_asv_run_resolves_them(tmp_path):
    commits = site_fixtures.make_repo(tmp_path / "repo", 3)
    conf = asv_run.Config.from_json({"repo": str(tmp_path / "repo"), "branches": ["main"], "dvcs": "git",
                                     "results_dir": str(tmp_path / "results")})  # fmt: skip
    config = tmp_path / "asv.conf.json"

    def resolve(*arguments: str) -> list[str]:
        return asv_run.resolve_commits(conf, asv_run.parse_run_args(config, list(arguments)))

    assert resolve("HEAD^!") == [commits[2]]
    assert sorted(resolve(f"{commits[0]}..{commits[2]}")) == sorted(commits[1:])
    assert resolve() == [commits[2]]  # the branch


def test_a_quick_pass_runs_the_working_tree_in_this_interpreter_and_always_measures():
    given = ["--show-stderr", "--skip-existing-successful", "--quick"]  # what scripts/bench.sh --quick passes
    args, parsed = asv_run.quick_pass(ROOT / "asv.conf.json", given)
    assert args == ["--show-stderr", "--quick", "--python=same", "--set-commit-hash", "HEAD"]
    assert parsed.quick and parsed.env_spec == [":same"] and parsed.range is None


def test_a_quick_pass_takes_no_revision_range(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert asv_run.main(["run", "--config", str(ROOT / "asv.conf.json"), "--", "--quick", "HEAD~1^!"]) == 2
    assert "--quick measures the working tree as it is" in capsys.readouterr().err
    assert not (tmp_path / ".asv-machine.json").exists()


@pytest.mark.parametrize("argument", ["--python=same", "--dry-run"])
def test_run_refuses_what_would_record_nothing(tmp_path, monkeypatch, argument):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert asv_run.main(["run", "--config", str(ROOT / "asv.conf.json"), "--", argument]) == 2
    assert not (tmp_path / ".asv-machine.json").exists()


# --- the scripts, against small asv set-ups -----------------------------------------------


def config(work: Path, base: str, **changes) -> Path:
    """``base`` (asv.conf.json or asv.releases.json) with every folder under ``work``."""
    conf = util.load_json(str(ROOT / base), js_comments=True)
    conf.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"), results_dir=str(work / "results"),
                html_dir=str(work / "html"), env_dir=str(work / "env"))  # fmt: skip
    conf.update(changes)
    path = work / "asv.conf.json"
    path.write_text(json.dumps(conf))
    return path


def script(name: str, work: Path, config: Path, home: Path) -> subprocess.CompletedProcess:
    env = asv_home_env(home, {**os.environ, "BENCH_SKIP_SETUP": "1", "BENCH_ASV_CONFIG": str(config)})
    return subprocess.run([str(ROOT / "scripts" / name)], env=env, cwd=work, capture_output=True, text=True,
                          timeout=240)  # fmt: skip


def test_releases_sh_fails_naming_each_release_that_cannot_be_installed(tmp_path):
    missing = [{"python": "3.11", "req": {"aiohttp": "0.0.999"}}, {"python": "3.11", "req": {"tornado": "0.0.999"}}]
    run = script("releases.sh", tmp_path, config(tmp_path, "asv.releases.json", include=missing), tmp_path / "home")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    for framework in ("aiohttp", "tornado"):
        cause = f"ERROR: No matching distribution found for {framework}==0.0.999"
        env = f"virtualenv-py3.11-{framework}0.0.999"
        assert f"could not create {env}: {cause}" in out
        assert f"NOT MEASURED {env}: not created: asv could not create it: {cause}" in run.stdout  # the summary
    assert run.stdout.strip().splitlines()[-1].startswith("releases: FAILED: nothing was measured")
    assert not (tmp_path / "html").exists(), "published although nothing was measured"
    assert not list(tmp_path.glob("results/*/*-*.json")), "asv recorded results"
    assert HOST in machines_in(tmp_path / "home")


def test_bench_sh_fails_when_its_only_environment_cannot_be_created(tmp_path):
    matrix = {"req": {"aiohttp": "0.0.999", "tornado": "", "websockets": ""}}
    conf = config(tmp_path, "asv.conf.json", matrix=matrix, pythons=["3.11"])
    run = script("bench.sh", tmp_path, conf, tmp_path / "home")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "No matching distribution found for aiohttp==0.0.999" in out
    assert run.stdout.strip().splitlines()[-1].startswith("bench: FAILED: nothing was measured")
    assert not (tmp_path / "html").exists()


def test_releases_sh_publishes_what_was_measured_and_names_what_was_not(tmp_path):
    # One environment installs (no framework, nothing to build: a quick stand-in benchmark),
    # one release does not exist. The machine file holds only a test's machine, as once happened.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asv-machine.json").write_text(json.dumps({"smoke": {"machine": "smoke"}, "version": 1}))
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "__init__.py").write_text("")
    (benchmarks / "bench_websocket.py").write_text(FAKE_BENCHMARK)
    include = [{"python": "3.11"}, {"python": "3.11", "req": {"aiohttp": "0.0.999"}}]
    conf = config(tmp_path, "asv.releases.json", include=include, benchmark_dir=str(benchmarks), build_command=[],
                  install_command=[], uninstall_command=[])  # fmt: skip
    run = script("releases.sh", tmp_path, conf, home)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    measured = json.loads((tmp_path / "results" / HOST / f"{head[:8]}-virtualenv-py3.11.json").read_text())
    assert measured["results"]["bench_websocket.EchoText32B.track_time_per_op"][0] == [1e-5] * 4
    assert sorted(p.name for p in (tmp_path / "results").iterdir() if p.is_dir()) == [HOST]
    assert (tmp_path / "html" / "index.html").exists() and (tmp_path / "html" / "frameworks.html").exists()
    summary = run.stdout.strip().splitlines()[-3:]  # printed again at the very end
    assert summary[0].startswith("  ok           virtualenv-py3.11: measured"), summary
    assert summary[1].startswith("  NOT MEASURED virtualenv-py3.11-aiohttp0.0.999: not created"), summary
    assert summary[2].startswith("releases: WARNING: 1 of 2 environments NOT measured"), summary


# Reads the switch a quick pass sets (harness.compare.QUICK_ENV): 1e-5 in one, 1.0 otherwise.
QUICK_PROBE = """
import os


class EchoText32B:
    params = [["baseline", "aiohttp"]]
    param_names = ["framework"]

    def track_time_per_op(self, framework):
        return 1e-5 if os.environ.get("BENCH_QUICK") == "1" else 1.0

    track_time_per_op.unit = "seconds"
"""


def test_bench_sh_quick_measures_in_this_interpreter_under_the_hosts_quick_machine(tmp_path):
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "__init__.py").write_text("")
    (benchmarks / "bench_websocket.py").write_text(QUICK_PROBE)
    conf = config(tmp_path, "asv.conf.json", benchmark_dir=str(benchmarks))
    env = asv_home_env(tmp_path / "home", {**os.environ, "BENCH_SKIP_SETUP": "1", "BENCH_ASV_CONFIG": str(conf)})
    run = subprocess.run([str(ROOT / "scripts" / "bench.sh"), "--quick"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert not (tmp_path / "env").exists()  # no environment made: .venv, as it is
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    [results] = (tmp_path / "results" / f"{HOST}-quick").glob(f"{head[:8]}-existing-*.json")
    assert json.loads(results.read_text())["results"]["bench_websocket.EchoText32B.track_time_per_op"][0] == [1e-5] * 2
    assert sorted(p.name for p in (tmp_path / "results").iterdir() if p.is_dir()) == [f"{HOST}-quick"]
    assert f'<code>{HOST}-quick</code> <span class="quick"' in (tmp_path / "html" / "frameworks.html").read_text()
    assert "QUICK PASS (scripts/bench.sh --quick)" in run.stdout


def load_suite_wheel():
    spec = importlib.util.spec_from_file_location("suite_wheel", ROOT / "scripts" / "suite_wheel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_suites_wheel_is_built_once_per_commit_for_every_environment(tmp_path, monkeypatch):
    # A project of one module stands in for the suite's checkout: the same pip wheel, quicker.
    project = tmp_path / "checkout"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "stand-in"\nversion = "1"\n[tool.setuptools]\npy-modules = ["stand_in"]\n'
    )
    (project / "stand_in.py").write_text("")
    suite_wheel = load_suite_wheel()
    envs = tmp_path / "env"
    commit = "c" * 40
    assert suite_wheel.main([commit, str(project), str(tmp_path / "cache-a"), str(envs / "a")]) == 0
    built = list((envs / "suite-wheels" / commit).glob("*.whl"))
    assert [w.name for w in built] == ["stand_in-1-py3-none-any.whl"]

    def no_build(*args, **kwargs):
        raise AssertionError(f"built again: {args}")

    monkeypatch.setattr(suite_wheel.subprocess, "run", no_build)
    assert suite_wheel.main([commit, str(project), str(tmp_path / "cache-b"), str(envs / "b")]) == 0
    for cache in ("cache-a", "cache-b"):  # asv's install command takes the one wheel in each
        assert [w.name for w in (tmp_path / cache).glob("*.whl")] == [built[0].name]


def test_a_failed_build_of_the_suites_wheel_leaves_nothing_to_reuse(tmp_path):
    suite_wheel = load_suite_wheel()
    commit = "d" * 40
    with pytest.raises(subprocess.CalledProcessError):
        suite_wheel.shared_wheel(commit, tmp_path / "not-a-project", tmp_path / "suite-wheels")
    assert [p.name for p in (tmp_path / "suite-wheels").iterdir()] == [".lock"]


# The interpreter axis: a stand-in headline class and one that is not (harness/interpreters.py).
TWO_CLASSES = (
    FAKE_BENCHMARK
    + """

class NotTheHeadline:
    params = [["baseline", "aiohttp"]]
    param_names = ["framework"]

    def track_time_per_op(self, framework):
        return 2e-5

    track_time_per_op.unit = "seconds"
"""
)


def test_bench_sh_runs_the_headline_on_the_other_interpreters_and_says_which_are_missing(tmp_path):
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "__init__.py").write_text("")
    (benchmarks / "bench_websocket.py").write_text(TWO_CLASSES)
    conf = config(tmp_path, "asv.conf.json", pythons=["3.11", "3.10", "3.97"], matrix={}, benchmark_dir=str(benchmarks),
                  build_command=[], install_command=[], uninstall_command=[])  # fmt: skip
    run = script("bench.sh", tmp_path, conf, tmp_path / "home")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    primary = json.loads((tmp_path / "results" / HOST / f"{head[:8]}-virtualenv-py3.11.json").read_text())
    other = json.loads((tmp_path / "results" / HOST / f"{head[:8]}-virtualenv-py3.10.json").read_text())
    assert {"bench_websocket.EchoText32B.track_time_per_op", "bench_websocket.NotTheHeadline.track_time_per_op"} <= set(
        primary["results"]
    )
    assert set(other["results"]) == {"bench_websocket.EchoText32B.track_time_per_op"}, "only the headline there"
    assert other["python"] == "3.10"
    summary = run.stdout.strip().splitlines()
    missing = next(line for line in summary if "py3.97" in line and line.lstrip().startswith("n/a"))
    assert "no interpreter" in missing and "python3.97 is not on PATH" in missing, missing
    assert any(line.startswith("bench: all 2 environments measured.") for line in summary), summary[-6:]
    kept = json.loads(next((tmp_path / "profiles" / HOST / head).glob("environments.json")).read_text())
    assert kept["py3.97"]["status"] == "no interpreter" and kept["virtualenv-py3.10"]["status"] == "measured"
    page = (tmp_path / "html" / "frameworks.html").read_text()
    assert 'id="interpreters"' in page and "Python 3.10" in page and "Python 3.97" in page
    assert "not on this host: python3.97 is not on PATH" in page
