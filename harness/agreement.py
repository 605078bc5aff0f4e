"""python -m harness.agreement: do independent tools agree with the suite's generator?

On the same server process, alternating (suite, other, suite, other, ...):
- GET small JSON at 64 connections: the suite's HTTP generator vs wrk;
- WebSocket echo of 32-byte text at 100 connections: the suite's picows generator vs a
  second client written on aiohttp's ClientSession (on uvloop). For the aiohttp server that
  client shares code with the server under test: the check is of the measurement, not of
  independence from the framework.
Prints each tool's median throughput, the server's CPU use under each, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

from harness import measure, stats, wrk
from harness.process import ServerProcess, child_env, cpu_plan, die_with_parent
from servers import contract


async def aiohttp_echo(url: str, connections: int, seconds: float, size: int) -> dict:
    import aiohttp

    payload = "x" * size
    count = 0
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(url, compress=0, autoping=False) for _ in range(connections)]
        for ws in sockets:  # warm up
            await ws.send_str(payload)
            assert (await ws.receive_str()) == payload
        deadline = time.perf_counter() + seconds

        async def loop(ws) -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await ws.send_str(payload)
                if await ws.receive_str(timeout=10) != payload:
                    raise RuntimeError("wrong echo")
                count += 1

        start = time.perf_counter()
        await asyncio.gather(*(loop(ws) for ws in sockets))
        elapsed = time.perf_counter() - start
        for ws in sockets:
            await ws.close()
    return {"ops": count, "seconds": elapsed}


def run_second_ws_client(url: str, connections: int, seconds: float, size: int, cpu: int | None) -> float:
    args = json.dumps([url, connections, seconds, size])
    result = subprocess.run(
        [sys.executable, "-m", "harness.agreement", "--ws-client", args],
        capture_output=True, text=True, timeout=seconds + 60, env=child_env(measure.GENERATOR_ENV),
        preexec_fn=die_with_parent(cpu),
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"second WebSocket client failed:\n{result.stderr[-2000:]}")
    record = json.loads(result.stdout)
    return record["ops"] / record["seconds"]


def cpu_pct(server: ServerProcess, action) -> tuple[float, float]:
    """(action's result, server CPU % of a core while it ran)."""
    cpu, wall = server.cpu_seconds(), time.monotonic()
    value = action()
    return value, (server.cpu_seconds() - cpu) / (time.monotonic() - wall) * 100


def agree(framework: str, kind: str, rounds: int, seconds: float) -> dict:
    server_cpu, generator_cpus = cpu_plan()
    with ServerProcess(framework, cpu=server_cpu) as server:
        if kind == "http":
            workload = measure.http_get(contract.JSON, 64)
            other_name = "wrk"

            def other() -> float:
                url = server.url(contract.JSON)
                wrk.check_once(url, contract.JSON)  # wrk verifies no body: check one by hand
                return wrk.wrk_requests_per_second(url, connections=64, duration_s=seconds, cpu=generator_cpus[0])
        else:
            workload = measure.ws_echo(32, 100)
            other_name = "aiohttp client"

            def other() -> float:
                return run_second_ws_client(server.url(contract.WS_ECHO, "ws"), 100, seconds, 32, generator_cpus[0])

        spec = workload.generator_spec(server, "stdlib", workload.connections)
        generator = measure.Generator(dict(spec, warmup_s=0.5), generator_cpus, 1)
        try:
            generator.wait_ready()
            suite, others = [], []
            for _ in range(rounds):
                result, suite_cpu = cpu_pct(server, lambda: generator.window(seconds))
                suite.append((result["ops"] / result["seconds"], suite_cpu))
                others.append(cpu_pct(server, other))
        finally:
            generator.close()
    suite_rate = statistics.median(r for r, _ in suite)
    other_rate = statistics.median(r for r, _ in others)
    return {
        "framework": framework, "workload": workload.name, "other": other_name,
        "suite_per_s": suite_rate, "other_per_s": other_rate, "ratio": suite_rate / other_rate,
        "suite_server_cpu": statistics.median(c for _, c in suite),
        "other_server_cpu": statistics.median(c for _, c in others),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default="aiohttp,tornado")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--ws-client", help=argparse.SUPPRESS)  # internal: the second WebSocket client
    args = parser.parse_args(argv)
    if args.ws_client:
        import uvloop

        result = uvloop.run(aiohttp_echo(*json.loads(args.ws_client)))
        print(json.dumps(result))
        return 0
    worst, compared = 0.0, 0
    print(f"{'framework':<11} {'workload':<22} {'suite/s':>9} {'other':<15} {'other/s':>9} {'ratio':>6}  server cpu")
    for framework in args.frameworks.split(","):
        for kind in ("http", "ws"):
            r = agree(framework, kind, args.rounds, args.seconds)
            # Two tools can only agree on a server's capacity if both saturate it.
            comparable = min(r["suite_server_cpu"], r["other_server_cpu"]) >= stats.SATURATED_CPU_PCT
            if comparable:
                worst, compared = max(worst, abs(r["ratio"] - 1)), compared + 1
            print(
                f"{framework:<11} {r['workload']:<22} {r['suite_per_s']:>9.0f} {r['other']:<15} "
                f"{r['other_per_s']:>9.0f} {r['ratio']:>6.3f}  "
                f"{r['suite_server_cpu']:.0f}% / {r['other_server_cpu']:.0f}%"
                + ("" if comparable else "  not comparable: a tool left the server unsaturated (client-bound)")
            )
    if not compared:
        print("no pair comparable: no tool pair saturated a server (is the machine busy?)")
        return 1
    print(f"largest disagreement where both tools saturate the server: {worst * 100:.1f}% (target: within 15%)")
    return 0 if worst <= 0.15 else 1


if __name__ == "__main__":
    sys.exit(main())
