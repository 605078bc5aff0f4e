"""The regression check (harness/regressions.py, harness/report/regressions.py) on result sets in asv's format."""

from __future__ import annotations

import json

import pytest

from harness import regressions

PARAMS = [["'baseline'", "'aiohttp'", "'tornado'", "'websockets'"]]


def write_results(
    machine_dir, commit: str, env: str, date: int, ratio: list, time_per_op: list, python: str = ""
) -> None:
    machine_dir.mkdir(parents=True, exist_ok=True)
    (machine_dir / "machine.json").write_text(json.dumps({"machine": machine_dir.name, "version": 1}))
    results = {
        "bench_websocket.EchoText32B.track_ratio_to_baseline": [ratio, PARAMS],
        "bench_websocket.EchoText32B.track_time_per_op": [time_per_op, PARAMS],
    }
    data = {
        "commit_hash": commit,
        "env_name": env,
        "date": date,
        "result_columns": ["result", "params"],  # asv 0.6 names each row's columns
        "results": results,
        **({"python": python} if python else {}),
    }
    (machine_dir / f"{commit[:8]}-{env}.json").write_text(json.dumps(data))


@pytest.fixture
def results_dir(tmp_path):
    machine = tmp_path / "results" / "box"
    write_results(machine, "a" * 40, "env-latest", 1, [1.0, 3.7, 5.9, None], [5.6e-6, 2.1e-5, 3.3e-5, None])
    return tmp_path / "results", machine


def run(results, *args) -> int:
    return regressions.main(["--results", str(results), "--bench", "bench_websocket.EchoText32B", *args])


def test_equal_results_pass(results_dir, capsys):
    results, machine = results_dir
    write_results(machine, "b" * 40, "env-latest", 2, [1.0, 3.7, 5.9, None], [5.6e-6, 2.1e-5, 3.3e-5, None])
    assert run(results, "--commits", "aaaa", "bbbb") == 0
    out = capsys.readouterr().out
    assert "no regression" in out and "aiohttp" in out
    assert "websockets" not in out  # failed (None) values are not compared


def test_an_injected_slowdown_fails_and_is_named(results_dir, capsys):
    results, machine = results_dir
    # aiohttp 30% slower relative to the baseline; tornado within the threshold.
    write_results(
        machine, "b" * 40, "env-latest", 2, [1.0, 3.7 * 1.3, 5.9 * 1.05, None], [5.6e-6, 2.7e-5, 3.4e-5, None]
    )
    assert run(results, "--commits", "aaaa", "bbbb") == 1
    lines = capsys.readouterr().out.splitlines()
    assert any("aiohttp" in line and "SLOWER" in line and "+30.0%" in line for line in lines)
    assert not any("tornado" in line and "SLOWER" in line for line in lines)
    assert lines[-1] == "REGRESSION"


def test_drift_alone_is_not_a_regression(results_dir):
    # The whole host 1.8x slower: absolute times move, same-round ratios do not.
    results, machine = results_dir
    write_results(machine, "b" * 40, "env-latest", 2, [1.0, 3.7, 5.9, None], [1e-5, 3.8e-5, 5.9e-5, None])
    assert run(results, "--commits", "aaaa", "bbbb") == 0
    assert run(results, "--commits", "aaaa", "bbbb", "--metric", "track_time_per_op") == 1


def test_two_releases_compare_as_environments(results_dir):
    results, machine = results_dir
    write_results(machine, "a" * 40, "env-aiohttp3.13.5", 3, [1.0, 3.0, None, None], [5e-6, 1.5e-5, None, None])
    write_results(machine, "a" * 40, "env-aiohttp3.14.5", 4, [1.0, 3.6, None, None], [5e-6, 1.8e-5, None, None])
    assert run(results, "--envs", "env-aiohttp3.13.5", "env-aiohttp3.14.5") == 1
    assert run(results, "--envs", "env-aiohttp3.14.5", "env-aiohttp3.13.5") == 0


def test_missing_results_are_a_clear_error(results_dir):
    results, _ = results_dir
    with pytest.raises(SystemExit, match="no results on machine 'box' for commit 'ffff'"):
        run(results, "--commits", "aaaa", "ffff")


def test_two_interpreters_compare_at_the_newest_commit_both_have(results_dir, capsys):
    results, machine = results_dir
    slower = [1.0, 4.4, 5.9, None]
    write_results(machine, "b" * 40, "virtualenv-py3.11", 2, [1.0, 3.7, 5.9, None], [5e-6] * 4, python="3.11")
    write_results(machine, "b" * 40, "virtualenv-py3.13", 2, slower, [5e-6] * 4, python="3.13")
    write_results(machine, "c" * 40, "virtualenv-py3.11", 3, [1.0, 3.7, 5.9, None], [5e-6] * 4, python="3.11")
    assert run(results, "--pythons", "3.11", "3.13") == 1, "aiohttp 19 % slower on 3.13"
    out = capsys.readouterr().out
    assert f"old: {'b' * 8} virtualenv-py3.11\nnew: {'b' * 8} virtualenv-py3.13" in out, out
    assert run(results, "--pythons", "3.13", "3.11") == 0
    with pytest.raises(SystemExit, match=r"no default-environment results on Python 3.12 .*have: \['3.11', '3.13'\]"):
        run(results, "--pythons", "3.11", "3.12")
    with pytest.raises(SystemExit, match="lacks Python 3.13"):
        run(results, "--pythons", "3.11", "3.13", "--commit", "c" * 8)
