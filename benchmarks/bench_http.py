"""HTTP and JSON workloads (aiohttp and Tornado; the websockets library has no HTTP server).

Closed-loop classes follow common.Comparison: one interleaved measurement per workload in
setup_cache, one tracked value per framework, the variations as params. Runs are short
(SHORT_RUN) so the whole family fits its budget in the default run; iqr_pct in the results
says how well that held.
"""

import itertools
from collections.abc import Callable

import servers
from harness import workloads
from harness.compare import Contender, Rounds
from harness.experiments import clients
from harness.workloads import Workload
from servers import contract

from .bench_cost import flamegraphs_before_rounds
from .common import HEADLINE_RUN, SHORT_RUN, Comparison, Experiment, headline_rounds, tracked

FRAMEWORKS = list(servers.FRAMEWORKS)
ECHO_CONNECTIONS = 16
DOCUMENTS = ["1KB", "31KB", "1MB"]
# The 1 MB document, parsed and written back in 60-90 ms (stdlib) or 9-12 ms (orjson): two
# in flight saturate every server here (98-101 % CPU, as 16 did), and windows of 1 s (stdlib)
# count 11-17 of them. With 16 connections and the other cells' 0.3 s windows, a window held
# 3-5 stdlib requests (±25 % by counting alone) and 16 MB was drained after each: for four
# frameworks, 27.2 s (stdlib) and 10.7 s (orjson), against 17.9 s and 7.9 s now.
LARGE_DOCUMENT_CONNECTIONS = 2
LARGE_DOCUMENT_RUN = {"stdlib": Rounds(rounds=3, window_s=1.0, warmup_s=0.2), "orjson": SHORT_RUN}


# GET: TechEmpower's plaintext and json, one request in flight per connection.
class GetPlaintext(Comparison):
    """GET /plaintext on 1 (latency-bound), 64 and 256 keep-alive connections."""

    params = [FRAMEWORKS, [1, 64, 256]]
    param_names = ["framework", "connections"]
    grid = {(c,): workloads.http_get(contract.PLAINTEXT, c) for c in (1, 64, 256)}

    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class GetJson(Comparison):
    """The headline (benchmarks/headline.txt): GET of the small JSON document on 64
    keep-alive connections (TechEmpower's json), in the headline's longer run (HEADLINE_RUN)."""

    workload = workloads.headline_get_json()
    rounds = HEADLINE_RUN

    def rounds_for(self, key: tuple) -> Rounds:
        return headline_rounds()  # shorter on the other interpreters (common.OTHER_INTERPRETER_RUN)

    def before_rounds(self, workload: Workload) -> Callable[[Contender], None] | None:
        return flamegraphs_before_rounds(workload)  # each server's, on its warmed-up connections

    def setup_cache(self) -> dict:
        return self.measure()


class GetJsonConnections(Comparison):
    """GET /json on 1 connection (latency-bound) and on 256; 64 is the headline."""

    params = [FRAMEWORKS, [1, 256]]
    param_names = ["framework", "connections"]
    grid = {(c,): workloads.http_get(contract.JSON, c) for c in (1, 256)}

    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class GetJsonAllocator(Comparison):
    """The headline GET /json with the servers on the suite's tuned allocator settings and
    on glibc's defaults (see bench_websocket.EchoAllocator). Without the tuning a server's
    rate depends on its heap's history, so read the glibc figure's spread."""

    params = [FRAMEWORKS, list(workloads.ALLOCATORS)]
    param_names = ["framework", "allocator"]
    grid = {(a,): workloads.http_get(contract.JSON, 64, allocator=a) for a in workloads.ALLOCATORS}

    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class PostJsonEcho(Comparison):
    """POST /json/echo: the server parses the document and serializes it back with the
    codec it was started with (31KB is the article's document, 1,000 float keys); the
    generator compares the reply with that codec's exact bytes. 16 connections; 2 for the
    1 MB document, in longer windows with the stdlib (LARGE_DOCUMENT_RUN)."""

    params = [FRAMEWORKS, DOCUMENTS, list(workloads.CODECS)]
    param_names = ["framework", "document", "codec"]

    def workloads(self) -> dict[tuple, Workload]:
        # Made when measured, not at import: asv imports this module again in the process of
        # every sample, and encoding the 1 MB documents twice each time would add up.
        return {
            (document, codec): workloads.http_post_json(
                document, LARGE_DOCUMENT_CONNECTIONS if document == "1MB" else ECHO_CONNECTIONS, json_codec=codec
            )
            for document, codec in itertools.product(DOCUMENTS, workloads.CODECS)
        }

    def rounds_for(self, key: tuple) -> Rounds:
        document, codec = key
        return LARGE_DOCUMENT_RUN[codec] if document == "1MB" else self.rounds

    rounds = SHORT_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class HttpClients(Experiment):
    """The client is the workload: aiohttp.ClientSession vs Tornado's AsyncHTTPClient
    against the baseline server, sequential (c1) and 32 concurrent, small and 31 KB."""

    params = [list(clients.CLIENTS), ["small_c1", "small_c32", "31KB_c1", "31KB_c32"]]
    param_names = ["client", "case"]

    def setup_cache(self):
        return clients.compare_clients()

    def key(self, client: str, case: str) -> tuple[str, str]:
        return case, client

    @tracked("seconds")
    def track_time_per_request(self, measured, client: str, case: str) -> float:
        """Median over rounds of wall time per verified request."""
        return self.result(measured, client, case).seconds_per_request


class ArticleJsonRoundTrip(Experiment):
    """The article's JSON test: sequential POSTs of its 31 KB document, aiohttp's client
    serializing and parsing (3 x 200 requests: 6% of its 10,000). Results carry the
    extrapolation to 10,000 beside the article's own seconds."""

    params = [["baseline", "aiohttp", "tornado"]]
    param_names = ["framework"]

    def setup_cache(self):
        return clients.article_json(rounds=3, requests=200)

    @tracked("seconds")
    def track_time_per_request(self, measured, framework: str) -> float:
        return self.result(measured, framework).times.seconds_per_request
