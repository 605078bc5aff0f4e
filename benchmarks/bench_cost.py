"""Deterministic cost per operation (harness/cost, README "Cost per operation"): the
instructions and system calls a server spends on one verified operation of a fixed replay,
one operation in flight on one connection. Unlike the wall-clock families, these do not
move with the host: five runs kept every figure within 0.34 %, so a 1 % change between two
releases or two commits is the server's own.
Larger is worse, as asv assumes.

Each figure comes with a per-function profile and system-call table, saved beside asv's
results (harness/cost/store.py) for the site's cost view and harness.regressions, which
name the functions that moved. HeadlineCost runs in every release environment as well
(benchmarks/headline.txt). Beside it go sampled flame graphs of each server at full load on
the headline workloads (py-spy), for the time valgrind cannot see: in a run of the scripts
the headline classes record them on their own servers before their rounds
(flamegraphs_before_rounds), else HeadlineCost does (record_flamegraphs).
"""

import dataclasses
import sys
from collections.abc import Callable

import servers
from harness import shared, workloads
from harness.compare import Contender, on_primary_interpreter, quick
from harness.cost import store
from harness.cost.cases import FLAMEGRAPH_WORKLOADS, HEADLINE_CASES, TLS_CASES, WORKLOAD_CASES
from harness.cost.family import measure_costs
from harness.cost.flamegraph import py_spy_missing, record_during, record_flamegraph
from harness.cost.records import CostRecord
from harness.generator import GeneratorError
from harness.outcomes import Measurement, Skipped
from harness.process import ServerError
from harness.workloads import Workload

from .common import EchoComparison, Experiment, benchmark_class, methods_tracked, tracked

FRAMEWORKS = list(servers.FRAMEWORKS)
# One second at 200 Hz: ~200 samples, where a frame of 1 % of the time shows in two. Each flame
# graph costs a server start, a warm-up and py-spy's attach and write besides: with 2 s and
# 0.5 s of warm-up, the 22 of a default run took ~95 s; 1 s and 0.2 s save ~30 s of that, and
# a minute of the release history's 96.
FLAMEGRAPH_SECONDS = 1.0
FLAMEGRAPH_WARMUP_S = 0.2
SMOKE_FLAMEGRAPH_SECONDS = 1.0


class CostComparison(Experiment):
    """Every framework on ``cases``, measured once per environment in setup_cache."""

    param_names = ["framework", "case"]
    cases: tuple = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.params = [FRAMEWORKS, [case.name for case in cls.cases]]

    def key(self, framework: str, case: str) -> tuple[str, str]:
        return framework, case

    # A class of this module whose cases start the same servers as this one's and that asv runs
    # after it (by name): when the run selects that class too, this one measures its cases as
    # well, after its own, on one server start per framework and configuration, and leaves them
    # to it (harness.shared). HeadlineCost's two cases and WorkloadCost's stdlib cases share a
    # server: apart, each framework's server started twice natively and twice under valgrind,
    # ~8 s a framework (aiohttp), ~45 s of the default run with two CPUs.
    measures_cases_of: tuple[str, tuple] = ("", ())  # (that class's name, its cases)

    def measure(self):
        chosen = chosen_cases(self.cases)
        measured = shared.load(cost_share_key(chosen))  # measured by an earlier class, with its own
        if measured is None:
            later = chosen_cases(self.measures_cases_of[1]) if self.measures_with_later() else []
            measured = measure_costs([*chosen, *later], measured_frameworks(), count_syscalls=self.counts_syscalls())
            store.save_records(measured)
            # What asv keeps for the track methods: the figures, not the profiles, which the site
            # and harness.regressions read from the saved records. asv loads a class's cached
            # result again for every parameter combination, and with the profiles in it reading
            # WorkloadCost's 216 values took 100 s of a default run.
            for key, outcome in measured.outcomes.items():
                if isinstance(outcome, CostRecord):
                    measured.outcomes[key] = dataclasses.replace(outcome, functions=())
            if later:
                shared.save(cost_share_key(later), only_cases(measured, later, benchmark_class(self)))
                measured = only_cases(measured, chosen, benchmark_class(self))
        for case in self.cases:
            for framework in FRAMEWORKS:
                if case.name not in {c.name for c in chosen}:
                    measured.outcomes[framework, case.name] = Skipped(NOT_IN_SMOKE_RUN)
                elif (framework, case.name) not in measured.outcomes:
                    smoke = quick() and framework not in SMOKE_FRAMEWORKS
                    reason = NOT_IN_SMOKE_RUN if smoke else servers.unavailable(framework) or RELEASE_ENV_BASELINE
                    measured.outcomes[framework, case.name] = Skipped(reason)
        return measured

    def measures_with_later(self) -> bool:
        """Whether this class measures ``measures_cases_of``'s cases too: only when the run shares
        measurements and selects that class (harness.shared.selected)."""
        name = self.measures_cases_of[0]
        if not name or shared.folder() is None:
            return False
        return shared.selected(f"bench_cost.{name}", ("track_instructions_per_op", "track_syscalls_per_op"))

    def counts_syscalls(self) -> bool:
        """Whether to count system calls: unless the run leaves out track_syscalls_per_op (the
        other interpreters' pass, harness.asv_run.other_interpreters_pattern)."""
        return shared.selected(benchmark_class(self), ("track_syscalls_per_op",), unknown=True)

    @tracked("instructions")
    def track_instructions_per_op(self, cost, framework: str, case: str) -> float:
        """User-space instructions the server executed per operation (valgrind's count)."""
        return self.result(cost, framework, case).instructions_per_op

    @tracked("calls")
    def track_syscalls_per_op(self, cost, framework: str, case: str) -> float:
        """System calls the server made per operation (strace's count, a native run)."""
        record = self.result(cost, framework, case)
        if not record.syscall_ops:
            raise NotImplementedError(record.syscalls_unavailable)
        return record.syscalls_per_op


class HeadlineCost(CostComparison):
    """The headline workloads' cost: a 32-byte text echo and GET /json. Also records each
    server's flame graph at full load on the headline workloads, unless the headline classes
    record them in this run (record_flamegraphs)."""

    cases = HEADLINE_CASES
    measures_cases_of = ("WorkloadCost", WORKLOAD_CASES)

    def setup_cache(self):
        measured = self.measure()
        record_flamegraphs()
        return measured


class WorkloadCost(CostComparison):
    """The other workloads' cost: echo of 32 B to 64 KiB (text and binary), a handshake
    (open and close), a broadcast to 100 subscribers, GET plaintext, POST JSON echo of 1 KB
    to 1 MB (stdlib and orjson), the caches (memory, Redis, a 304, none)."""

    cases = WORKLOAD_CASES

    def setup_cache(self):
        return self.measure()


class TlsCost(CostComparison):
    """The cost of TLS (bench_tls's variants): a 32-byte text echo, GET /json and a handshake,
    over TLS with the run's certificate; their plain twins are HeadlineCost's and WorkloadCost's
    cases. The handshake's instructions are the server's side of a full TLS 1.3 handshake."""

    cases = TLS_CASES

    def setup_cache(self):
        return self.measure()


# A smoke run (asv --quick) proves the family's wiring on the suite's first four: valgrind
# starts each server in seconds, and all twelve took 30-35 s of the quick pass's 5 minutes.
SMOKE_FRAMEWORKS = ("baseline", "aiohttp", "tornado", "websockets")
NOT_IN_SMOKE_RUN = "not measured in a smoke run (asv --quick)"
RELEASE_ENV_BASELINE = (
    "the baseline's cost is measured in the default environment; a release environment measures its framework alone"
)


def chosen_cases(cases: tuple) -> list:
    """The cases of ``cases`` this run measures: all, or the headline's in a smoke run."""
    return [case.for_this_run() for case in cases if case.in_smoke_run or not quick()]


def cost_share_key(cases: list) -> str:
    """The share key (harness.shared) of these cases' costs on this environment's frameworks."""
    return shared.key("cost", tuple(cases), tuple(measured_frameworks()))


def only_cases(measured: Measurement, cases: list, taker: str) -> Measurement:
    """``measured`` narrowed to ``cases``, its setup naming the class that measured them."""
    names = {case.name for case in cases}
    outcomes = {key: outcome for key, outcome in measured.outcomes.items() if key[1] in names}
    return shared.measured_for(dataclasses.replace(measured, outcomes=outcomes), taker)


def measured_frameworks() -> list[str]:
    """The frameworks whose cost this environment measures. Unlike the wall-clock headlines,
    which need the baseline's rounds beside each framework's, a cost needs no reference: a
    release environment (one framework under test available) leaves the baseline, which would
    only repeat the default environment's figure, to that one."""
    available = [fw for fw in servers.FRAMEWORKS_UNDER_TEST if not servers.unavailable(fw)]
    chosen = available if len(available) == 1 else FRAMEWORKS
    return [fw for fw in chosen if fw in SMOKE_FRAMEWORKS] if quick() else chosen


def flamegraph_plan() -> list[tuple[Workload, str]]:
    """The (workload, framework) pairs HeadlineCost records a flame graph of. A smoke run
    (asv --quick, QUICK_ENV) proves the wiring on one of them."""
    runnable = [fw for fw in measured_frameworks() if not servers.unavailable(fw)]
    plan = [(w, fw) for w in FLAMEGRAPH_WORKLOADS for fw in runnable if not w.unsupported(fw)]
    return plan[1:2] if quick() else plan  # the second: aiohttp (the baseline comes first)


# The headline classes that record the flame graphs of their workloads, before their rounds, in
# a run that shares measurements (flamegraphs_before_rounds).
RECORDED_BY = {
    workloads.headline_ws_echo().name: "bench_websocket.EchoText32B",
    workloads.headline_get_json().name: "bench_http.GetJson",
}


def recorded_before_rounds(workload: Workload) -> bool:
    """Whether this run's headline class of ``workload`` records its flame graphs: in a run that
    shares measurements (python -m harness.asv_run) and selects that class, on the primary
    interpreter."""
    cls = RECORDED_BY.get(workload.name)
    return cls is not None and shared.folder() is not None and shared.selected(cls, methods_tracked(EchoComparison))


def flamegraphs_before_rounds(workload: Workload) -> Callable[[Contender], None] | None:
    """For the headline comparisons (harness.compare.start_contenders' before_rounds): record the
    flame graph of each contender in flamegraph_plan() on its server, warmed up, at full load,
    before the rounds. Each then costs its 1.7 s window and py-spy, not a server start, a
    generator's connections and a warm-up of its own as well (~3 s): 22 of them took ~66 s of
    the default run in HeadlineCost. A flame graph that cannot be made is reported, not fatal."""
    if not recorded_before_rounds(workload) or not on_primary_interpreter():
        return None
    chosen = {framework for planned, framework in flamegraph_plan() if planned.name == workload.name}
    reason = py_spy_missing()
    seconds = SMOKE_FLAMEGRAPH_SECONDS if quick() else FLAMEGRAPH_SECONDS

    def record(contender: Contender) -> None:
        out = store.flamegraph_file(workload.name, contender.framework) if contender.framework in chosen else None
        if out is None:
            return
        if reason:
            print(f"flame graph of {contender.framework} on {workload.name}: {reason}", file=sys.stderr)
            return
        try:
            record_during(contender, workload, out, seconds=seconds)
        except (ServerError, GeneratorError):
            raise  # the server died or failed under load: the contender fails, as in a round
        except Exception as exc:  # noqa: BLE001 - whatever it was, the comparison goes on
            print(f"flame graph of {contender.framework} on {workload.name} failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr)  # fmt: skip

    return record


def record_flamegraphs() -> None:
    """py-spy flame graphs of every server at full load on the headline workloads, saved
    with the run, but for those the headline classes record before their rounds in this run
    (flamegraphs_before_rounds); a flame graph that cannot be made is reported, not fatal: the
    figures stand. Only on the primary interpreter: on the others (harness/interpreters.py)
    they would add a minute each to the default run, and the instruction profiles are there
    for every one."""
    if not on_primary_interpreter():
        print("flame graphs: recorded on the primary interpreter only (harness/interpreters.py)", file=sys.stderr)
        return
    reason = py_spy_missing()
    seconds = SMOKE_FLAMEGRAPH_SECONDS if quick() else FLAMEGRAPH_SECONDS
    for workload, framework in flamegraph_plan():
        if recorded_before_rounds(workload):
            continue
        out = store.flamegraph_file(workload.name, framework)
        if out is None:
            continue
        if reason:
            print(f"flame graph of {framework} on {workload.name}: {reason}", file=sys.stderr)
            continue
        try:
            record_flamegraph(workload, framework, out, seconds=seconds, warmup_s=FLAMEGRAPH_WARMUP_S)
        except Exception as exc:  # noqa: BLE001 - whatever it was, the costs measured before it stand
            print(f"flame graph of {framework} on {workload.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
