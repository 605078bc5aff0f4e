"""Several server processes (benchmarks/bench_workers.py) for readers: per workload, each
framework's throughput at each worker count, its scaling over one worker in the same run, and
what bounded the figure. A figure is only a scaling figure when every worker had a CPU of its
own and the server, not the generator, was the limit; the others say which it was instead
of joining a curve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.report.formatting import escape as _e
from harness.report.formatting import number
from harness.report.results import BenchmarkCase, Run, throughput, usable
from harness.stats import SATURATED_CPU_PCT

WORKLOADS = {
    "bench_workers.EchoWorkers": "WebSocket echo of 32 B text on 100 connections",
    "bench_workers.GetJsonWorkers": "GET /json on 64 connections",
}
GENERATOR_OUT_OF_CPU_PCT = 90.0  # the generator at or above this share of its CPUs: it set the pace


@dataclass(frozen=True)
class Cell:
    """One framework at one worker count."""

    workers: int
    ops_per_second: float | None
    scaling: float | None  # over one worker, same run
    server_cpu_pct: float | None  # summed over its processes, % of one core
    generator_cpu_pct: float | None  # % of its CPUs
    workers_per_cpu: float | None

    @property
    def bound(self) -> str:
        """What set the pace: "server" (a scaling figure), "shared CPUs" or "client"."""
        if not usable(self.server_cpu_pct) or not usable(self.workers_per_cpu):
            return "n/a"
        if self.workers_per_cpu > 1:
            return "shared CPUs"
        cpus = self.workers / self.workers_per_cpu
        if self.server_cpu_pct / cpus < SATURATED_CPU_PCT:
            return "client"
        return "server"

    @property
    def note(self) -> str:
        bound = self.bound
        if bound == "shared CPUs":
            cpus = self.workers / self.workers_per_cpu
            return f"{self.workers} workers on {cpus:.0f} CPU{'s' if cpus > 1 else ''}: not a scaling figure"
        if bound == "client":
            out_of_cpu = usable(self.generator_cpu_pct) and self.generator_cpu_pct >= GENERATOR_OUT_OF_CPU_PCT
            why = "the generator ran out of CPU" if out_of_cpu else "the server was not saturated"
            return f"client-bound: {why} (generator {number(self.generator_cpu_pct, digits=0, suffix=' %')})"
        return "server-bound" if bound == "server" else ""


@dataclass(frozen=True)
class WorkersTable:
    cls: str
    title: str
    workers: tuple[int, ...]
    rows: Mapping[str, tuple[Cell, ...]]  # framework -> a cell per worker count


def table(run: Run, cases: list[BenchmarkCase]) -> WorkersTable | None:
    """One class's table from its cases (one per worker count), or None if not measured."""
    if not cases or not run.measured(cases[0]):
        return None
    cases = sorted(cases, key=lambda case: int(case.variant[0]))
    frameworks = tuple(dict.fromkeys(f for case in cases for f in case.frameworks))
    rows = {}
    for framework in frameworks:
        single = throughput(run.value(cases[0], "track_time_per_op", framework))
        cells = []
        for case in cases:
            rate = throughput(run.value(case, "track_time_per_op", framework))
            cells.append(
                Cell(
                    workers=int(case.variant[0]),
                    ops_per_second=rate,
                    scaling=rate / single if rate and single else None,
                    server_cpu_pct=run.value(case, "track_server_cpu", framework),
                    generator_cpu_pct=run.value(case, "track_generator_cpu", framework),
                    workers_per_cpu=run.value(case, "track_workers_per_cpu", framework),
                )
            )
        rows[framework] = tuple(cells)
    workers = tuple(int(case.variant[0]) for case in cases)
    return WorkersTable(cases[0].cls, WORKLOADS.get(cases[0].cls, cases[0].cls), workers, rows)


def tables(run: Run, found: Mapping[str, BenchmarkCase]) -> list[WorkersTable]:
    out = []
    for cls in WORKLOADS:
        cases = [case for case in found.values() if case.cls == cls and len(case.variant) == 1]
        if (made := table(run, cases)) is not None:
            out.append(made)
    return out


def html_table(t: WorkersTable) -> str:
    head = "".join(f'<th colspan="2">{w} worker{"s" if w > 1 else ""}</th>' for w in t.workers)
    rows = [f'<table class="workers" data-workload="{_e(t.cls)}"><thead><tr><th>framework</th>{head}</tr></thead>']
    rows.append("<tbody>")
    for framework, cells in t.rows.items():
        tds = []
        for cell in cells:
            scaling = f" ({number(cell.scaling, digits=2, suffix=' x')})" if cell.workers > 1 else ""
            tds.append(f"<td>{number(cell.ops_per_second, digits=0)}/s{scaling}</td>")
            tds.append(f'<td class="bound-{_e(cell.bound.replace(" ", "-"))}">{_e(cell.note)}</td>')
        rows.append(f'<tr data-framework="{_e(framework)}"><td>{_e(framework)}</td>{"".join(tds)}</tr>')
    rows.append("</tbody></table>")
    return "\n".join(rows)


def terminal_block(t: WorkersTable) -> list[str]:
    """Throughput and scaling per worker count, each figure with what bounded it."""
    lines = [f"  Several workers: {t.title} ({t.cls}):"]
    for framework, cells in t.rows.items():
        parts = []
        for cell in cells:
            scaling = f" = {number(cell.scaling, digits=2)}x" if cell.workers > 1 else ""
            parts.append(f"{cell.workers}w {number(cell.ops_per_second, digits=0)}/s{scaling} [{cell.note or 'n/a'}]")
        lines.append(f"    {framework:<11} " + "; ".join(parts))
    crowded = {cell.note for cells in t.rows.values() for cell in cells if cell.bound == "shared CPUs"}
    if crowded:
        lines.append(
            "    Workers shared CPUs on this host: those figures are the cost of several processes, not "
            "their scaling (README, 'Bigger than one machine')."
        )
    return lines
