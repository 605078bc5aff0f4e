"""python -m harness.agreement: do independent tools agree with the suite's generator?

On the same server process, alternating (suite, other, suite, other, ...):
- GET small JSON at 64 connections: the suite's HTTP generator vs wrk;
- WebSocket echo of 32-byte text at 100 connections: the suite's picows generator vs a
  closed-loop client on Node.js and the `ws` package (harness/node/ws_echo_client.js), which
  shares no code, language or event loop with the suite or with any server under test.
With ``--tls`` both pairs run over TLS (https, wss) on the framework's own TLS setting, with
a certificate made for each pair: the suite's generators and the Node.js client verify the
server against it; wrk verifies no certificate, so one request by hand does.
Prints each tool's median throughput, the server's CPU use under each, and the median of
the rounds' ratios (which need not be the ratio of the two medians).

The ratio is the median of the rounds' own ratios, each taken between two windows measured
one after the other, the suite first in odd rounds and second in even ones, so that a steady
drift does not favour one tool in every round. This host's speed moves by ±25 % from one
3-second window to the next (the same tool on the same saturated server: 10.3k, 16.8k,
15.3k, 10.6k requests/s), far more than the tools differ, so a ratio of two medians taken
apart in time judged the host, not the tools; short windows paired with their neighbours
cancel most of that drift. What is left shows as rounds on both sides of 1, so a pair fails
the target only when its median ratio is beyond it and its rounds lean one way: a two-sided
sign test at p <= 0.05, which takes at least six rounds (``Agreement.one_sided``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import select
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import servers
from harness import stats, tls, workloads, wrk
from harness.compare import run_certificate
from harness.generator import Generator
from harness.process import ServerProcess, cpu_plan, die_with_parent
from harness.topology import LOOPBACK
from servers import contract

NODE_CLIENT = Path(__file__).with_name("node") / "ws_echo_client.js"
WARMUP_S = 0.5
TARGET = 0.15  # the largest disagreement, either way, that the suite accepts
SIGN_TEST_P = 0.05  # how unlikely rounds this one-sided must be, were the tools equal


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


def node_ws_echo(
    server: ServerProcess,
    connections: int,
    seconds: float,
    size: int,
    cpu: int | None,
    certificate: tls.Certificate | None = None,
) -> tuple:
    """(echoes per second, server CPU % during the window) by the Node.js ``ws`` client
    (harness/node/ws_echo_client.js), which announces its measured window on stdout; over wss
    when given the run's ``certificate``, which it verifies the server against."""
    node = shutil.which("node")
    if node is None or not (NODE_CLIENT.parent / "node_modules" / "ws").is_dir():
        raise RuntimeError("the Node.js client needs node and harness/node/node_modules: run scripts/setup.sh")
    url = server.url(contract.WS_ECHO, "wss" if certificate else "ws")
    args = [node, str(NODE_CLIENT), url, str(connections), str(seconds), str(size), str(WARMUP_S)]
    if certificate is not None:
        args.append(str(certificate.cert_file))
    deadline = time.monotonic() + seconds + WARMUP_S + 30
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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
class Round:
    """One suite window and the other tool's window next to it, on the same server."""

    suite_per_s: float
    other_per_s: float
    suite_server_cpu: float
    other_server_cpu: float

    @property
    def ratio(self) -> float:
        return self.suite_per_s / self.other_per_s


@dataclass(frozen=True)
class Agreement:
    """One pair of tools on one server over the alternating rounds."""

    framework: str
    workload: str
    other: str  # the other tool's name
    rounds: tuple[Round, ...]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: each compares two neighbouring windows (see the module's docstring)."""
        return statistics.median(r.ratio for r in self.rounds)

    @property
    def ratio_range(self) -> tuple[float, float]:
        ratios = [r.ratio for r in self.rounds]
        return min(ratios), max(ratios)

    @property
    def suite_higher(self) -> int:
        """In how many rounds the suite read higher than the other tool."""
        return sum(r.ratio > 1 for r in self.rounds)

    @property
    def sign_test_p(self) -> float:
        """Two-sided sign test: how likely rounds at least this one-sided would be if each were
        as likely to read higher with either tool (a tie counts for neither)."""
        higher = self.suite_higher
        lower = sum(r.ratio < 1 for r in self.rounds)
        n, k = higher + lower, max(higher, lower)
        return min(1.0, 2 * sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n) if n else 1.0

    @property
    def one_sided(self) -> bool:
        """Whether the rounds lean one way beyond what the host's drift would do (sign test,
        SIGN_TEST_P): nine rounds need eight on one side (p 0.04). With fewer than six rounds no
        split can pass, so the median alone judges. A gap the host made puts rounds on both
        sides; a gap between the tools puts them on one."""
        return len(self.rounds) < 6 or self.sign_test_p <= SIGN_TEST_P

    @property
    def disagrees(self) -> bool:
        """Both tools saturated the server, and the tools, not the host, differ by more than the target."""
        return self.comparable and abs(self.ratio - 1) > TARGET and self.one_sided

    @property
    def suite_per_s(self) -> float:
        return statistics.median(r.suite_per_s for r in self.rounds)

    @property
    def other_per_s(self) -> float:
        return statistics.median(r.other_per_s for r in self.rounds)

    @property
    def suite_server_cpu(self) -> float:
        return statistics.median(r.suite_server_cpu for r in self.rounds)

    @property
    def other_server_cpu(self) -> float:
        return statistics.median(r.other_server_cpu for r in self.rounds)

    @property
    def comparable(self) -> bool:
        """Two tools can only agree on a server's capacity if both saturate it."""
        return not stats.client_bound(min(self.suite_server_cpu, self.other_server_cpu))


def agree(framework: str, kind: str, rounds: int, seconds: float, over_tls: bool = False) -> Agreement:
    """One pair of tools on ``framework``'s server; ``over_tls``: https and wss with a certificate
    made for it (compare.run_certificate), which every tool but wrk verifies the server against."""
    workload = (
        workloads.http_get(contract.JSON, 64, tls=over_tls)
        if kind == "http"
        else workloads.ws_echo(32, 100, tls=over_tls)
    )
    with run_certificate([workload], LOOPBACK) as certificate:
        return _agree(framework, workload, kind, rounds, seconds, certificate)


def _agree(
    framework: str,
    workload: workloads.Workload,
    kind: str,
    rounds: int,
    seconds: float,
    certificate: tls.Certificate | None,
) -> Agreement:
    server_cpu, generator_cpus = cpu_plan()
    with workload.server(framework, server_cpu, certificate=certificate) as server:
        if kind == "http":
            other_name = "wrk"

            def other() -> tuple[float, float]:
                url = server.url(contract.JSON, workload.scheme)
                context = tls.client_context(certificate) if certificate else None
                wrk.check_once(url, contract.JSON, context)  # wrk verifies no body nor certificate: checked by hand
                run = functools.partial(wrk.wrk_requests_per_second, url, connections=64, duration_s=seconds)
                return cpu_pct(server, functools.partial(run, cpu=generator_cpus[0]))
        else:
            other_name = "node ws client"

            def other() -> tuple[float, float]:
                return node_ws_echo(server, 100, seconds, 32, generator_cpus[0], certificate)

        spec = workload.load_spec(server, certificate, warmup_s=WARMUP_S)
        with Generator(spec, generator_cpus, 1) as generator:
            generator.wait_ready()
            measured = []
            for i in range(rounds):
                if i % 2:  # the other tool first (see the module's docstring)
                    other_per_s, other_cpu = other()
                result, suite_cpu = cpu_pct(server, lambda: generator.window(seconds))
                if not i % 2:
                    other_per_s, other_cpu = other()
                measured.append(Round(result.ops / result.seconds, other_per_s, suite_cpu, other_cpu))
    return Agreement(framework, workload.name, other_name, tuple(measured))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.agreement", description=__doc__.splitlines()[0])
    # Every framework under test: each serves the WebSocket echo, those with HTTP GET /json too.
    parser.add_argument("--frameworks", default=",".join(servers.FRAMEWORKS_UNDER_TEST))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=1.0, help="per window (wrk's: whole seconds, at least 1)")
    parser.add_argument("--tls", action="store_true", help="over TLS: https (wrk) and wss (the Node.js client)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds above 0")
    try:
        frameworks = [servers.get(name) for name in args.frameworks.split(",")]
    except servers.UnknownFramework as exc:
        parser.error(str(exc))
    worst, compared, disagreeing = 0.0, 0, []
    print(
        f"{'framework':<11} {'workload':<22} {'suite/s':>9} {'other':<15} {'other/s':>9} {'ratio':>6} "
        f"{'rounds range':>11} {'suite>':>6}  server cpu"
    )
    pairs = [(f, kind) for f in frameworks for kind in (("http", "ws") if f.http else ("ws",))]
    started = time.monotonic()
    for index, (framework, kind) in enumerate(pairs, 1):
        # One pair takes about 2 x rounds x seconds plus start-up: say which, and how far the run is.
        print(f"agreement: {framework.name} {kind} ({index}/{len(pairs)}), {time.monotonic() - started:.0f} s "
              "so far", file=sys.stderr, flush=True)  # fmt: skip
        r = agree(framework.name, kind, args.rounds, args.seconds, args.tls)
        if r.comparable:
            worst, compared = max(worst, abs(r.ratio - 1)), compared + 1
        if r.disagrees:
            disagreeing.append(f"{r.framework} {r.workload}")
        print(
            f"{r.framework:<11} {r.workload:<22} {r.suite_per_s:>9.0f} {r.other:<15} {r.other_per_s:>9.0f} "
            f"{r.ratio:>6.3f} {r.ratio_range[0]:>5.2f}-{r.ratio_range[1]:<5.2f} "
            f"{f'{r.suite_higher}/{len(r.rounds)}':>6}  {r.suite_server_cpu:.0f}% / {r.other_server_cpu:.0f}%"
            + ("" if r.comparable else "  not comparable: a tool left the server unsaturated (client-bound)")
        )
    if not compared:
        print("no pair comparable: no tool pair saturated a server (is the machine busy?)")
        return 1
    print(
        f"largest disagreement where both tools saturate the server: {worst * 100:.1f}% (target: within "
        f"{TARGET:.0%}); beyond it with the rounds on one side: {', '.join(disagreeing) or 'none'}"
    )
    return 1 if disagreeing else 0


if __name__ == "__main__":
    sys.exit(main())
