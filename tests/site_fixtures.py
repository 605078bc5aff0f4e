"""FIXTURE DATA for the site tests: a small asv results set made up from a template.

The numbers below are invented to exercise the pages (bars, trends, n/a, failed,
client-bound); they are not measurements. Results are written in asv 0.6's results format
for commits of a throwaway git repository, so `asv publish` accepts them.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

from asv import util

from harness.process import ROOT

FRAMEWORKS = ["baseline", "aiohttp", "tornado", "websockets"]
UNITS = {
    "track_time_per_op": "seconds",
    "track_ratio_to_baseline": "x baseline",
    "track_server_cpu": "% of a core",
    "track_generator_cpu": "% of a core",
    "track_latency_p99": "seconds",
}
# workload -> framework -> (seconds per op, server CPU %): made up. websockets has no HTTP
# server (n/a); tornado's WebSocket server is left below 90 % CPU to show a client-bound mark.
TEMPLATE = {
    "bench_http.GetJson": {"baseline": (20e-6, 97.0), "aiohttp": (170e-6, 99.0), "tornado": (450e-6, 99.5)},
    "bench_websocket.EchoText32B": {
        "baseline": (10e-6, 95.0),
        "aiohttp": (60e-6, 98.0),
        "tornado": (120e-6, 70.0),
        "websockets": (90e-6, 99.0),
    },
}
MACHINE = {"arch": "x86_64", "cpu": "fixture cpu", "num_cpu": "2", "os": "Linux", "ram": "1000000", "version": 1}
RELEASES = [("aiohttp", "3.9.5"), ("aiohttp", "3.10.11"), ("tornado", "6.4.2")]  # made-up release envs
ASV = [sys.executable, "-m", "asv"]


def _param(value: str) -> str:
    return repr(value)


def make_repo(path: Path, commits: int) -> list[str]:
    """A git repository with ``commits`` empty commits on main; their hashes, oldest first."""
    path.mkdir(parents=True)
    git = ["git", "-C", str(path), "-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    hashes = []
    for i in range(commits):
        date = f"2026-01-{i + 1:02d}T12:00:00Z"
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", f"fixture {i}"], check=True, env=env)
        head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
        hashes.append(head.stdout.strip())
    return hashes


def write_benchmarks(results: Path) -> None:
    benchmarks: dict = {"version": 2}
    for workload in TEMPLATE:
        for method, unit in UNITS.items():
            name = f"{workload}.{method}"
            benchmarks[name] = {
                "code": f"# fixture {name}",
                "name": name,
                "param_names": ["framework"],
                "params": [[_param(f) for f in FRAMEWORKS]],
                "type": "track",
                "unit": unit,
                "timeout": 900,
                "version": "fixture-1",
            }
    results.mkdir(parents=True, exist_ok=True)
    (results / "benchmarks.json").write_text(json.dumps(benchmarks))


def write_machine(results: Path, machine: str) -> None:
    (results / machine).mkdir(parents=True, exist_ok=True)
    (results / machine / "machine.json").write_text(json.dumps({**MACHINE, "machine": machine}))


def write_run(
    results: Path, machine: str, commit: str, index: int, pins: dict[str, str], slowdown: float = 1.0
) -> Path:
    """One results file. ``pins`` {} is the default env (all frameworks at latest); one pin is a release env."""
    requirements = pins or {f: "" for f in FRAMEWORKS[1:]}
    installed = set(pins) if pins else set(FRAMEWORKS[1:])
    env_name = "virtualenv-py3.11-" + "-".join(f"{k}{v}" for k, v in sorted(requirements.items()))
    rows = {}
    for workload, figures in TEMPLATE.items():
        baseline_time = figures["baseline"][0]
        columns: dict[str, list] = {method: [] for method in UNITS}
        for framework in FRAMEWORKS:
            if framework not in figures or (framework != "baseline" and framework not in installed):
                for method in UNITS:
                    columns[method].append(math.nan)  # n/a: skipped
                continue
            seconds, cpu = figures[framework]
            seconds = seconds * (1 if framework == "baseline" else slowdown)
            columns["track_time_per_op"].append(seconds)
            columns["track_ratio_to_baseline"].append(seconds / baseline_time)
            columns["track_server_cpu"].append(cpu)
            columns["track_generator_cpu"].append(40.0)
            columns["track_latency_p99"].append(seconds * 150)
        for method, values in columns.items():
            rows[f"{workload}.{method}"] = [values, [[_param(f) for f in FRAMEWORKS]], "fixture-1", 1767268800000, 0.1]
    data = {
        "commit_hash": commit,
        "env_name": env_name,
        "date": 1767268800000 + index * 86_400_000,
        "params": {**MACHINE, "machine": machine, "python": "3.11", **requirements},
        "python": "3.11",
        "requirements": requirements,
        "env_vars": {},
        "result_columns": ["result", "params", "version", "started_at", "duration"],
        "results": rows,
        "durations": {},
        "version": 2,
    }
    data["params"].pop("version")
    path = results / machine / f"{commit[:8]}-{env_name}.json"
    path.write_text(json.dumps(data))
    return path


def asv_config(work: Path, repo: Path) -> Path:
    """The suite's asv.conf.json pointed at ``work`` and the fixture repository."""
    conf = util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    conf.update(
        repo=str(repo),
        branches=["main"],
        results_dir=str(work / "results"),
        html_dir=str(work / "html"),
        env_dir=str(work / "env"),
    )
    path = work / "asv.conf.json"
    path.write_text(json.dumps(conf))
    return path


def make_results(work: Path, machine: str = "fixture-a", releases: bool = True) -> tuple[Path, list[str]]:
    """Three commits of the default env (the last one 10 % slower) and, optionally, the release envs."""
    commits = make_repo(work / "repo", 3)
    results = work / "results"
    write_benchmarks(results)
    write_machine(results, machine)
    for index, commit in enumerate(commits):
        write_run(results, machine, commit, index, {}, slowdown=1.1 if index == 2 else 1.0)
    if releases:
        for step, (framework, release) in enumerate(RELEASES):
            write_run(results, machine, commits[-1], 2, {framework: release}, slowdown=1.0 + 0.2 * step)
    return results, commits


def copy_machine(results: Path, source: str, target: str) -> None:
    """Another machine's results: the same files under ``target``, its name rewritten inside."""
    shutil.copytree(results / source, results / target)
    machine_json = results / target / "machine.json"
    machine_json.write_text(json.dumps({**json.loads(machine_json.read_text()), "machine": target}))
    for path in (results / target).glob("*.json"):
        if path.name != "machine.json":
            data = json.loads(path.read_text())
            data["params"]["machine"] = target
            path.write_text(json.dumps(data))


def publish(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(ASV + ["publish", "--config", str(config)], cwd=config.parent, capture_output=True, text=True)
