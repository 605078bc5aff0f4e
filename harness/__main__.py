"""python -m harness ws-echo|get-json|get-plaintext [options]: one interleaved comparison,
printed as a table (throughput for readers, time per op and ratios as asv tracks them)."""

from __future__ import annotations

import argparse
import json
import sys

import servers
from harness import measure
from servers import contract


def table(comparison: dict) -> str:
    rows = [f"workload {comparison['workload']}  setup {json.dumps(comparison['setup'])}"]
    header = f"{'framework':<11} {'version':<8} {'ops/s':>9} {'us/op':>7} {'spread':>7} {'x base':>7} "
    header += f"{'srv cpu':>7} {'gen cpu':>7} {'p50 ms':>7} {'p99 ms':>7}  verdict"
    rows.append(header)
    for name, r in comparison["results"].items():
        if "ops" not in r:
            rows.append(f"{name:<11} {r.get('skipped') or 'ERROR: ' + r['error']}")
            continue
        verdict = "server-bound" if r["saturated"] else "CLIENT-BOUND (server not saturated)"
        rows.append(
            f"{name:<11} {r['version']:<8} {r['ops_per_second']:>9.0f} {r['seconds_per_op'] * 1e6:>7.2f} "
            f"{r['spread_pct']:>6.1f}% {r.get('ratio_to_baseline', float('nan')):>7.2f} "
            f"{r['server_cpu_pct']:>6.0f}% {r['client_cpu_pct']:>6.0f}% {r['latency_p50_s'] * 1e3:>7.2f} "
            f"{r['latency_p99_s'] * 1e3:>7.2f}  {verdict}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=("ws-echo", "get-json", "get-plaintext"))
    parser.add_argument("--frameworks", default=",".join(servers.FRAMEWORKS))
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--size", type=int, default=32, help="WebSocket message bytes")
    parser.add_argument("--binary", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=1.0, help="seconds per round")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--json", dest="json_codec", choices=("stdlib", "orjson"), default="stdlib")
    parser.add_argument("--raw", action="store_true", help="print the JSON result instead of a table")
    args = parser.parse_args(argv)
    frameworks = args.frameworks.split(",")
    for name in frameworks:
        try:
            servers.get(name)
        except servers.UnknownFramework as exc:
            parser.error(str(exc))
    if args.workload == "ws-echo":
        workload = measure.ws_echo(args.size, args.connections, args.binary)
    else:
        workload = measure.http_get(
            contract.JSON if args.workload == "get-json" else contract.PLAINTEXT, args.connections
        )
    result = measure.compare(
        workload, frameworks, rounds=args.rounds, window_s=args.window, loop=args.loop, json_codec=args.json_codec
    )
    print(json.dumps(result, indent=1) if args.raw else table(result))
    return 1 if any("error" in r for r in result["results"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
