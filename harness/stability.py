"""python -m harness.stability [--runs 5]: how repeatable are the headline figures?

Runs every headline benchmark class (benchmarks/headline.txt) --runs times, exactly as
asv's setup_cache would, and prints per framework each run's median time per op and ratio
to the baseline, and the spread between runs: (max - min) / median of the run medians.
Exits 1 when a ratio to baseline spreads by more than 10 %: the ratio is the tracked
headline (what harness.regressions judges), measured in the same rounds as the baseline,
so it cancels the host's drift. Time per op is context: its spread is printed beside the
baseline's own, which shows how far the host's speed moved between runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from harness import compare as comparison
from harness.outcomes import Summary
from harness.report.results import headline_classes as headline
from harness.stats import range_pct

TARGET_SPREAD_PCT = 10.0


def benchmark_class(name: str) -> type:
    """benchmarks/<module>.py's class, from "module.Class" as in benchmarks/headline.txt."""
    module, _, cls = name.rpartition(".")
    try:
        return getattr(importlib.import_module(f"benchmarks.{module}"), cls)
    except (ImportError, AttributeError, ValueError):
        expected = "module.Class, as in benchmarks/headline.txt"
        raise LookupError(f"no benchmark class {name!r} (expected {expected})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.stability", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bench", nargs="*", help="benchmark classes (default: benchmarks/headline.txt)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    worst_time = worst_ratio = baseline_drift = 0.0
    try:
        classes = {name: benchmark_class(name) for name in args.bench or headline()}
    except LookupError as exc:
        parser.error(str(exc))
    for index, (name, cls) in enumerate(classes.items(), 1):
        runs = []
        for run in range(1, args.runs + 1):
            # What it is doing and how far it is: a headline class's run takes ~20 s here.
            print(f"stability: {name} ({index}/{len(classes)}), run {run}/{args.runs}, "
                  f"{time.monotonic() - started:.0f} s so far", file=sys.stderr, flush=True)  # fmt: skip
            runs.append(comparison.compare(cls.workload, rounds=cls.rounds))
        print(f"\n{name} ({cls.workload.name}), {args.runs} runs")
        print(f"{'framework':<11} {'us/op per run':<48} {'spread':>7}  {'ratio per run':<36} {'spread':>7}")
        for framework in runs[0].outcomes:
            results = [run.outcomes[framework] for run in runs]
            incomplete = [r for r in results if not isinstance(r, Summary) or r.ratio_to_baseline is None]
            if incomplete:
                print(f"{framework:<11} {incomplete[0]}")
                continue
            times = [r.seconds_per_op * 1e6 for r in results]
            ratios = [r.ratio_to_baseline for r in results]
            if framework == "baseline":
                baseline_drift = max(baseline_drift, range_pct(times))
            else:
                worst_time, worst_ratio = max(worst_time, range_pct(times)), max(worst_ratio, range_pct(ratios))
            print(
                f"{framework:<11} {' '.join(f'{t:7.2f}' for t in times):<48} {range_pct(times):>6.1f}%  "
                f"{' '.join(f'{r:6.2f}' for r in ratios):<36} {range_pct(ratios):>6.1f}%"
            )
    print(
        f"\nworst spread of a framework's ratio to baseline between runs: {worst_ratio:.1f}% "
        f"(target: within {TARGET_SPREAD_PCT:.0f}%)\n"
        f"worst spread of a framework's time per op: {worst_time:.1f}%, the baseline's own: {baseline_drift:.1f}% "
        f"(the host's speed between runs, which the ratio cancels; {time.monotonic() - started:.0f} s)"
    )
    return 0 if worst_ratio <= TARGET_SPREAD_PCT else 1


if __name__ == "__main__":
    sys.exit(main())
