"""python -m harness.agreement: do independent tools agree with the suite's generator?

On the same server process, alternating (suite, other, suite, other, ...):
- GET small JSON at 64 connections: the suite's HTTP generator vs wrk;
- WebSocket echo of 32-byte text at 100 connections: the suite's picows generator vs a
  closed-loop client on Node.js and the `ws` package (harness/node/ws_echo_client.js), which
  shares no code, language or event loop with the suite or with any server under test.
Prints each tool's median throughput, the server's CPU use under each, and their ratio.
"""

from __future__ import annotations

import argparse
import functools
import json
import select
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import servers
from harness import stats, workloads, wrk
from harness.generator import Generator
from harness.process import ServerProcess, cpu_plan, die_with_parent
from servers import contract

NODE_CLIENT = Path(__file__).with_name("node") / "ws_echo_client.js"
WARMUP_S = 0.5


def read_line(process: subprocess.Popen, deadline: float) -> str:
    """The next line of ``process``'s stdout; RuntimeError with its stderr if none comes by ``deadline``."""
    if not select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
        process.kill()
        raise RuntimeError(f"the Node.js WebSocket client gave no answer in time: {process.communicate()[1][-2000:]}")
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=5)
        raise RuntimeError(f"the Node.js WebSocket client failed: {process.stderr.read().strip()[-2000:]}")
    return line


def node_ws_echo(server: ServerProcess, connections: int, seconds: float, size: int, cpu: int | None) -> tuple:
    """(echoes per second, server CPU % during the window) by the Node.js ``ws`` client
    (harness/node/ws_echo_client.js), which announces its measured window on stdout."""
    node = shutil.which("node")
    if node is None or not (NODE_CLIENT.parent / "node_modules" / "ws").is_dir():
        raise RuntimeError("the Node.js client needs node and harness/node/node_modules: run scripts/setup.sh")
    args = [node, str(NODE_CLIENT), server.url(contract.WS_ECHO, "ws"), str(connections), str(seconds), str(size)]
    deadline = time.monotonic() + seconds + WARMUP_S + 30
    with subprocess.Popen(
        [*args, str(WARMUP_S)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=die_with_parent(cpu),
    ) as process:  # fmt: skip
        try:
            if read_line(process, deadline).strip() != "window":
                raise RuntimeError("the Node.js WebSocket client did not announce its window")
            cpu_start, wall_start = server.cpu_seconds(), time.monotonic()
            record = json.loads(read_line(process, deadline))
            server_cpu = (server.cpu_seconds() - cpu_start) / (time.monotonic() - wall_start) * 100
        finally:
            if process.poll() is None:
                process.kill()
    if record["connections"] != connections or record["ops"] <= 0:
        raise RuntimeError(f"the Node.js WebSocket client reported {record}")
    return record["ops"] / record["seconds"], server_cpu


def cpu_pct(server: ServerProcess, action) -> tuple[float, float]:
    """(action's result, server CPU % of a core while it ran)."""
    cpu, wall = server.cpu_seconds(), time.monotonic()
    value = action()
    return value, (server.cpu_seconds() - cpu) / (time.monotonic() - wall) * 100


@dataclass(frozen=True)
class Agreement:
    """One pair of tools on one server: medians over the alternating rounds."""

    framework: str
    workload: str
    other: str  # the other tool's name
    suite_per_s: float
    other_per_s: float
    suite_server_cpu: float
    other_server_cpu: float

    @property
    def ratio(self) -> float:
        return self.suite_per_s / self.other_per_s

    @property
    def comparable(self) -> bool:
        """Two tools can only agree on a server's capacity if both saturate it."""
        return not stats.client_bound(min(self.suite_server_cpu, self.other_server_cpu))


def agree(framework: str, kind: str, rounds: int, seconds: float) -> Agreement:
    server_cpu, generator_cpus = cpu_plan()
    workload = workloads.http_get(contract.JSON, 64) if kind == "http" else workloads.ws_echo(32, 100)
    with workload.server(framework, server_cpu) as server:
        if kind == "http":
            other_name = "wrk"

            def other() -> tuple[float, float]:
                url = server.url(contract.JSON)
                wrk.check_once(url, contract.JSON)  # wrk verifies no body: check one by hand
                run = functools.partial(wrk.wrk_requests_per_second, url, connections=64, duration_s=seconds)
                return cpu_pct(server, functools.partial(run, cpu=generator_cpus[0]))
        else:
            other_name = "node ws client"

            def other() -> tuple[float, float]:
                return node_ws_echo(server, 100, seconds, 32, generator_cpus[0])

        with Generator(workload.load_spec(server, warmup_s=WARMUP_S), generator_cpus, 1) as generator:
            generator.wait_ready()
            suite, others = [], []
            for _ in range(rounds):
                result, suite_cpu = cpu_pct(server, lambda: generator.window(seconds))
                suite.append((result.ops / result.seconds, suite_cpu))
                others.append(other())
    return Agreement(
        framework,
        workload.name,
        other_name,
        suite_per_s=statistics.median(r for r, _ in suite),
        other_per_s=statistics.median(r for r, _ in others),
        suite_server_cpu=statistics.median(c for _, c in suite),
        other_server_cpu=statistics.median(c for _, c in others),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.agreement", description=__doc__.splitlines()[0])
    # Every framework under test: each serves the WebSocket echo, those with HTTP GET /json too.
    parser.add_argument("--frameworks", default=",".join(servers.FRAMEWORKS_UNDER_TEST))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    try:
        frameworks = [servers.get(name) for name in args.frameworks.split(",")]
    except servers.UnknownFramework as exc:
        parser.error(str(exc))
    worst, compared = 0.0, 0
    print(f"{'framework':<11} {'workload':<22} {'suite/s':>9} {'other':<15} {'other/s':>9} {'ratio':>6}  server cpu")
    for framework in frameworks:
        for kind in ("http", "ws") if framework.http else ("ws",):
            r = agree(framework.name, kind, args.rounds, args.seconds)
            if r.comparable:
                worst, compared = max(worst, abs(r.ratio - 1)), compared + 1
            print(
                f"{r.framework:<11} {r.workload:<22} {r.suite_per_s:>9.0f} {r.other:<15} {r.other_per_s:>9.0f} "
                f"{r.ratio:>6.3f}  {r.suite_server_cpu:.0f}% / {r.other_server_cpu:.0f}%"
                + ("" if r.comparable else "  not comparable: a tool left the server unsaturated (client-bound)")
            )
    if not compared:
        print("no pair comparable: no tool pair saturated a server (is the machine busy?)")
        return 1
    print(f"largest disagreement where both tools saturate the server: {worst * 100:.1f}% (target: within 15%)")
    return 0 if worst <= 0.15 else 1


if __name__ == "__main__":
    sys.exit(main())
