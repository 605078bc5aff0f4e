"""python -m harness ws-echo|get-json|get-plaintext [options]: one interleaved comparison,
printed as a table (throughput for readers, time per op and ratios as asv tracks them)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import servers
from harness import workloads
from harness.compare import Rounds, compare
from harness.outcomes import Failed, Measurement, Skipped, Summary
from servers import contract


def table(measurement: Measurement[Summary]) -> str:
    rows = [f"workload {measurement.name}  setup {json.dumps(measurement.setup)}"]
    header = f"{'framework':<11} {'version':<8} {'ops/s':>9} {'us/op':>7} {'iqr':>7} {'x base':>7} "
    header += f"{'srv cpu':>7} {'gen cpu':>7} {'p50 ms':>7} {'p99 ms':>7}  verdict"
    rows.append(header)
    for name, r in measurement.outcomes.items():
        if isinstance(r, Skipped):
            rows.append(f"{name:<11} {r.reason}")
            continue
        if isinstance(r, Failed):
            rows.append(f"{name:<11} ERROR: {r.cause}")
            continue
        verdict = "CLIENT-BOUND (server not saturated)" if r.client_bound else "server-bound"
        ratio = r.ratio_to_baseline if r.ratio_to_baseline is not None else float("nan")
        rows.append(
            f"{name:<11} {r.version:<8} {r.ops_per_second:>9.0f} {r.seconds_per_op * 1e6:>7.2f} "
            f"{r.iqr_pct:>6.1f}% {ratio:>7.2f} {r.server_cpu_pct:>6.0f}% {r.client_cpu_pct:>6.0f}% "
            f"{r.latency_p50_s * 1e3:>7.2f} {r.latency_p99_s * 1e3:>7.2f}  {verdict}" + (f"; {r.tls}" if r.tls else "")
        )
    return "\n".join(rows)


def as_json(measurement: Measurement) -> str:
    outcomes = {name: {type(o).__name__: dataclasses.asdict(o)} for name, o in measurement.outcomes.items()}
    return json.dumps({"workload": measurement.name, "setup": measurement.setup, "outcomes": outcomes}, indent=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=("ws-echo", "get-json", "get-plaintext"))
    parser.add_argument("--frameworks", default=",".join(servers.FRAMEWORKS))
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--size", type=int, default=32, help="WebSocket message bytes")
    parser.add_argument("--binary", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=1.0, help="seconds per round")
    parser.add_argument("--loop", choices=workloads.LOOPS, default="asyncio")
    parser.add_argument("--json", dest="json_codec", choices=workloads.CODECS, default="stdlib")
    parser.add_argument("--workers", type=int, default=1, help="server processes, in each framework's own mode")
    parser.add_argument("--tls", action="store_true", help="over TLS (wss/https), on a certificate made for the run")
    parser.add_argument("--raw", action="store_true", help="print the JSON result instead of a table")
    args = parser.parse_args(argv)
    frameworks = args.frameworks.split(",")
    for name in frameworks:
        try:
            servers.get(name)
        except servers.UnknownFramework as exc:
            parser.error(str(exc))
    if args.workload == "ws-echo":
        workload = workloads.ws_echo(args.size, args.connections, args.binary, loop=args.loop)
    else:
        path = contract.JSON if args.workload == "get-json" else contract.PLAINTEXT
        workload = workloads.http_get(path, args.connections, json_codec=args.json_codec, loop=args.loop)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    workload = dataclasses.replace(workload, workers=args.workers, tls=args.tls)
    result = compare(workload, frameworks, Rounds(args.rounds, args.window))
    print(as_json(result) if args.raw else table(result))
    return 1 if result.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
