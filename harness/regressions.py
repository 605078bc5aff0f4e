"""python -m harness.regressions: did anything get slower between two results?

Compares two asv result sets from results/ — two commits in one environment
(``--commits OLD NEW``), two environments such as two framework releases at one commit
(``--envs OLD NEW``), or the default environment on two interpreters at one commit
(``--pythons 3.11 3.12``, harness/interpreters.py) — and exits 1 when a judged value grew
beyond its threshold.

Where both sets hold the cost family (benchmarks/bench_cost.py), it judges instructions
and system calls per operation, at ``--cost-threshold`` (0.5 %: five runs kept every
figure within 0.34 %), and names the functions whose instructions moved most, from the
profiles saved with the results. The wall-clock headline is printed below for context, not
judged: the host moves it by more than releases do. Without cost figures, or with ``--metric``, it judges that
wall-clock metric on the headline benchmarks (benchmarks/headline.txt) at ``--threshold``:
``track_ratio_to_baseline`` by default, measured against the baseline in the same rounds.
``--old-results`` reads the OLD side from another results set, such as an earlier
publication of the same commit, whose files would otherwise share names with the new ones
(harness.ci compares a CI run with the previously published results that way).
The work is in harness.report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report.regressions import COST_THRESHOLD, compare, compare_cost
from harness.report.results import Run, headline_classes, load_runs, machines, newest_run


def _pick(runs: list[Run], machine: str, *, commit: str | None, env: str | None) -> Run:
    run = newest_run(runs, machine, commit=commit, env=env)
    if run is None:
        raise SystemExit(f"regressions: no results on machine {machine!r} for commit {commit!r} env {env!r}")
    return run


def _pick_pythons(runs: list[Run], machine: str, commit: str | None, pythons: list[str]) -> tuple[Run, Run]:
    """The default environment on two interpreters, at ``commit`` or the newest commit both have."""
    default = [run for run in runs if run.machine == machine and not run.pins]
    on = {p: [run for run in default if run.python == p] for p in pythons}
    for p, found in on.items():
        if not found:
            have = sorted({run.python for run in default if run.python})
            raise SystemExit(f"regressions: no default-environment results on Python {p} on {machine!r} (have: {have})")
    if commit is None:
        shared = {run.commit for run in on[pythons[0]]} & {run.commit for run in on[pythons[1]]}
        if not shared:
            raise SystemExit(
                f"regressions: Python {pythons[0]} and {pythons[1]} have no commit in common on {machine!r}"
            )
        commit = max(shared, key=lambda c: max(r.recency for r in default if r.commit == c))
    old, new = (newest_run(on[p], machine, commit=commit) for p in pythons)
    if old is None or new is None:
        raise SystemExit(f"regressions: commit {commit!r} lacks Python {pythons[0] if old is None else pythons[1]}")
    return old, new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.regressions", description=__doc__.splitlines()[0])
    pair = parser.add_mutually_exclusive_group(required=True)
    pair.add_argument("--commits", nargs=2, metavar=("OLD", "NEW"), help="two commit hashes (prefixes)")
    pair.add_argument("--envs", nargs=2, metavar=("OLD", "NEW"), help="two asv environment names")
    pair.add_argument(
        "--pythons", nargs=2, metavar=("OLD", "NEW"), help="the default environment on two interpreters (3.11 3.12)"
    )
    parser.add_argument("--env", help="with --commits: the environment (default: any, newest)")
    parser.add_argument("--commit", help="with --envs or --pythons: the commit (default: the newest)")
    parser.add_argument("--machine", help="asv machine name (default: the only one in results/)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument(
        "--old-results", type=Path, help="the results set to read OLD from, profiles beside it (default: --results)"
    )
    parser.add_argument(
        "--threshold", type=float, default=10.0, help="percent slower that fails a wall-clock figure (default 10)"
    )
    parser.add_argument(
        "--cost-threshold",
        type=float,
        default=COST_THRESHOLD,
        help=f"percent more instructions or system calls per op that fails (default {COST_THRESHOLD:g})",
    )
    parser.add_argument("--metric", help="judge this wall-clock metric even where cost figures exist")
    parser.add_argument("--bench", nargs="*", help="benchmark classes (default: benchmarks/headline.txt)")
    args = parser.parse_args(argv)
    runs = load_runs(args.results)
    old_runs = runs if args.old_results is None else load_runs(args.old_results)
    machine = args.machine
    if machine is None:
        found = machines(runs)
        if len(found) != 1:
            parser.error(f"name one --machine of {found}")
        machine = found[0]
    if args.commits:
        old = _pick(old_runs, machine, commit=args.commits[0], env=args.env)
        new = _pick(runs, machine, commit=args.commits[1], env=args.env)
    elif args.pythons:
        old, new = _pick_pythons(runs, machine, args.commit, args.pythons)
    else:
        old = _pick(old_runs, machine, commit=args.commit, env=args.envs[0])
        new = _pick(runs, machine, commit=args.commit, env=args.envs[1])
    print(f"old: {old.commit[:8]} {old.env}\nnew: {new.commit[:8]} {new.env}")
    metric = args.metric or "track_ratio_to_baseline"
    wall_lines, wall_regressed = compare(old, new, args.bench or headline_classes(), metric, args.threshold)
    cost_lines, cost_regressed, compared = compare_cost(
        old, new, args.results, args.cost_threshold, old_results_dir=args.old_results
    )
    if args.metric is None and (compared or cost_regressed):
        lines, regressed = cost_lines, cost_regressed
        judged = "instructions and system calls per operation, larger is worse"
        print(f"judged: {judged}, threshold {args.cost_threshold:g}%")
        print("\n".join(lines))
        print(f"\nfor context, not judged (the host moves wall-clock figures): {metric}")
        print("\n".join(wall_lines))
    else:
        lines, regressed = wall_lines, wall_regressed
        print(f"judged: {metric}, larger is worse, threshold {args.threshold:g}%")
        print("\n".join(lines))
    print("REGRESSION" if regressed else "no regression beyond the threshold")
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
