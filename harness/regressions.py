"""python -m harness.regressions: did anything get slower between two results?

Compares two asv result sets from results/ — two commits in one environment
(``--commits OLD NEW``), or two environments such as two framework releases at one commit
(``--envs OLD NEW``) — on the headline benchmarks (benchmarks/headline.txt), and exits 1
when a judged value grew by more than ``--threshold`` percent. It judges
``track_ratio_to_baseline`` by default: measured against the baseline in the same rounds,
it is immune to the host's drift, which moves absolute times by up to 1.8x here.
Absolute time per op is printed beside it for context.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from harness.process import ROOT

HEADLINE_FILE = ROOT / "benchmarks" / "headline.txt"


def headline() -> list[str]:
    return [line.strip() for line in HEADLINE_FILE.read_text().splitlines() if line.strip()]


def load(results_dir: Path, machine: str, *, commit: str | None, env: str | None) -> dict:
    """The newest result file on ``machine`` matching a commit prefix and/or env name."""
    matches = []
    for path in (results_dir / machine).glob("*.json"):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        if commit and not data["commit_hash"].startswith(commit):
            continue
        if env and data["env_name"] != env:
            continue
        matches.append(data)
    if not matches:
        raise SystemExit(f"regressions: no results on machine {machine!r} for commit {commit!r} env {env!r}")
    return max(matches, key=lambda d: d["date"])


def values(data: dict, name: str) -> dict[str, float]:
    """{parameter label: value} of one benchmark, finite values only."""
    entry = data["results"].get(name)
    if entry is None:
        return {}
    result, params = entry[0], entry[1]
    labels = [",".join(p.strip("'") for p in combo) for combo in _product(params)]
    return {label: v for label, v in zip(labels, result, strict=True) if v is not None and math.isfinite(v)}


def _product(params: list[list[str]]) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for values_ in params:
        combos = [c + (v,) for c in combos for v in values_]
    return combos


def compare(old: dict, new: dict, classes: list[str], metric: str, threshold: float) -> tuple[list[str], bool]:
    """Report lines and whether any judged value regressed beyond ``threshold`` percent."""
    lines = [f"{'benchmark':<45} {'param':<12} {'old':>11} {'new':>11} {'change':>8}"]
    regressed = False
    for cls in classes:
        judged_old, judged_new = values(old, f"{cls}.{metric}"), values(new, f"{cls}.{metric}")
        time_old, time_new = values(old, f"{cls}.track_time_per_op"), values(new, f"{cls}.track_time_per_op")
        for label in sorted(set(judged_old) & set(judged_new)):
            change = (judged_new[label] / judged_old[label] - 1) * 100
            flag = ""
            if change > threshold:
                regressed, flag = True, "  SLOWER"
            elif change < -threshold:
                flag = "  faster"
            context = ""
            if label in time_old and label in time_new:
                context = f"  (time/op {time_old[label] * 1e6:.2f} -> {time_new[label] * 1e6:.2f} us)"
            lines.append(
                f"{cls:<45} {label:<12} {judged_old[label]:>11.4g} {judged_new[label]:>11.4g} {change:>+7.1f}%"
                f"{flag}{context}"
            )
    if len(lines) == 1:
        lines.append("(no benchmark has values in both result sets)")
    return lines, regressed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.regressions", description=__doc__.splitlines()[0])
    pair = parser.add_mutually_exclusive_group(required=True)
    pair.add_argument("--commits", nargs=2, metavar=("OLD", "NEW"), help="two commit hashes (prefixes)")
    pair.add_argument("--envs", nargs=2, metavar=("OLD", "NEW"), help="two asv environment names")
    parser.add_argument("--env", help="with --commits: the environment (default: any, newest)")
    parser.add_argument("--commit", help="with --envs: the commit (default: the newest)")
    parser.add_argument("--machine", help="asv machine name (default: the only one in results/)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--threshold", type=float, default=10.0, help="percent slower that fails (default 10)")
    parser.add_argument("--metric", default="track_ratio_to_baseline")
    parser.add_argument("--bench", nargs="*", help="benchmark classes (default: benchmarks/headline.txt)")
    args = parser.parse_args(argv)
    machine = args.machine
    if machine is None:
        machines = [p.name for p in args.results.iterdir() if (p / "machine.json").exists()]
        if len(machines) != 1:
            parser.error(f"name one --machine of {machines}")
        machine = machines[0]
    if args.commits:
        old = load(args.results, machine, commit=args.commits[0], env=args.env)
        new = load(args.results, machine, commit=args.commits[1], env=args.env)
    else:
        old = load(args.results, machine, commit=args.commit, env=args.envs[0])
        new = load(args.results, machine, commit=args.commit, env=args.envs[1])
    lines, regressed = compare(old, new, args.bench or headline(), args.metric, args.threshold)
    print(f"old: {old['commit_hash'][:8]} {old['env_name']}\nnew: {new['commit_hash'][:8]} {new['env_name']}")
    print(f"judged: {args.metric}, larger is worse, threshold {args.threshold:g}%")
    print("\n".join(lines))
    print("REGRESSION" if regressed else "no regression beyond the threshold")
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
