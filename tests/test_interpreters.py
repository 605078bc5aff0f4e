"""The interpreter axis (harness/interpreters.py, harness.asv_run's passes and verdicts, the
site's table): on stand-ins, without creating an environment."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest

from harness import asv_run, interpreters
from harness.compare import PRIMARY_PYTHON_ENV, on_primary_interpreter
from harness.report import interpreters as by_interpreter
from harness.report import page
from harness.report.results import Run, latest_runs

THIS = f"{sys.version_info[0]}.{sys.version_info[1]}"


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_a_shim_that_cannot_run_its_version_is_passed_over_for_pyenvs_install(tmp_path, monkeypatch):
    # What pyenv's shims do for a version its global setting does not select.
    executable(tmp_path / "shims" / "python3.10", 'echo "pyenv: python3.10: command not found" >&2; exit 127')
    real = executable(tmp_path / "pyenv" / "versions" / "3.10.13" / "bin" / "python3.10", "echo 3.10; echo $0")
    executable(tmp_path / "pyenv" / "versions" / "3.10.4" / "bin" / "python3.10", "echo 3.10; echo $0")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    found = interpreters.find("3.10", path=str(tmp_path / "shims"))
    assert found.executable == real, "the newest patch release"


def test_a_missing_interpreter_says_where_it_was_looked_for(tmp_path, monkeypatch):
    executable(tmp_path / "shims" / "python3.12", 'echo "pyenv: python3.12: command not found" >&2; exit 127')
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "nowhere"))
    found = interpreters.find("3.12", path=str(tmp_path / "shims"))
    assert not found.found
    assert "exit status 127: pyenv: python3.12: command not found" in found.reason
    absent = interpreters.find("3.12", path=str(tmp_path / "empty"))
    assert absent.reason == f"python3.12 is not on PATH and pyenv ({tmp_path / 'nowhere'}) has no 3.12.x installed"
    wrong = executable(tmp_path / "other" / "python3.12", "echo 3.9; echo /x")
    assert "runs 3.9" in interpreters.find("3.12", path=str(wrong.parent)).reason


def test_this_interpreter_is_found_and_linked_first_on_path(tmp_path):
    found = interpreters.find_all([THIS, "3.97"])
    assert found[0].found and not found[1].found
    folder = interpreters.link_folder(found, tmp_path / "pythons")
    assert [p.name for p in folder.iterdir()] == [f"python{THIS}"]
    assert (folder / f"python{THIS}").resolve() == found[0].executable.resolve()
    assert interpreters.with_folder_first(folder, "/a:/b").split(os.pathsep) == [str(folder), "/a", "/b"]


@dataclass
class Env:
    name: str
    python: str


def test_the_other_interpreters_run_the_headline_unless_benchmarks_are_named():
    envs = [Env("py3.11", "3.11"), Env("py3.10", "3.10"), Env("py3.12", "3.12")]
    names = [e.name for e in envs]
    passes = asv_run.asv_passes(envs, names, "3.11", ["HEAD^!"])
    assert passes == [(["py3.11"], []), (["py3.10", "py3.12"], ["--bench", asv_run.other_interpreters_pattern()])]
    pattern = asv_run.other_interpreters_pattern()
    assert pattern == (
        r"^(bench_websocket\.EchoText32B\.|bench_http\.GetJson\.|bench_cost\.HeadlineCost\.track_instructions_per_op)"
    )
    chosen = [
        "bench_websocket.EchoText32B.track_time_per_op",
        "bench_http.GetJson.track_ratio_to_baseline",
        "bench_cost.HeadlineCost.track_instructions_per_op",
    ]
    left = [
        "bench_http.GetJsonAllocator.track_time_per_op",
        "bench_cost.HeadlineCost.track_syscalls_per_op",  # counted on the primary interpreter
        "bench_cost.WorkloadCost.track_instructions_per_op",
    ]
    assert all(re.search(pattern, name) for name in chosen)
    assert not any(re.search(pattern, name) for name in left)
    # Benchmarks named (the release history names the headline's): those, without system calls.
    releases = r"^(bench_websocket\.EchoText32B|bench_http\.GetJson|bench_cost\.HeadlineCost)\."
    named = asv_run.asv_passes(envs, names, "3.11", ["--bench", releases, "HEAD^!"])
    assert named[0] == (["py3.11"], [])
    assert named[1][0] == ["py3.10", "py3.12"] and named[1][1][0] == "--bench"
    narrowed = named[1][1][1]
    for name in chosen:
        assert re.search(narrowed, name + "('aiohttp', 'http_get_json')"), name
    for name in left:
        assert not re.search(narrowed, name + "('aiohttp', 'http_get_json')"), name
    assert asv_run.asv_passes(envs[:1], ["py3.11"], "3.11", []) == [(None, [])], "one interpreter: as given"
    assert asv_run.asv_passes(envs, ["py3.10"], "3.11", [])[0][0] == ["py3.10"], "only what was created"


def test_a_missing_interpreter_is_na_in_the_summary_and_no_failure(tmp_path):
    verdicts = [
        asv_run.Verdict("py3.11", "c" * 40, "measured", "3 values", "3.11"),
        asv_run.Verdict("py3.97", "c" * 40, asv_run.NO_INTERPRETER, "python3.97 is not on PATH", "3.97"),
    ]
    text = asv_run.report("bench", verdicts, "box", Path("asv.conf.json"), 0)
    assert "  n/a          py3.97: no interpreter: python3.97 is not on PATH" in text
    assert "bench: all 1 environments measured." in text and "n/a on this host: Python 3.97" in text
    assert asv_run.exit_status(verdicts) == 0
    assert asv_run.exit_status(verdicts[1:]) == 1, "nothing measured"
    asv_run.record_verdicts(tmp_path, "box", verdicts)
    later = [asv_run.Verdict("py3.11", "c" * 40, "kept", "earlier", "3.11")]
    asv_run.record_verdicts(tmp_path, "box", later)
    kept = by_interpreter.load_verdicts(tmp_path, "box", "c" * 40)
    assert kept["py3.11"]["status"] == "measured", "a later run that only kept it does not hide the measurement"
    assert kept["py3.97"] == {"python": "3.97", "status": "no interpreter", "detail": "python3.97 is not on PATH"}


def test_the_headline_runs_shorter_on_the_other_interpreters(monkeypatch):
    from benchmarks.common import HEADLINE_RUN, OTHER_INTERPRETER_RUN, headline_rounds

    monkeypatch.delenv(PRIMARY_PYTHON_ENV, raising=False)
    assert on_primary_interpreter() and headline_rounds() == HEADLINE_RUN
    monkeypatch.setenv(PRIMARY_PYTHON_ENV, "3.97")
    assert not on_primary_interpreter() and headline_rounds() == OTHER_INTERPRETER_RUN
    monkeypatch.setenv(PRIMARY_PYTHON_ENV, THIS)
    assert headline_rounds() == HEADLINE_RUN


def run_on(python: str, seconds: dict[str, float], instructions: dict[str, float], commit: str = "a" * 40) -> Run:
    values = {
        "bench_websocket.EchoText32B.track_time_per_op": MappingProxyType({(fw,): v for fw, v in seconds.items()}),
        "bench_cost.HeadlineCost.track_instructions_per_op": MappingProxyType(
            {(fw, "ws_echo_text_32B"): v for fw, v in instructions.items()}
        ),
    }
    return Run("box", commit, 1, 1, f"virtualenv-py{python}", MappingProxyType({}), MappingProxyType(values),
               python=python)  # fmt: skip


def test_the_site_shows_each_framework_across_interpreters():
    runs = [
        run_on(
            "3.11",
            {"baseline": 1e-5, "aiohttp": 2e-5, "picows": math.nan},
            {"baseline": 10_000, "aiohttp": 70_000, "picows": math.nan},
        ),
        run_on("3.12", {"baseline": 1e-5, "aiohttp": 2.5e-5}, {"baseline": 9_000, "aiohttp": 63_000}),
        run_on("3.13", {"baseline": 1e-5, "aiohttp": math.nan}, {"baseline": 9_500, "aiohttp": None}),
    ]
    assert latest_runs(runs)["box"].python == "3.11", "the primary interpreter's run, not the newest"
    verdicts = {"box": {"py3.10": {"python": "3.10", "status": "no interpreter", "detail": "python3.10 is absent"}}}
    (table,) = by_interpreter.tables(runs, ["3.11", "3.10", "3.12", "3.13", "3.14"], verdicts)
    assert [c.python for c in table.columns] == ["3.11", "3.10", "3.12", "3.13"], "3.14: neither run nor missing"
    assert table.columns[1].missing == "not on this host: python3.10 is absent"
    assert list(table.rows) == ["baseline", "aiohttp"], "n/a everywhere: left out"
    html = by_interpreter.html_table(table, "3.11")
    assert "63,000 <small>(-10.0 %)</small>" in html, "the change from the primary interpreter"
    assert 'title="not on this host: python3.10 is absent">n/a</td>' in html
    assert "<td>n/a</td><td>failed</td>" in html, "aiohttp on 3.13: n/a throughput, a failed cost"
    lines = by_interpreter.terminal_block(table, "3.11")
    assert any("aiohttp" in line and "3.12 63,000 (-10.0 %) 40,000/s" in line for line in lines), lines
    full = page.render(runs, headline=[], verdicts=verdicts)
    assert 'id="interpreters"' in full and "interpreters-workload" in full


def test_one_interpreter_and_none_missing_shows_no_table():
    assert by_interpreter.tables([run_on("3.11", {"baseline": 1e-5}, {"baseline": 1.0})], ["3.11"], {}) == []


@pytest.mark.parametrize("status", ["not created", "failed"])
def test_an_environment_that_was_not_measured_says_why(status):
    said = {"e": {"python": "3.13", "status": status, "detail": "ERROR: no wheel for 3.13"}}
    assert by_interpreter.why_missing("3.13", said) == f"{status}: ERROR: no wheel for 3.13"
    assert "not run on this machine" in by_interpreter.why_missing("3.12", said)
    assert json.loads(json.dumps(said)) == said


def test_the_narrowed_pass_replaces_the_benchmarks_the_arguments_named():
    given = ["--show-stderr", "--bench", "EchoGrid", "-bGetJson", "--skip-existing-successful", "HEAD^!"]
    assert asv_run._without_bench_options(given) == ["--show-stderr", "--skip-existing-successful", "HEAD^!"]
