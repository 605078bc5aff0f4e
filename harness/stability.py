"""python -m harness.stability [--runs 5]: how repeatable are the headline figures?

Runs every headline benchmark class (benchmarks/headline.txt) --runs times, exactly as
asv's setup_cache would, and prints per framework each run's median time per op and ratio
to the baseline, and the spread between runs: (max - min) / median of the run medians.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time

from harness import measure
from harness.regressions import headline


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) * 100


def benchmark_class(name: str) -> type:
    module, cls = name.rsplit(".", 1)
    return getattr(importlib.import_module(f"benchmarks.{module}"), cls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.stability", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bench", nargs="*", help="benchmark classes (default: benchmarks/headline.txt)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    worst = 0.0
    for name in args.bench or headline():
        cls = benchmark_class(name)
        runs = [measure.compare(cls.workload, **cls.options) for _ in range(args.runs)]
        print(f"\n{name} ({cls.workload.name}), {args.runs} runs")
        print(f"{'framework':<11} {'us/op per run':<48} {'spread':>7}  {'ratio per run':<36} {'spread':>7}")
        for framework in runs[0]["results"]:
            results = [run["results"][framework] for run in runs]
            if any("seconds_per_op" not in r for r in results):
                print(f"{framework:<11} {next(r.get('skipped') or r.get('error') for r in results if 'ops' not in r)}")
                continue
            times = [r["seconds_per_op"] * 1e6 for r in results]
            ratios = [r["ratio_to_baseline"] for r in results]
            worst = max(worst, spread(times))
            print(
                f"{framework:<11} {' '.join(f'{t:7.2f}' for t in times):<48} {spread(times):>6.1f}%  "
                f"{' '.join(f'{r:6.2f}' for r in ratios):<36} {spread(ratios):>6.1f}%"
            )
    print(f"\nworst spread of time per op between runs: {worst:.1f}% ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
