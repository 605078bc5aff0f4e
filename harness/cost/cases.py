"""The cost family's cases: which workloads are replayed, on how many connections, and how
many operations each window counts.

Every case is a workload of the catalogue (harness/workloads.py, so its payloads, expected
replies and server options are the throughput benchmarks' own) on one connection with one
operation in flight; broadcast alone needs its subscribers. The counts keep each window at
some tens of millions of instructions, enough for most figures to repeat to the instruction
(README, "Cost per operation") and few enough that the family fits its 6 minutes under
valgrind: the costliest operations (a 1 MB JSON document) get the fewest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness import workloads
from harness.compare import quick
from harness.experiments.cache_paths import LONG_TTL_ARGS
from harness.workloads import Workload
from servers import contract

SYSCALL_WINDOW_FACTOR = 5


@dataclass(frozen=True)
class CostCase:
    """One replay: ``warmup_ops`` uncounted operations, then windows of ``ops``."""

    name: str
    workload: Workload
    ops: int
    warmup_ops: int

    def for_this_run(self) -> CostCase:
        """This case, or a few operations of it in a smoke run (asv --quick, QUICK_ENV)."""
        return dataclasses.replace(self, ops=min(self.ops, 4), warmup_ops=2) if quick() else self

    @property
    def in_smoke_run(self) -> bool:
        """Whether a smoke run measures it: the headline cases only. Every case shares their
        code path, and each valgrind server start costs seconds that the tests' asv run
        cannot spare; tests/test_cost.py replays every kind against real servers natively."""
        return self.name in SMOKE_CASES

    @property
    def syscall_ops(self) -> int:
        """Operations in the system-call window: natively they are cheap, and more of them
        leave less weight to a call the heap or a timer makes only now and then."""
        return SYSCALL_WINDOW_FACTOR * self.ops

    @property
    def syscalls_repeat(self) -> bool:
        return syscalls_repeat(self.name)

    @property
    def needs_redis(self) -> bool:
        return self.workload.path == contract.CACHE_REDIS


def syscalls_repeat(name: str) -> bool:
    """Whether a case's system calls per op repeat from run to run (by name: results hold cases
    this module no longer measures). A 1 MB body arrives in as many reads as TCP happens to
    deliver it in: 13.4 to 15.6 calls per op over five runs here, so harness.regressions shows
    those figures without judging them. So do a TLS handshake's flights (31.7 to 32.0 for the
    baseline over three runs)."""
    return "1MB" not in name and name != "ws_handshake_tls"


def case(name: str, workload: Workload, ops: int) -> CostCase:
    # Every server runs with the cache's long TTL, so that one server start (per JSON codec)
    # serves the cached and the other cases alike; the TTL changes nothing elsewhere. The
    # warm-up takes every lazy first-time path (imports on first use, a cache's first miss,
    # buffers growing to size) out of the window.
    return CostCase(name, workload.with_server_args(*LONG_TTL_ARGS), ops, warmup_ops=max(2, ops // 4))


def _echo(size: int, size_name: str, ops: int) -> list[CostCase]:
    return [
        case(f"ws_echo_{kind}_{size_name}", workloads.ws_echo(size, 1, binary=kind == "binary"), ops)
        for kind in ("text", "binary")
    ]


def _get(path: str, **options: object) -> Workload:
    return workloads.http_get(path, 1, **options)


# The headline workloads (benchmarks/headline.txt): these run in every release environment too.
HEADLINE_CASES = (
    case("ws_echo_text_32B", workloads.ws_echo(32, 1), 200),
    case("http_get_json", _get(contract.JSON), 200),
)

# Binary echo only at 64 KiB, where skipping the UTF-8 check is worth measuring; at 32 B and
# 1 KiB the two kinds differed by little, and their four server-side figures per framework cost
# ~25 s of the default run, which the interpreter and TLS axes needed. POST JSON of 1 MB with the
# stdlib codec is left out too: 441 M instructions per op for aiohttp, nearly all CPython's json
# module, the same for every framework, and 65 s of the default run under valgrind; orjson's
# 1 MB case keeps the frameworks' handling of a large body.
WORKLOAD_CASES = (
    *_echo(1024, "1KiB", 200)[:1],
    *_echo(64 * 1024, "64KiB", 40),
    case("ws_handshake", workloads.ws_handshake(1), 40),
    case("ws_broadcast_32B_to_100", workloads.ws_broadcast(100), 20),
    case("http_get_plaintext", _get(contract.PLAINTEXT), 200),
    *(
        case(
            f"http_post_json_echo_{size}" + ("_orjson" if codec == "orjson" else ""),
            workloads.http_post_json(size, 1, json_codec=codec),
            ops,
        )
        for codec in workloads.CODECS
        for size, ops in (("1KB", 100), ("31KB", 20), ("1MB", 2))
        if (size, codec) != ("1MB", "stdlib")
    ),
    case("http_get_cache_memory", _get(contract.CACHE_MEMORY), 100),
    case("http_get_cache_redis", _get(contract.CACHE_REDIS), 100),
    case("http_get_cache_etag_304", _get(contract.CACHE_ETAG, if_none_match=True), 100),
    case("http_get_cache_none", _get(contract.CACHE_NONE), 20),
)

# Over TLS (bench_cost.TlsCost, beside the plain cases above): the server's side of a record
# encrypted and decrypted each way, and of a full handshake (ECDHE and an ECDSA P-256
# signature, the run's certificate: harness/tls.py). Each variant's plain twin is a case above.
# Fewer operations than their plain twins: the figures repeated within 0.035 % at these counts
# (three runs), and a TLS server under valgrind costs seconds a framework.
TLS_CASES = (
    case("ws_echo_text_32B_tls", workloads.ws_echo(32, 1, tls=True), 100),
    case("http_get_json_tls", _get(contract.JSON, tls=True), 100),
    case("ws_handshake_tls", workloads.ws_handshake(1, tls=True), 20),
)

CASES = {c.name: c for c in (*HEADLINE_CASES, *WORKLOAD_CASES, *TLS_CASES)}
SMOKE_CASES = {c.name for c in HEADLINE_CASES}

# The headline throughput workloads, at full load for py-spy's flame graphs: what the
# instruction counts cannot show.
FLAMEGRAPH_WORKLOADS = (workloads.headline_ws_echo(), workloads.headline_get_json())
