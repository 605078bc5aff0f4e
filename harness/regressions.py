"""python -m harness.regressions: did anything get slower between two results?

Compares two asv result sets from results/ — two commits in one environment
(``--commits OLD NEW``), or two environments such as two framework releases at one commit
(``--envs OLD NEW``) — on the headline benchmarks (benchmarks/headline.txt), and exits 1
when a judged value grew by more than ``--threshold`` percent. It judges
``track_ratio_to_baseline`` by default: measured against the baseline in the same rounds,
it is immune to the host's drift, which moves absolute times by up to 1.8x here.
Absolute time per op is printed beside it for context. The work is in harness.report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report.regressions import compare
from harness.report.results import Run, headline_classes, load_runs, machines, newest_run


def _pick(runs: list[Run], machine: str, *, commit: str | None, env: str | None) -> Run:
    run = newest_run(runs, machine, commit=commit, env=env)
    if run is None:
        raise SystemExit(f"regressions: no results on machine {machine!r} for commit {commit!r} env {env!r}")
    return run


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
    runs = load_runs(args.results)
    machine = args.machine
    if machine is None:
        found = machines(runs)
        if len(found) != 1:
            parser.error(f"name one --machine of {found}")
        machine = found[0]
    if args.commits:
        old = _pick(runs, machine, commit=args.commits[0], env=args.env)
        new = _pick(runs, machine, commit=args.commits[1], env=args.env)
    else:
        old = _pick(runs, machine, commit=args.commit, env=args.envs[0])
        new = _pick(runs, machine, commit=args.commit, env=args.envs[1])
    lines, regressed = compare(old, new, args.bench or headline_classes(), args.metric, args.threshold)
    print(f"old: {old.commit[:8]} {old.env}\nnew: {new.commit[:8]} {new.env}")
    print(f"judged: {args.metric}, larger is worse, threshold {args.threshold:g}%")
    print("\n".join(lines))
    print("REGRESSION" if regressed else "no regression beyond the threshold")
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
