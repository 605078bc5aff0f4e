"""FIXTURE DATA for the site tests: a small asv results set made up from a template.

The numbers below are invented to exercise the pages (bars, trends, n/a, failed,
client-bound; and the cost view's instructions, system calls, per-function profiles and
flame graphs); they are not measurements. Results are written in asv 0.6's results format
for commits of a throwaway git repository, so `asv publish` accepts them; the cost records
and flame graphs go where harness/cost/records.py says.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from asv import util

from harness.cost import records
from harness.cost.records import CostRecord, FunctionCost
from harness.process import ROOT

FRAMEWORKS = ["baseline", "aiohttp", "tornado", "websockets"]
# The frameworks the ladder view brought in (harness/report/ladder.py), in servers.FRAMEWORKS'
# order. Only a results set made with ``frameworks=WITH_LADDER`` has them: the other tests
# count the first four's bars, rows and asv graphs.
LADDER_FRAMEWORKS = ["picows", "uvicorn", "starlette", "fastapi", "litestar", "blacksheep", "sanic", "granian"]
WITH_LADDER = FRAMEWORKS + LADDER_FRAMEWORKS
UNITS = {
    "track_time_per_op": "seconds",
    "track_ratio_to_baseline": "x baseline",
    "track_server_cpu": "% of a core",
    "track_generator_cpu": "% of a core",
    "track_latency_p99": "seconds",
}
# workload -> framework -> (seconds per op, server CPU %): made up. websockets and picows have
# no HTTP server (n/a); tornado's WebSocket server is left below 90 % CPU to show a client-bound mark.
TEMPLATE = {
    "bench_http.GetJson": {
        "baseline": (20e-6, 97.0),
        "aiohttp": (170e-6, 99.0),
        "tornado": (450e-6, 99.5),
        "uvicorn": (60e-6, 99.0),
        "starlette": (95e-6, 99.0),
        "fastapi": (160e-6, 99.5),
        "litestar": (110e-6, 99.0),
        "blacksheep": (75e-6, 99.0),
        "sanic": (70e-6, 98.0),
        "granian": (50e-6, 99.0),
    },
    "bench_websocket.EchoText32B": {
        "baseline": (10e-6, 95.0),
        "aiohttp": (60e-6, 98.0),
        "tornado": (120e-6, 70.0),
        "websockets": (90e-6, 99.0),
        "picows": (14e-6, 96.0),
        "uvicorn": (110e-6, 99.0),
        "starlette": (125e-6, 99.0),
        "fastapi": (140e-6, 99.0),
        "litestar": (135e-6, 99.0),
        "blacksheep": (115e-6, 99.0),
        "sanic": (80e-6, 98.0),
        "granian": (70e-6, 99.0),
    },
}
MACHINE = {"arch": "x86_64", "cpu": "fixture cpu", "num_cpu": "2", "os": "Linux", "ram": "1000000", "version": 1}
RELEASES = [("aiohttp", "3.9.5"), ("aiohttp", "3.10.11"), ("tornado", "6.4.2")]  # made-up release envs
ASV = [sys.executable, "-m", "asv"]

# The cost family (benchmarks/bench_cost.py), made up like the rest. HeadlineCost runs in
# every environment, WorkloadCost only in the default one; both take (framework, case).
COST_CLASSES = {
    "bench_cost.HeadlineCost": ["ws_echo_text_32B", "http_get_json"],
    "bench_cost.WorkloadCost": ["ws_echo_binary_32B"],
}
COST_UNITS = {"track_instructions_per_op": "instructions", "track_syscalls_per_op": "syscalls"}
# case -> framework -> (instructions per op at the framework's first fixture release, syscalls per op).
# websockets and picows have no HTTP server (n/a); tornado's binary echo is recorded as failed
# (None); the ladder's frameworks have only the headline cases. Up the ladder, websockets is the
# costliest step on the echo and FastAPI on GET /json.
COST_TEMPLATE: dict[str, dict[str, tuple[float, float] | None]] = {
    "ws_echo_text_32B": {
        "baseline": (12_000.0, 2.0),
        "aiohttp": (69_720.0, 3.0),
        "tornado": (150_000.0, 4.0),
        "websockets": (95_000.0, 3.0),
        "picows": (20_000.0, 2.0),
        "uvicorn": (120_000.0, 3.0),
        "starlette": (135_000.0, 3.0),
        "fastapi": (150_000.0, 3.0),
        "litestar": (140_000.0, 3.0),
        "blacksheep": (125_000.0, 3.0),
        "sanic": (80_000.0, 3.0),
        "granian": (60_000.0, 3.0),
    },
    "http_get_json": {
        "baseline": (9_000.0, 2.0),
        "aiohttp": (120_000.0, 3.0),
        "tornado": (260_000.0, 5.0),
        "uvicorn": (45_000.0, 3.0),
        "starlette": (80_000.0, 3.0),
        "fastapi": (140_000.0, 3.0),
        "litestar": (90_000.0, 3.0),
        "blacksheep": (50_000.0, 3.0),
        "sanic": (55_000.0, 3.0),
        "granian": (40_000.0, 3.0),
    },
    "ws_echo_binary_32B": {
        "baseline": (11_500.0, 2.0),
        "aiohttp": (68_000.0, 3.0),
        "tornado": None,
        "websockets": (94_000.0, 3.0),
    },
}
# The releases the default environment "installed" (the cost records say so; asv does not).
DEFAULT_RELEASES = {
    "baseline": "",
    "aiohttp": "3.14.5",
    "tornado": "6.6.1",
    "websockets": "17.4",
    "picows": "1.8.0",
    "uvicorn": "0.35.0",
    "starlette": "0.47.2",
    "fastapi": "0.116.1",
    "litestar": "2.16.0",
    "blacksheep": "2.4.0",
    "sanic": "25.3.0",
    "granian": "2.5.0",
}
FLAMEGRAPH_WORKLOADS = {"ws_echo_text_32B": "ws_echo_text_32B_c100", "http_get_json": "http_get_json_c64"}
# Each later release of a framework costs INJECTED_STEP more instructions per op in this one
# function and SECOND_STEP fewer in SECOND: the diff pages must list INJECTED first.
INJECTED = "fixture_injected_hotspot"
INJECTED_STEP = 20_000.0
SECOND = "fixture_frame_parser"
SECOND_STEP = 3_000.0
COST_OPS = 2_000  # operations in each made-up instruction window
SYSCALL_OPS = 1_000  # the made-up system-call window
SPEEDSCOPE = {  # the smallest speedscope file: two frames, two samples
    "$schema": "https://www.speedscope.app/file-format-schema.json",
    "shared": {"frames": [{"name": "fixture_serve"}, {"name": "fixture_handle"}]},
    "profiles": [
        {
            "type": "sampled",
            "name": "fixture flame graph",
            "unit": "none",
            "startValue": 0,
            "endValue": 3,
            "samples": [[0, 1], [0]],
            "weights": [2, 1],
        }
    ],
    "name": "fixture flame graph",
    "exporter": "tests/site_fixtures.py",
}


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


def write_benchmarks(results: Path, cost: bool = False, frameworks: Sequence[str] = FRAMEWORKS) -> None:
    benchmarks: dict = {"version": 2}
    for cls, cases in COST_CLASSES.items() if cost else ():
        for method, unit in COST_UNITS.items():
            name = f"{cls}.{method}"
            benchmarks[name] = {
                "code": f"# fixture {name}",
                "name": name,
                "param_names": ["framework", "case"],
                "params": [[_param(f) for f in frameworks], [_param(c) for c in cases]],
                "type": "track",
                "unit": unit,
                "timeout": 900,
                "version": "fixture-1",
            }
    for workload in TEMPLATE:
        for method, unit in UNITS.items():
            name = f"{workload}.{method}"
            benchmarks[name] = {
                "code": f"# fixture {name}",
                "name": name,
                "param_names": ["framework"],
                "params": [[_param(f) for f in frameworks]],
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


def cost_record(framework: str, release: str, case: str, step: int) -> CostRecord | None:
    """A made-up record: ``step`` is the release's place in the framework's fixture releases
    (0 the first); None where the template says n/a or failed."""
    figures = COST_TEMPLATE[case].get(framework)
    if figures is None:
        return None
    instructions_per_op, syscalls_per_op = figures
    # 30 % in the interpreter loop, the rest over 44 fixture functions (more than the pages' top 40),
    # then the two functions that change from release to release.
    rest = instructions_per_op * 0.7
    weights = [44 - i for i in range(44)]
    functions = [FunctionCost("_PyEval_EvalFrameDefault", "python3.11", round(instructions_per_op * 0.3, 3))]
    functions += [
        FunctionCost(f"fixture_{framework}_fn_{i:02d}", f"fixture_{framework}.so", round(rest * w / sum(weights), 3))
        for i, w in enumerate(weights)
    ]
    functions.append(FunctionCost(INJECTED, f"fixture_{framework}.so", 500.0 + INJECTED_STEP * step))
    functions.append(FunctionCost(SECOND, f"fixture_{framework}.so", 10_000.0 - SECOND_STEP * step))
    functions.sort(key=lambda f: -f.per_op)
    total = sum(f.per_op for f in functions)
    syscalls = {"sendto": 1.0, "recvfrom": 1.0}  # per op
    if syscalls_per_op > 2:
        syscalls["epoll_wait"] = syscalls_per_op - 2
    return CostRecord(
        framework=framework,
        release=release,
        case=case,
        ops=COST_OPS,
        instructions=round(total * COST_OPS),
        syscall_ops=SYSCALL_OPS,
        syscalls=syscalls,
        functions=tuple(functions),
        tool={"python": "3.11 (fixture)", "valgrind": "fixture", "strace": "fixture"},
    )


def _cost_rows(
    results: Path, machine: str, commit: str, env_name: str, pins: dict[str, str], frameworks: Sequence[str]
) -> dict[str, list]:
    """asv rows for the cost classes in one run, writing the run's cost records and flame graphs as it goes."""
    rows = {}
    # Release environments run only the headline classes; the default one runs all.
    classes = {"bench_cost.HeadlineCost": COST_CLASSES["bench_cost.HeadlineCost"]} if pins else COST_CLASSES
    for cls, cases in classes.items():
        columns: dict[str, list] = {method: [] for method in COST_UNITS}
        for framework in frameworks:
            installed = framework == "baseline" or not pins or framework in pins
            release = (pins.get(framework) or DEFAULT_RELEASES[framework]) if installed else ""
            known = [r for f, r in RELEASES if f == framework] + [DEFAULT_RELEASES[framework]]
            step = known.index(release) if release in known else 0
            for case in cases:
                if not installed or framework not in COST_TEMPLATE[case]:
                    for method in COST_UNITS:
                        columns[method].append(math.nan)  # n/a
                    continue
                record = cost_record(framework, release, case, step)
                if record is None:
                    for method in COST_UNITS:
                        columns[method].append(None)  # failed
                    continue
                record.dump(records.record_path(results, machine, commit, env_name, case, framework))
                if case in FLAMEGRAPH_WORKLOADS:
                    flamegraph = records.flamegraph_path(
                        results, machine, commit, env_name, FLAMEGRAPH_WORKLOADS[case], framework
                    )
                    flamegraph.parent.mkdir(parents=True, exist_ok=True)
                    flamegraph.write_text(json.dumps(SPEEDSCOPE))
                columns["track_instructions_per_op"].append(record.instructions_per_op)
                columns["track_syscalls_per_op"].append(record.syscalls_per_op)
        params = [[_param(f) for f in frameworks], [_param(c) for c in cases]]
        for method, values in columns.items():
            rows[f"{cls}.{method}"] = [values, params, "fixture-1", 1767268800000, 0.1]
    return rows


def write_run(
    results: Path,
    machine: str,
    commit: str,
    index: int,
    pins: dict[str, str],
    slowdown: float = 1.0,
    cost: bool = False,
    frameworks: Sequence[str] = FRAMEWORKS,
) -> Path:
    """One results file. ``pins`` {} is the default env (all frameworks at latest); one pin is a release env.
    ``cost`` adds the cost classes' values and writes their records and flame graphs."""
    requirements = pins or {f: "" for f in frameworks[1:]}
    installed = set(pins) if pins else set(frameworks[1:])
    env_name = "virtualenv-py3.11-" + "-".join(f"{k}{v}" for k, v in sorted(requirements.items()))
    rows = {}
    for workload, figures in TEMPLATE.items():
        baseline_time = figures["baseline"][0]
        columns: dict[str, list] = {method: [] for method in UNITS}
        for framework in frameworks:
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
            rows[f"{workload}.{method}"] = [values, [[_param(f) for f in frameworks]], "fixture-1", 1767268800000, 0.1]
    if cost:
        rows.update(_cost_rows(results, machine, commit, env_name, pins, frameworks))
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


def make_results(
    work: Path,
    machine: str = "fixture-a",
    releases: bool = True,
    cost: bool = False,
    frameworks: Sequence[str] = FRAMEWORKS,
) -> tuple[Path, list[str]]:
    """Three commits of the default env (the last one 10 % slower) and, optionally, the release
    envs and the cost family (asv values, records, flame graphs: harness/cost/records.py).
    ``frameworks``: FRAMEWORKS, or WITH_LADDER for every rung of the ladder view."""
    commits = make_repo(work / "repo", 3)
    results = work / "results"
    write_benchmarks(results, cost=cost, frameworks=frameworks)
    write_machine(results, machine)
    for index, commit in enumerate(commits):
        slowdown = 1.1 if index == 2 else 1.0
        write_run(results, machine, commit, index, {}, slowdown=slowdown, cost=cost, frameworks=frameworks)
    if releases:
        for step, (framework, release) in enumerate(RELEASES):
            pins = {framework: release}
            write_run(results, machine, commits[-1], 2, pins, 1.0 + 0.2 * step, cost=cost, frameworks=frameworks)
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
