"""The cost family's records: one ``CostRecord`` per framework and case, written as JSON
beside asv's results so that the site and ``harness.regressions`` can say which functions
moved; and where those files live.

Layout, in a ``profiles`` folder beside asv's results_dir (not inside it: asv's publish
tries to read every JSON file under results_dir as a result, and complains of each)::

    profiles/<machine>/<commit hash>/<asv env name>/<case>/<framework>.json
    profiles/<machine>/<commit hash>/<asv env name>/flamegraphs/<workload>/<framework>.speedscope.json
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = 1
PROFILES = "profiles"


@dataclass(frozen=True)
class FunctionCost:
    """Instructions one function executed itself (callees excluded) per operation."""

    function: str  # as valgrind names it: C symbols, e.g. _PyEval_EvalFrameDefault, sha256_block_data_order
    obj: str  # the shared object or executable it lives in, by file name
    per_op: float

    @property
    def key(self) -> str:
        return f"{self.function} ({self.obj})" if self.obj else self.function


@dataclass(frozen=True)
class CostRecord:
    """What one replay cost one server."""

    framework: str
    release: str  # the installed framework release; "" for the baseline
    case: str  # the cost case, e.g. ws_echo_text_32B (harness/cost/cases.py)
    ops: int  # verified operations in the instruction window
    instructions: int  # user-space instructions (valgrind's Ir) over that window
    syscall_ops: int  # verified operations in the system-call window (a native run)
    syscalls: dict[str, float]  # system call -> calls per operation (syscalls.per_op)
    functions: tuple[FunctionCost, ...] = ()  # largest first
    profiled: int = 0  # the functions' own instructions added up, whole window (callgrind.read_dump on the gap)
    tool: dict[str, str] = field(default_factory=dict)  # python, valgrind, strace versions
    syscalls_unavailable: str = ""  # why no system calls were counted (syscall_ops is then 0)

    @property
    def instructions_per_op(self) -> float:
        return self.instructions / self.ops

    @property
    def syscalls_per_op(self) -> float:
        return sum(self.syscalls.values()) if self.syscall_ops else math.nan

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["functions"] = [[f.function, f.obj, round(f.per_op, 3)] for f in self.functions]
        data["schema"] = SCHEMA
        data["instructions_per_op"] = self.instructions_per_op
        data["syscalls_per_op"] = self.syscalls_per_op if self.syscall_ops else None  # JSON has no NaN
        return json.dumps(data, indent=1, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> CostRecord:
        data = json.loads(text)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"cost record schema {data.get('schema')!r}, this reader knows {SCHEMA}")
        names = {f.name for f in dataclasses.fields(CostRecord)}
        fields = {k: v for k, v in data.items() if k in names}
        fields["functions"] = tuple(FunctionCost(name, obj, per_op) for name, obj, per_op in data["functions"])
        return CostRecord(**fields)

    def dump(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> CostRecord:
        return CostRecord.from_json(path.read_text())


def profiles_dir(results_dir: Path) -> Path:
    """The profiles folder that goes with asv's ``results_dir``: its sibling."""
    return results_dir.parent / PROFILES


def run_dir(results_dir: Path, machine: str, commit: str, env: str) -> Path:
    """Where one asv run (machine, commit, environment) keeps its profiles."""
    return profiles_dir(results_dir) / machine / commit / env


def record_path(results_dir: Path, machine: str, commit: str, env: str, case: str, framework: str) -> Path:
    return run_dir(results_dir, machine, commit, env) / case / f"{framework}.json"


def flamegraph_path(results_dir: Path, machine: str, commit: str, env: str, workload: str, framework: str) -> Path:
    return run_dir(results_dir, machine, commit, env) / "flamegraphs" / workload / f"{framework}.speedscope.json"


@dataclass(frozen=True)
class FunctionChange:
    key: str  # FunctionCost.key
    old: float  # instructions per op; 0 where the function did not appear
    new: float

    @property
    def delta(self) -> float:
        return self.new - self.old


def diff(old: CostRecord, new: CostRecord) -> list[FunctionChange]:
    """Per function, instructions per op before and after, largest change (either way) first."""
    before = {f.key: f.per_op for f in old.functions}
    after = {f.key: f.per_op for f in new.functions}
    changes = [FunctionChange(key, before.get(key, 0.0), after.get(key, 0.0)) for key in before.keys() | after.keys()]
    return sorted(changes, key=lambda c: (-abs(c.delta), c.key))
