"""WebSocket workloads: echo, handshakes, memory per connection, broadcast, large and
fragmented messages, permessage-deflate, the event loop, and the article's workload.

Steady state (EchoGrid and the rest) measures servers on connections that are already
open, one message in flight on each, from a generator on its own core. The article's
workload (ArticleWorkload) is what its script timed: connections opened, used for 100
messages and closed, 100 at a time, with compression wherever the server's defaults accept
the websockets client's offer. It counts handshakes, closes and compression (for aiohttp
and websockets) inside its messages/s, so it reads lower than the steady-state echo and its
ranking mixes connection set-up cost with echo cost.

Cost: with twelve frameworks the family's measurements (its setup_caches) took 11.7
minutes of a default run on a 2-vCPU machine (README, "The two commands", has each class).
Connection and message counts are class attributes and params: a bigger machine can run more.

Read ratio_to_baseline with care where the baseline is no ceiling: its Python unmasking is
slower than the frameworks' C code for 64 KiB and 1 MiB messages (ratios below 1 there),
and for handshakes and broadcast to many subscribers the generator, not the server, is
near its limit for aiohttp and websockets (ratios near 1; see server_cpu).
"""

import itertools
from collections.abc import Callable

import servers
from harness import workloads
from harness.compare import Contender, Rounds, quick
from harness.workloads import Workload

from .bench_cost import flamegraphs_before_rounds
from .common import HEADLINE_RUN, SHORT_RUN, Comparison, EchoComparison, MemoryComparison, headline_rounds

FRAMEWORKS = list(servers.FRAMEWORKS)
SIZES = [32, 1024, 64 * 1024]
CONNECTIONS = [1, 100]
# Text only, kept as a parameter so that the grid's history (it measured binary as well) goes on.
MESSAGE_TYPES = ["text"]


class EchoText32B(EchoComparison):
    """The headline (benchmarks/headline.txt): echo of 32-byte text messages on 100 open
    connections, one in flight on each, in the headline's longer run (HEADLINE_RUN)."""

    workload = workloads.headline_ws_echo()
    rounds = HEADLINE_RUN

    def rounds_for(self, key: tuple) -> Rounds:
        return headline_rounds()  # shorter on the other interpreters (common.OTHER_INTERPRETER_RUN)

    def before_rounds(self, workload: Workload) -> Callable[[Contender], None] | None:
        return flamegraphs_before_rounds(workload)  # each server's, on its warmed-up connections

    def setup_cache(self) -> dict:
        return self.measure()


class EchoAllocator(EchoComparison):
    """The headline echo (32 B text, 100 connections) with the servers on the suite's tuned
    allocator settings and on glibc's defaults, as most deployments run, one after the
    other: the price of the mmap/munmap per read that the suite's other figures tune away
    (README: memory allocator settings). In a run of scripts/bench.sh the tuned half is the
    headline echo as bench_tls.EchoTLS measured it (harness/shared.py)."""

    params = [FRAMEWORKS, list(workloads.ALLOCATORS)]
    param_names = ["framework", "allocator"]
    grid = {(a,): workloads.ws_echo(32, 100, allocator=a) for a in workloads.ALLOCATORS}
    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class EchoGrid(EchoComparison):
    """Echo of text messages on already-open connections, one message in flight on each:
    size x connections (one, where latency bounds the rate; a hundred, where the server
    does). Tracked: time per message, ratio to the baseline, CPU, latency p50/p99.

    Binary messages, which skip the UTF-8 check, are measured by the cost family at each of
    these sizes (bench_cost.WorkloadCost, exact to the instruction) and by LargeMessages at
    1 MiB; measuring them here as well, and ten connections between one and a hundred, took
    twelve frameworks' grid to 18 workloads and 5 minutes of the default run's 30. The 32 B
    cell on 100 connections is the headline echo as bench_tls.EchoTLS measured it in a run of
    scripts/bench.sh (harness/shared.py)."""

    params = [FRAMEWORKS, SIZES, CONNECTIONS, MESSAGE_TYPES]
    param_names = ["framework", "size", "connections", "message"]
    grid = {
        (size, connections, kind): workloads.ws_echo(size, connections)
        for size, connections, kind in itertools.product(SIZES, CONNECTIONS, MESSAGE_TYPES)
    }
    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class EchoEventLoop(EchoComparison):
    """The headline echo (32 B text, 100 connections) with the servers on asyncio's default
    loop and on uvloop (the baseline always runs on uvloop: it is the generator's ceiling).
    The asyncio half is the headline echo as bench_tls.EchoTLS measured it (harness/shared.py)."""

    params = [FRAMEWORKS, ["asyncio", "uvloop"]]
    param_names = ["framework", "loop"]
    grid = {(loop,): workloads.ws_echo(32, 100, loop=loop) for loop in workloads.LOOPS}
    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class Handshakes(Comparison):
    """WebSocket connections opened and cleanly closed (close handshake verified), 10 at a
    time. Tracked: time per open+close. In a run of scripts/bench.sh, the plain half of
    bench_tls.HandshakesTLS (harness/shared.py)."""

    workload = workloads.ws_handshake(10)
    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class MemoryPerIdleConnection(MemoryComparison):
    """Server RSS growth per open connection (each echoed one message, then idle)."""

    workload = workloads.ws_echo(32, 1)
    counts = [1000, 5000]

    def setup_cache(self) -> dict:
        return self.measure()


class Broadcast(Comparison):
    """One 32 B text message from one publisher to every subscriber, one in flight.
    Tracked: time per broadcast (until all subscribers have verified it) and the p99 of
    single deliveries."""

    params = [FRAMEWORKS, [100, 1000]]
    param_names = ["framework", "subscribers"]
    grid = {(n,): workloads.ws_broadcast(n) for n in (100, 1000)}
    # Not SHORT_RUN's 0.25 s: a window counts whole broadcasts, and Tornado completes ~8 to a
    # thousand subscribers in 0.25 s, so one more or less would move its figure by an eighth
    # (a tenth in these, its windows before SHORT_RUN shrank).
    rounds = Rounds(rounds=3, window_s=0.3, warmup_s=0.1)

    def workloads(self) -> dict[tuple, Workload]:
        # A smoke run (asv --quick) fans out to a tenth of the subscribers, as the memory
        # experiment opens a fraction of its connections: twelve frameworks' 1,100 each took
        # 15 s of its 5 minutes.
        if not quick():
            return self.grid
        return {(n,): workloads.ws_broadcast(n // 10) for (n,) in self.grid}

    def setup_cache(self) -> dict:
        return self.measure()


class LargeMessages(EchoComparison):
    """1 MiB binary messages echoed on one connection, whole or sent as 1 KiB fragments
    (Tornado 6.3 removed a quadratic path in reassembling fragments)."""

    params = [FRAMEWORKS, ["whole", "1KiB_fragments"]]
    param_names = ["framework", "sent_as"]
    grid = {
        ("whole",): workloads.ws_echo(1024 * 1024, 1, binary=True),
        ("1KiB_fragments",): workloads.ws_echo_fragmented(1024 * 1024, 1024, 1),
    }
    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class Compression(EchoComparison):
    """Echo of a 1 KiB JSON text document on 100 connections, permessage-deflate off and on.
    The generator (picows) has no deflate of its own: it compresses with zlib as the
    websockets client does (memLevel 5, offering client_max_window_bits), so no framework
    under test is in the client; the baseline compresses with zlib too, for the ceiling."""

    params = [FRAMEWORKS, ["off", "on"]]
    param_names = ["framework", "deflate"]
    grid = {(c,): workloads.ws_echo_json(1024, 100, c) for c in ("off", "on")}
    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class MemoryPerConnectionDeflate(MemoryComparison):
    """Server RSS growth per connection with permessage-deflate negotiated and one 1 KiB
    JSON message echoed on each (compression contexts are per connection)."""

    workload = workloads.ws_echo_json(1024, 1, "on")
    counts = [1000]

    def setup_cache(self) -> dict:
        return self.measure()


class ArticleWorkload(Comparison):
    """The article's WebSocket benchmark, faithfully: 1,000 connections x 100 "Hello", at
    most 100 open at a time, set-up and close inside the timing, deflate as each library's
    defaults answer the websockets client's offer (aiohttp and websockets accept, Tornado
    and the baseline decline). Tracked: time per message; readers: messages/s."""

    workload = workloads.ws_article(total_connections=1000, messages=100, concurrency=100)
    # The window is only a bound: the job is fixed, ~5 s a framework (100,000 messages
    # through 1,000 connections, itself an average over them). One job a framework: twelve
    # frameworks' second job cost a minute of the default run's 30, which the workers family
    # (bench_workers) took.
    rounds = Rounds(rounds=1, window_s=120.0)

    def workloads(self) -> dict[tuple, Workload]:
        # A smoke run (asv --quick) proves the job's wiring on a hundredth of it: the whole
        # job took a minute of the 9.5 the quick pass took before, with twelve frameworks.
        return {(): workloads.ws_article(total_connections=100, messages=10) if quick() else self.workload}

    def setup_cache(self) -> dict:
        return self.measure()
