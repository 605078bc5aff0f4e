"""The ladder view: what each layer of the stack costs on the headline workloads.

The ladder (servers.LADDER) climbs from the bare asyncio baseline through picows, websockets,
uvicorn with a bare ASGI application, Starlette and FastAPI, each rung one layer on the one
below; the step between two rungs is what that layer costs, in time per op at full load and
in instructions per op (the cost family's bench_cost.HeadlineCost). The other frameworks
(servers.BESIDE_THE_LADDER) are whole stacks of their own and stand beside it, for scale.

Records only: frameworks.html (harness/report/page.py, svg.ladder) and the terminal summary
(harness/report/summary.py) draw them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.report.formatting import escape as _e
from harness.report.formatting import number, ops_per_second
from harness.report.results import BenchmarkCase, Run, case_of, throughput, usable
from servers import BESIDE_THE_LADDER, LADDER

COST_CLASS = "bench_cost.HeadlineCost"
INSTRUCTIONS = "track_instructions_per_op"


@dataclass(frozen=True)
class LadderWorkload:
    """A headline class (benchmarks/headline.txt) and the HeadlineCost case that replays its load
    on one connection (harness/cost/cases.py): the instructions per op that go with its throughput."""

    cls: str
    title: str  # for readers: what is measured, at what load
    cost_case: str


# The pairing, named once; tests/test_ladder.py holds it to headline.txt, harness.workloads'
# headline_*() and harness.cost.cases.HEADLINE_CASES, so a change there cannot leave it stale.
LADDER_WORKLOADS: Mapping[str, LadderWorkload] = {
    w.cls: w
    for w in (
        LadderWorkload(
            "bench_websocket.EchoText32B", "WebSocket echo of 32 B text at 100 connections", "ws_echo_text_32B"
        ),
        LadderWorkload("bench_http.GetJson", "GET /json at 64 connections", "http_get_json"),
    )
}


def _difference(below: float | None, above: float | None) -> float | None:
    """above - below, or why there is none: None if either failed, NaN if either is n/a."""
    if below is None or above is None:
        return None
    return above - below  # NaN stays NaN


@dataclass(frozen=True)
class Step:
    """What one rung adds over the rung below it (each figure failed/None or n/a/NaN when either
    rung's is: a step is only taken between two measured values)."""

    below: str  # the framework of the rung below
    seconds_per_op: float | None
    instructions_per_op: float | None


@dataclass(frozen=True)
class Rung:
    """One framework on one ladder workload (values as Run.value gives them: NaN n/a, None failed)."""

    framework: str
    on_ladder: bool  # False: beside the ladder
    seconds_per_op: float | None
    ratio_to_baseline: float | None
    server_cpu: float | None
    instructions_per_op: float | None
    step: Step | None  # None for the bottom rung and for the frameworks beside the ladder

    @property
    def ops_per_second(self) -> float | None:
        return throughput(self.seconds_per_op)

    @property
    def kind(self) -> str:
        """'ladder' or 'beside', as the page's data-rung attributes say."""
        return "ladder" if self.on_ladder else "beside"


@dataclass(frozen=True)
class Ladder:
    workload: BenchmarkCase
    about: LadderWorkload | None  # None: a workload without a cost case (no instructions)
    machine: str
    rungs: tuple[Rung, ...]  # servers.LADDER order, bottom first, n/a frameworks left out
    beside: tuple[Rung, ...]  # servers.BESIDE_THE_LADDER order, n/a frameworks left out

    @property
    def title(self) -> str:
        return self.about.title if self.about else self.workload.name

    @property
    def ranked_by_instructions(self) -> bool:
        """Whether the costliest layer is judged by instructions per op: when every step has that
        count (deterministic, unlike time at full load); else by time per op."""
        steps = [rung.step for rung in self.rungs if rung.step]
        return bool(steps) and all(usable(step.instructions_per_op) for step in steps)

    @property
    def costliest(self) -> Rung | None:
        """The rung whose layer adds the most, or None when no step could be taken."""
        if self.ranked_by_instructions:
            return max((r for r in self.rungs if r.step), key=lambda r: r.step.instructions_per_op)
        timed = [r for r in self.rungs if r.step and usable(r.step.seconds_per_op)]
        return max(timed, key=lambda r: r.step.seconds_per_op, default=None)


def cost_case(about: LadderWorkload) -> BenchmarkCase:
    """The HeadlineCost case, as harness.report.results.workloads names it."""
    return case_of(COST_CLASS, about.cost_case)


def ladder(run: Run, workload: BenchmarkCase) -> Ladder:
    """The ladder of ``workload`` in ``run``: a framework with no value at all there (no time per
    op and no instruction count: it lacks the endpoint, or is not installed) is left out, so the
    step is taken over the rung below that is there (GET /json: baseline -> uvicorn)."""
    about = LADDER_WORKLOADS.get(workload.cls)
    cost = cost_case(about) if about else None

    def rung(framework: str, on_ladder: bool, below: Rung | None) -> Rung | None:
        seconds = run.value(workload, "track_time_per_op", framework)
        instructions = run.value(cost, INSTRUCTIONS, framework) if cost else math.nan
        if not any(v is None or not math.isnan(v) for v in (seconds, instructions)):
            return None  # n/a throughout
        step = None
        if on_ladder and below is not None:
            step = Step(
                below.framework,
                _difference(below.seconds_per_op, seconds),
                _difference(below.instructions_per_op, instructions),
            )
        return Rung(
            framework,
            on_ladder,
            seconds,
            run.value(workload, "track_ratio_to_baseline", framework),
            run.value(workload, "track_server_cpu", framework),
            instructions,
            step,
        )

    rungs: list[Rung] = []
    for framework in LADDER:
        if found := rung(framework, True, rungs[-1] if rungs else None):
            rungs.append(found)
    beside = [found for framework in BESIDE_THE_LADDER if (found := rung(framework, False, None))]
    return Ladder(workload, about, run.machine, tuple(rungs), tuple(beside))


def ladders(run: Run, found: Mapping[str, BenchmarkCase], headline: Iterable[str]) -> list[Ladder]:
    """One ladder per headline class ``run`` measured, in ``headline``'s order."""
    by_class = {w.cls: w for w in found.values() if not w.variant}
    return [ladder(run, by_class[cls]) for cls in headline if cls in by_class and run.measured(by_class[cls])]


# --- words -------------------------------------------------------------------------------


def step_us(rung: Rung) -> str:
    """What the rung's layer adds in µs per op, signed; '—' without a layer below it."""
    return "—" if rung.step is None else _signed(rung.step.seconds_per_op, 1e6, 1)


def step_instructions(rung: Rung) -> str:
    """What the rung's layer adds in instructions per op, signed; '—' without a layer below it."""
    return "—" if rung.step is None else _signed(rung.step.instructions_per_op, 1, 0)


def _signed(value: float | None, scale: float, digits: int) -> str:
    text = number(value, scale, digits)
    return text if not usable(value) or value < 0 else "+" + text


def sentence(lad: Ladder) -> str:
    """The layer that costs most, in one sentence (or why none can be named)."""
    top = lad.costliest
    if top is None or top.step is None:
        return f"On this machine no layer's cost on {lad.title} can be named: no two neighbouring rungs were measured."
    if lad.ranked_by_instructions:
        added = f"{_signed(top.step.instructions_per_op, 1, 0)} instructions per op"
    else:
        added = f"{_signed(top.step.seconds_per_op, 1e6, 1)} µs per op"
    return (
        f"On this machine the layer that costs most on {lad.title} is {top.framework} ({added} over {top.step.below})."
    )


TERMINAL_HEADER = ("framework", "ops/s", "x baseline", "server CPU", "instr/op", "adds µs/op", "adds instr/op")
TERMINAL_ROW = "    {:<11} {:>9} {:>10} {:>10} {:>10} {:>10} {:>13}{}"


def terminal_block(lad: Ladder) -> list[str]:
    """The ladder as fixed-width lines for the terminal summary (and the closing note)."""
    top = lad.costliest
    lines = [f"  Ladder: {lad.title} ({lad.workload.name}), what each layer adds over the rung below:"]
    lines.append(TERMINAL_ROW.format(*TERMINAL_HEADER, ""))
    for index, rung in enumerate((*lad.rungs, *lad.beside)):
        if index == len(lad.rungs):
            lines.append("    beside the ladder:")
        mark = "  <- costs most" if rung is top else ""
        lines.append(
            TERMINAL_ROW.format(
                rung.framework,
                ops_per_second(rung.seconds_per_op),
                number(rung.ratio_to_baseline, digits=2),
                number(rung.server_cpu, digits=0, suffix=" %"),
                number(rung.instructions_per_op, digits=0),
                step_us(rung) if rung.on_ladder else "",
                step_instructions(rung) if rung.on_ladder else "",
                mark,
            ).rstrip()  # the frameworks beside the ladder have no step columns
        )
    lines.append(f"  {sentence(lad)}")
    return lines


def html_table(lad: Ladder) -> str:
    """The ladder's figures as a table: the ladder bottom first, then the frameworks beside it."""
    top = lad.costliest
    rows = [
        f'<table class="ladder-table" data-workload="{_e(lad.workload.name)}" data-machine="{_e(lad.machine)}">'
        "<thead><tr><th>framework</th><th>ops/s</th><th>× baseline</th><th>server CPU</th><th>instructions/op</th>"
        "<th>layer adds (µs/op)</th><th>layer adds (instructions/op)</th></tr></thead><tbody>"
    ]
    for index, rung in enumerate((*lad.rungs, *lad.beside)):
        if index == len(lad.rungs):
            rows.append('<tr class="beside-head"><th colspan="7">beside the ladder</th></tr>')
        costliest = ' class="costliest"' if rung is top else ""
        rows.append(
            f'<tr{costliest} data-framework="{_e(rung.framework)}" data-rung="{rung.kind}">'
            f"<td>{_e(rung.framework)}</td><td>{ops_per_second(rung.seconds_per_op)}</td>"
            f"<td>{number(rung.ratio_to_baseline, digits=2)}</td>"
            f"<td>{number(rung.server_cpu, digits=0, suffix=' %')}</td>"
            f"<td>{number(rung.instructions_per_op, digits=0)}</td>"
            f"<td>{step_us(rung) if rung.on_ladder else ''}</td>"
            f"<td>{step_instructions(rung) if rung.on_ladder else ''}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)
