"""python -m harness.cost: the cost family outside asv, run several times, as a table.

Instructions and system calls per operation for each framework and case, one column per
run, and the spread between runs: what shows the figures repeat (README, "Cost per
operation"). ``--cases`` and ``--frameworks`` narrow it; ``--runs`` repeats it; ``--ops``
changes the window, to show the figure does not depend on it; ``--cpus`` with one CPU
measures one framework at a time, to show measuring two side by side changes nothing.
``--against-time RESULTS`` measures nothing and sets the recorded figures beside their
wall-clock twins (harness/report/cost_time.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import servers
from harness.cost.cases import CASES
from harness.cost.family import measure_costs
from harness.cost.records import CostRecord
from harness.outcomes import Failed, Skipped
from harness.report import cost_time
from harness.report.results import latest_runs, load_runs


def spread_pct(values: list[float]) -> float:
    """(max - min) / min, percent."""
    return (max(values) - min(values)) / min(values) * 100 if values and min(values) else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="*", default=list(servers.FRAMEWORKS), help="default: all")
    parser.add_argument("--cases", nargs="*", default=list(CASES), help=f"default: all of {', '.join(CASES)}")
    parser.add_argument("--runs", type=int, default=1, help="how many times to run the family (default 1)")
    parser.add_argument(
        "--cpus",
        type=int,
        nargs="+",
        help="the CPUs servers run on, one framework on each at a time; one CPU: one framework at a time "
        "(default: every CPU this process may use)",
    )
    parser.add_argument("--ops", type=int, help="operations per window for every case (default: each case's own)")
    parser.add_argument(
        "--against-time",
        type=Path,
        metavar="RESULTS",
        help="measure nothing: set each cost figure in asv's RESULTS beside its throughput twin's server CPU per op",
    )
    args = parser.parse_args(argv)
    if args.against_time:
        latest = latest_runs(load_runs(args.against_time))
        if not latest:
            parser.error(f"no default-environment results in {args.against_time}")
        print("\n\n".join(cost_time.render(run) for run in latest.values()))
        return 0
    unknown = [name for name in args.cases if name not in CASES] + [
        name for name in args.frameworks if name not in servers.FRAMEWORKS
    ]
    if unknown:
        parser.error(f"unknown case or framework: {', '.join(unknown)}")
    allowed = os.sched_getaffinity(0)
    if args.cpus and not set(args.cpus) <= allowed:
        parser.error(f"--cpus {' '.join(map(str, args.cpus))}: this process may use CPUs {sorted(allowed)} only")
    cases = [CASES[name] for name in args.cases]
    if args.ops:
        cases = [dataclasses.replace(case, ops=args.ops) for case in cases]
    runs = []
    for number in range(1, args.runs + 1):
        started = time.monotonic()

        def progress(framework: str, done: int, total: int, number: int = number, started: float = started) -> None:
            # valgrind makes a run minutes long: say who is done and how far the run is.
            elapsed = time.monotonic() - started
            print(
                f"cost: run {number}/{args.runs}, {framework} measured ({done}/{total} frameworks), "
                f"{elapsed:.0f} s so far",
                file=sys.stderr,
                flush=True,
            )

        runs.append(measure_costs(cases, args.frameworks, args.cpus, progress).outcomes)
        print(f"run {number}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    failed = False
    header = f"{'framework':<11} {'case':<33} " + " ".join(f"{'run ' + str(i + 1):>13}" for i in range(len(runs)))
    print(header + f" {'spread':>8} {'syscalls/op':>12}")
    for framework in args.frameworks:
        for case in cases:
            outcomes = [run[framework, case.name] for run in runs]
            if all(isinstance(o, Skipped) for o in outcomes):
                continue
            cells, values, syscalls = [], [], []
            for outcome in outcomes:
                if isinstance(outcome, CostRecord):
                    cells.append(f"{outcome.instructions_per_op:>13,.1f}")
                    values.append(outcome.instructions_per_op)
                    syscalls.append(outcome.syscalls_per_op)
                else:
                    failed |= isinstance(outcome, Failed)
                    cells.append(f"{'failed' if isinstance(outcome, Failed) else 'n/a':>13}")
            calls = "/".join(sorted({f"{s:.2f}" for s in syscalls}))
            print(f"{framework:<11} {case.name:<33} {' '.join(cells)} {spread_pct(values):>7.3f}% {calls:>12}")
    for number, run in enumerate(runs, 1):
        for (framework, case_name), outcome in run.items():
            if isinstance(outcome, Failed):
                print(f"run {number}: {framework} {case_name}: {outcome.cause}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
