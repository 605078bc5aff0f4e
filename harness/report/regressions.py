"""The regression check's comparisons: which judged values grew beyond a threshold between
two runs, wall-clock (``compare``) or deterministic cost (``compare_cost``, which also names
the functions that moved)."""

from __future__ import annotations

import math
from pathlib import Path

from harness.cost.cases import syscalls_repeat
from harness.cost.records import CostRecord, diff, record_path
from harness.report.results import Run


def finite_values(run: Run, benchmark: str) -> dict[str, float]:
    """{parameter label such as 'aiohttp': value} of one benchmark, measured values only."""
    by_params = run.values.get(benchmark, {})
    return {",".join(combo): v for combo, v in by_params.items() if v is not None and math.isfinite(v)}


def compare(old: Run, new: Run, classes: list[str], metric: str, threshold: float) -> tuple[list[str], bool]:
    """Report lines and whether any judged value regressed beyond ``threshold`` percent."""
    lines = [f"{'benchmark':<45} {'param':<12} {'old':>11} {'new':>11} {'change':>8}"]
    regressed = False
    for cls in classes:
        judged_old, judged_new = finite_values(old, f"{cls}.{metric}"), finite_values(new, f"{cls}.{metric}")
        time_old = finite_values(old, f"{cls}.track_time_per_op")
        time_new = finite_values(new, f"{cls}.track_time_per_op")
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


# The cost family (benchmarks/bench_cost.py): deterministic, so judged at a threshold set by
# its noise, not the host's (README, "Cost per operation"): most figures repeat to the
# instruction, but a server that does work on a timer moves a little with how long a window
# takes, up to 0.6 % between runs (uvicorn's tick under Starlette; granian's Rust threads).
# System calls come in whole numbers per operation, except where a message spans several
# reads; a change smaller than SYSCALL_FLOOR per op is such a split moving, not a new call,
# and the cases whose reads follow TCP's segmentation are shown, not judged
# (CostCase.syscalls_repeat).
COST_METRICS = ("track_instructions_per_op", "track_syscalls_per_op")
COST_THRESHOLD = 1.0  # percent
SYSCALL_FLOOR = 0.05  # calls per op
MOVERS = 3  # functions named per flagged figure


def cost_classes(run: Run) -> list[str]:
    """The benchmark classes of ``run`` that record instructions per operation."""
    return sorted(name.rsplit(".", 1)[0] for name in run.values if name.endswith(f".{COST_METRICS[0]}"))


def movers(
    old: Run,
    new: Run,
    results_dir: Path,
    framework: str,
    case: str,
    top: int = MOVERS,
    old_results_dir: Path | None = None,
) -> list[str]:
    """The functions whose instructions per operation changed most between the two runs'
    profiles of ``framework`` on ``case``, or why they cannot be named. ``old_results_dir``:
    where ``old``'s results (and so its profiles) are, when not in ``results_dir``."""
    paths = [
        record_path(where, r.machine, r.commit, r.env, case, framework)
        for where, r in ((old_results_dir or results_dir, old), (results_dir, new))
    ]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return [f"no profile to name functions: {', '.join(missing)} missing"]
    before, after = (CostRecord.load(p) for p in paths)
    return [
        f"{change.key}: {change.old:,.0f} -> {change.new:,.0f} ({change.delta:+,.0f} per op)"
        for change in diff(before, after)[:top]
    ]


def failed_now(old: Run, new: Run, benchmark: str) -> list[str]:
    """Parameter labels measured in ``old`` whose benchmark failed in ``new`` (asv's None):
    the worst regression of all, which a comparison of values would skip."""
    measured = finite_values(old, benchmark)
    return sorted(label for label, value in _labelled(new, benchmark).items() if value is None and label in measured)


def _labelled(run: Run, benchmark: str) -> dict[str, float | None]:
    return {",".join(combo): value for combo, value in run.values.get(benchmark, {}).items()}


def compare_cost(
    old: Run, new: Run, results_dir: Path, threshold: float = COST_THRESHOLD, old_results_dir: Path | None = None
) -> tuple[list[str], bool, int]:
    """Report lines, whether instructions or system calls per operation grew beyond
    ``threshold`` percent anywhere (or a figure measured before failed now), and how many
    figures were compared. Each figure that moved either way names its movers, from the
    profiles beside ``results_dir`` (``old``'s beside ``old_results_dir`` when given)."""
    lines = [f"{'benchmark':<45} {'framework, case':<40} {'old':>13} {'new':>13} {'change':>8}"]
    regressed, compared = False, 0
    for cls in sorted(set(cost_classes(old)) & set(cost_classes(new))):
        for metric in COST_METRICS:
            name = f"{cls}.{metric.removeprefix('track_')}"
            judged_old = finite_values(old, f"{cls}.{metric}")
            judged_new = finite_values(new, f"{cls}.{metric}")
            for label in failed_now(old, new, f"{cls}.{metric}"):
                regressed = True
                lines.append(f"{name:<45} {label:<40} {judged_old[label]:>13,.2f} {'failed':>13}  FAILED")
            for label in sorted(set(judged_old) & set(judged_new)):
                compared += 1
                before, after = judged_old[label], judged_new[label]
                change = (after / before - 1) * 100 if before else (math.inf if after else 0.0)
                framework, case = label.split(",", 1)
                large = metric != "track_syscalls_per_op" or (
                    abs(after - before) >= SYSCALL_FLOOR and syscalls_repeat(case)
                )
                flag = ""
                if change > threshold and large:
                    regressed, flag = True, "  MORE"
                elif change < -threshold and large:
                    flag = "  less"
                lines.append(f"{name:<45} {label:<40} {before:>13,.2f} {after:>13,.2f} {change:>+7.2f}%{flag}")
                if flag and metric == COST_METRICS[0]:
                    lines.extend(
                        f"    {line}"
                        for line in movers(old, new, results_dir, framework, case, old_results_dir=old_results_dir)
                    )
    if len(lines) == 1:
        lines.append("(no cost figure has values in both result sets)")
    return lines, regressed, compared
