"""Each framework across interpreters (harness/interpreters.py) for readers: the headline
workloads on every Python the config names, from the default environment's newest run on
each. Two figures per cell: throughput, which comes from a different run for each
interpreter (so the host's drift between those runs is in it, and the interpreters other
than the primary one measure shorter rounds: benchmarks/common.OTHER_INTERPRETER_RUN), and
instructions per operation (bench_cost.HeadlineCost), which the host cannot move: the figure
to compare interpreters by. An interpreter without figures says why: not installed on the
host, its environment not created (a release that does not support it), or not run."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.cost.records import profiles_dir
from harness.report.formatting import escape as _e
from harness.report.formatting import number, ops_per_second
from harness.report.results import Run, case_of, interpreter_runs, primary_python, usable

# (wall-clock class, cost case of bench_cost.HeadlineCost, title)
WORKLOADS = (
    ("bench_websocket.EchoText32B", "ws_echo_text_32B", "WebSocket echo of 32 B text"),
    ("bench_http.GetJson", "http_get_json", "GET /json"),
)
COST_CLASS = "bench_cost.HeadlineCost"
# What python -m harness.asv_run kept of each run (harness.asv_run.record_verdicts):
# environment -> {"python", "status", "detail"}, for one commit, beside its profiles.
Verdicts = Mapping[str, Mapping[str, str]]
ENVIRONMENTS_FILE = "environments.json"


def verdicts_path(results_dir: Path, machine: str, commit: str) -> Path:
    return profiles_dir(results_dir) / machine / commit / ENVIRONMENTS_FILE


def load_verdicts(results_dir: Path, machine: str, commit: str) -> dict[str, dict[str, str]]:
    """What harness.asv_run kept of one commit's runs on ``machine`` ({} if none)."""
    path = verdicts_path(results_dir, machine, commit)
    return json.loads(path.read_text()) if path.is_file() else {}


@dataclass(frozen=True)
class Cell:
    seconds_per_op: float | None  # as Run.value gives it: NaN n/a, None failed
    instructions: float | None


@dataclass(frozen=True)
class Column:
    """One interpreter on one machine: its newest run, or why it has none."""

    python: str
    run: Run | None
    missing: str = ""  # why there is no run


@dataclass(frozen=True)
class InterpreterTable:
    machine: str
    cls: str
    title: str
    columns: tuple[Column, ...]
    rows: Mapping[str, Mapping[str, Cell]] = field(default_factory=dict)  # framework -> python -> cell


def why_missing(python: str, verdicts: Verdicts) -> str:
    """Why ``python`` has no run, from the newest run's verdicts."""
    said = [v for v in verdicts.values() if v.get("python") == python]
    for v in said:
        if v.get("status") == "no interpreter":
            return f"not on this host: {v.get('detail', '')}"
    for v in said:
        if v.get("status") not in ("measured", "kept"):
            return f"{v.get('status')}: {v.get('detail', '')}"
    return "not run on this machine (scripts/bench.sh measures every interpreter it finds)"


def _cell(run: Run, cls: str, cost_case: str, framework: str) -> Cell:
    seconds = run.value(case_of(cls), "track_time_per_op", framework)
    instructions = run.value(case_of(COST_CLASS, cost_case), "track_instructions_per_op", framework)
    return Cell(seconds, instructions)


def tables(
    runs: Iterable[Run], pythons: list[str], verdicts_by_machine: Mapping[str, Verdicts] | None = None
) -> list[InterpreterTable]:
    """Per machine, a table per headline workload over the interpreters it has runs on or a
    verdict about (in ``pythons``' order, the configured ones, then any other), when there are two or more."""
    by_python = interpreter_runs(runs)
    out = []
    for machine in sorted({m for m, _p in by_python}):
        verdicts = (verdicts_by_machine or {}).get(machine, {})
        seen = {p for m, p in by_python if m == machine} | {v.get("python", "") for v in verdicts.values()}
        order = {p: i for i, p in enumerate(pythons)}
        shown = sorted(filter(None, seen), key=lambda p: (order.get(p, len(order)), _version_key(p)))
        if len(shown) < 2:
            continue
        columns = tuple(
            Column(p, by_python.get((machine, p)), "" if (machine, p) in by_python else why_missing(p, verdicts))
            for p in shown
        )
        for cls, cost_case, title in WORKLOADS:
            measured = [c for c in columns if c.run is not None and c.run.measured(case_of(cls))]
            if not measured:
                continue
            frameworks = list(
                dict.fromkeys(combo[0] for c in measured for combo in c.run.values.get(f"{cls}.track_time_per_op", {}))
            )
            rows = {
                fw: {c.python: _cell(c.run, cls, cost_case, fw) for c in columns if c.run is not None}
                for fw in frameworks
            }
            # A framework without the endpoint (n/a everywhere) is left out, as elsewhere on the page.
            rows = {fw: cells for fw, cells in rows.items() if not all(_na(cell) for cell in cells.values())}
            out.append(InterpreterTable(machine, cls, title, columns, rows))
    return out


def _version_key(python: str) -> tuple[int, ...]:
    return tuple(int(part) for part in python.split(".") if part.isdigit())


def _na(cell: Cell) -> bool:
    """Both figures n/a (NaN): not measured there, rather than failed (None)."""
    return all(v is not None and math.isnan(v) for v in (cell.seconds_per_op, cell.instructions))


def _change(value: float | None, reference: float | None) -> str:
    if not usable(value) or not usable(reference) or not reference:
        return ""
    return f"{(value / reference - 1) * 100:+.1f} %"


def _figures(cells: Mapping[str, Cell], python: str, primary: str) -> tuple[str, str, str]:
    """One interpreter's cell as text: (ops/s, instructions per op, change from the primary's or "")."""
    cell, reference = cells[python], cells.get(primary)
    change = _change(cell.instructions, reference.instructions if reference else None)
    return ops_per_second(cell.seconds_per_op), number(cell.instructions, digits=0), "" if python == primary else change


def html_table(t: InterpreterTable, primary: str | None = None) -> str:
    primary = primary or primary_python()
    heads = []
    for c in t.columns:
        where = f"<br><small>commit <code>{_e(c.run.commit[:8])}</code></small>" if c.run is not None else ""
        heads.append(f'<th colspan="2">Python {_e(c.python)}{" (primary)" if c.python == primary else ""}{where}</th>')
    sub = "".join("<th>ops/s</th><th>instr./op</th>" for _c in t.columns)
    rows = [
        f'<table class="interpreters" data-workload="{_e(t.cls)}"><thead><tr><th rowspan="2">framework</th>'
        f"{''.join(heads)}</tr><tr>{sub}</tr></thead><tbody>"
    ]
    for framework, cells in t.rows.items():
        tds = []
        for c in t.columns:
            if c.run is None:
                tds.append(f'<td colspan="2" class="missing" title="{_e(c.missing)}">n/a</td>')
                continue
            speed, instructions, change = _figures(cells, c.python, primary)
            tds.append(f"<td>{speed}</td><td>{instructions}{f' <small>({change})</small>' if change else ''}</td>")
        rows.append(f"<tr><td>{_e(framework)}</td>{''.join(tds)}</tr>")
    rows.append("</tbody></table>")
    notes = [f"Python {c.python}: n/a, {c.missing}" for c in t.columns if c.run is None]
    if notes:
        rows.append("".join(f'<p class="meta interpreter-missing">{_e(n)}</p>' for n in notes))
    return "".join(rows)


def terminal_block(t: InterpreterTable, primary: str | None = None) -> list[str]:
    """The table in words: instructions per op per interpreter (change from the primary's)."""
    primary = primary or primary_python()
    lines = [f"  {t.title} across interpreters, instructions per op (change from {primary}), ops/s:"]
    for framework, cells in t.rows.items():
        parts = []
        for c in t.columns:
            if c.run is None:
                parts.append(f"{c.python} n/a")
                continue
            speed, figure, change = _figures(cells, c.python, primary)
            parts.append(f"{c.python} {figure}{f' ({change})' if change else ''} {speed}/s")
        lines.append(f"    {framework:<11} " + " | ".join(parts))
    for c in t.columns:
        if c.run is None:
            lines.append(f"    Python {c.python}: n/a, {c.missing}")
    return lines
