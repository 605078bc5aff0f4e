"""The regression check's comparison: which judged values grew beyond a threshold between two runs."""

from __future__ import annotations

import math

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
