"""The terminal summary of the default run: the verdict (harness/report/verdict.py), headline
figures, headroom, saturation, client-bound figures, the ladder of each headline workload
(harness/report/ladder.py), the cost at the fixed rate (harness/report/fixed_load.py) and
several workers (harness/report/workers.py) and the headline across interpreters
(harness/report/interpreters.py)."""

from __future__ import annotations

from collections.abc import Mapping

from harness.compare import QUICK_WINDOW_S
from harness.report import fixed_load, ladder, verdict, workers
from harness.report import interpreters as by_interpreter
from harness.report import tls as cost_of_tls
from harness.report.formatting import CLIENT_BOUND_MEANS, bound_by, number, ops_per_second
from harness.report.interpreters import Verdicts
from harness.report.results import BASELINE, Run, configured_pythons, is_quick, latest_runs, primary_python, workloads
from harness.stats import SATURATED_CPU_PCT

HEADER = ("workload", "framework", "ops/s", "x baseline", "server CPU", "generator CPU", "bound by")
ROW = "  {:<34} {:<11} {:>9} {:>10} {:>10} {:>13}  {}"


def render(runs: list[Run], headline_classes: list[str], verdicts: Mapping[str, Verdicts] | None = None) -> str:
    """The default run's figures in words, for the terminal: per machine, the headline
    workloads' throughput, × baseline (the generator's headroom) and server CPU, and every
    framework figure, headline or not, whose server was not saturated."""
    found = workloads(runs)
    lines = []
    for machine, run in latest_runs(runs).items():
        lines.append(f"Machine {machine}, commit {run.commit[:8]} (latest releases):")
        if is_quick(machine):
            lines.append(
                f"  QUICK PASS (scripts/bench.sh --quick): one window of {QUICK_WINDOW_S:g} s per figure, to check "
                "that the suite runs; these figures are not for reading."
            )
        judged = verdict.verdict(verdict.default_runs(runs, machine), found)
        if judged is not None and judged.rows and verdict.REFERENCE in judged.frameworks:
            lines.extend(verdict.terminal_block(judged))
        lines.append(ROW.format(*HEADER))
        client_bound = []
        for workload in found.values():
            if not run.measured(workload):
                continue
            for framework in workload.frameworks:
                cpu = run.value(workload, "track_server_cpu", framework)
                bound = bound_by(cpu)
                if bound == "client" and framework != BASELINE:
                    client_bound.append(f"{workload.name} [{framework}] {cpu:.0f} %")
                if workload.cls not in headline_classes:
                    continue
                lines.append(
                    ROW.format(
                        workload.name,
                        framework,
                        ops_per_second(run.value(workload, "track_time_per_op", framework)),
                        number(run.value(workload, "track_ratio_to_baseline", framework), digits=2),
                        number(cpu, digits=0, suffix=" %"),
                        number(run.value(workload, "track_generator_cpu", framework), digits=0, suffix=" %"),
                        bound,
                    )
                )
        lines.append(
            "  The baseline row is the load generator's ceiling; x baseline is the headroom over each framework."
        )
        if client_bound:
            lines.append(f"  Client-bound framework figures (server below {SATURATED_CPU_PCT:.0f} % CPU):")
            lines.extend(f"    {item}" for item in client_bound)
            lines.append(f"  {CLIENT_BOUND_MEANS}")
        else:
            lines.append(f"  Every framework figure with a CPU reading was server-bound (>= {SATURATED_CPU_PCT:.0f} %)")
        for lad in ladder.ladders(run, found, headline_classes):
            lines.extend(ladder.terminal_block(lad))
        for t in fixed_load.tables(run, found):
            lines.extend(fixed_load.terminal_block(t))
        for t in workers.tables(run, found):
            lines.extend(workers.terminal_block(t))
        for t in cost_of_tls.tables(run):
            lines.extend(cost_of_tls.terminal_block(t))
        for t in by_interpreter.tables(runs, configured_pythons(), verdicts):
            if t.machine == machine:
                lines.extend(by_interpreter.terminal_block(t, primary_python()))
    return "\n".join(lines) if lines else "No results from the default environment (latest releases) yet."
