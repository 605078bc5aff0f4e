"""The headline workloads on several server processes: each framework in its own documented
multi-process mode (servers.Framework.workers_mode: Tornado's fork_processes, uvicorn's
supervisor under the ASGI frameworks, Sanic's and granian's workers, aiohttp and websockets
as SO_REUSEPORT processes), the suite's CPU plan giving the server one CPU per worker and the
generators the rest (harness.topology.Plan).

A scaling figure needs more CPUs than workers: each worker's own, and the generators' beside
them. On a host with fewer (two CPUs here: one for the server, one for the generator), the
workers share the server's CPUs and the figure is the cost of running several processes,
not their scaling; ``track_workers_per_cpu`` records how many shared each CPU, and the page
and the summary mark such figures, and those whose generator ran out of CPU, rather than
draw them as a scaling curve. The remote topology (BENCH_TOPOLOGY, harness/topology.py)
gives the server a host of its own and the generators others.

Workers=1 is measured in the same rounds as the others (``together``, harness.compare.
compare_together), so that scaling is a same-round ratio: one after the other, seconds apart,
it held the host's drift between them. In a run of scripts/bench.sh both are measured in
bench_tls's rounds, where one worker is the plain half (EchoTLS and GetJsonTLS's
``measures_together_with``, harness/shared.py), and read here: the same ratio, without taking
one worker's figure twice. Cost: about a minute of the default run on two cores before that,
~30 s less since; a bigger host can add worker counts to WORKERS.
"""

import dataclasses

import servers
from harness import workloads
from harness.outcomes import Measurement

from .common import SHORT_RUN, Comparison, EchoComparison, tracked

WORKERS = [1, 2]


def with_workers(workload: workloads.Workload, count: int) -> workloads.Workload:
    return dataclasses.replace(workload, workers=count)


class _WorkersPerCpu:
    """The number of workers that shared each of the server's CPUs: 1 when every worker had
    a CPU of its own; above 1 the figures are not the scaling they name."""

    @tracked("workers per CPU")
    def track_workers_per_cpu(self, comparison: dict, framework: str, workers: int) -> float:
        """Workers per CPU the server was pinned to (grows when the workers crowd)."""
        setup = comparison[(workers,)].setup
        return workers / max(1, len(setup.get("server_cpus") or [setup.get("server_cpu")]))


class EchoWorkers(_WorkersPerCpu, EchoComparison):
    """The headline echo (32 B text, 100 connections) on 1 and 2 server processes."""

    params = [list(servers.FRAMEWORKS), WORKERS]
    param_names = ["framework", "workers"]
    grid = {(w,): with_workers(workloads.headline_ws_echo(), w) for w in WORKERS}
    rounds = SHORT_RUN
    together = True

    def setup_cache(self) -> dict[tuple, Measurement]:
        return self.measure()


class GetJsonWorkers(_WorkersPerCpu, Comparison):
    """The headline GET /json (64 connections) on 1 and 2 server processes."""

    params = [["baseline", *servers.HTTP_FRAMEWORKS], WORKERS]
    param_names = ["framework", "workers"]
    grid = {(w,): with_workers(workloads.headline_get_json(), w) for w in WORKERS}
    rounds = SHORT_RUN
    together = True

    def setup_cache(self) -> dict[tuple, Measurement]:
        return self.measure()
