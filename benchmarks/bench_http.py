"""HTTP and JSON workloads (aiohttp and Tornado; the websockets library has no HTTP server).

Closed-loop classes follow common.Comparison: one interleaved measurement per class in
setup_cache, one tracked value per framework. Runs are kept short (HTTP_RUN) so the whole
family fits its budget in the default run; spread_pct in the results says how well that held.
"""

import servers
from harness import clients, measure
from servers import contract

from .common import HEADLINE_RUN, Comparison, require

HTTP_RUN = {"rounds": 3, "window_s": 0.5, "warmup_s": 0.3}
ECHO_CONNECTIONS = 16


# GET: TechEmpower's plaintext and json, one request in flight per connection.
class GetPlaintextC1(Comparison):
    """GET /plaintext on one connection: latency-bound."""

    workload = measure.http_get(contract.PLAINTEXT, connections=1)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class GetPlaintextC64(Comparison):
    workload = measure.http_get(contract.PLAINTEXT, connections=64)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class GetPlaintextC256(Comparison):
    workload = measure.http_get(contract.PLAINTEXT, connections=256)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class GetJsonC1(Comparison):
    """GET /json (the small document) on one connection: latency-bound."""

    workload = measure.http_get(contract.JSON, connections=1)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class GetJson(Comparison):
    """The headline (benchmarks/headline.txt): GET of the small JSON document on 64
    keep-alive connections (TechEmpower's json), in the headline's longer run (HEADLINE_RUN)."""

    workload = measure.http_get(contract.JSON, connections=64)
    options = HEADLINE_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class GetJsonGlibcDefaults(Comparison):
    """The headline GET /json with the servers on glibc's default allocator settings (see
    EchoText32BGlibcDefaults). Without the tuning a server's rate depends on its heap's
    history, so read this one's spread."""

    workload = measure.http_get(contract.JSON, connections=64)
    options = dict(HTTP_RUN, server_env={})

    def setup_cache(self) -> dict:
        return self.measure()


class GetJsonC256(Comparison):
    workload = measure.http_get(contract.JSON, connections=256)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


# POST /json/echo: the server parses the document and serializes it back with the codec it
# was started with; the generator compares the reply with that codec's exact bytes.
class PostJsonEcho1KB(Comparison):
    workload = measure.http_post_json("1KB", connections=ECHO_CONNECTIONS)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class PostJsonEcho1KBOrjson(Comparison):
    workload = measure.http_post_json("1KB", connections=ECHO_CONNECTIONS)
    options = dict(HTTP_RUN, json_codec="orjson")

    def setup_cache(self) -> dict:
        return self.measure()


class PostJsonEcho31KB(Comparison):
    """The article's document (1,000 float keys), stdlib json on the server."""

    workload = measure.http_post_json("31KB", connections=ECHO_CONNECTIONS)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class PostJsonEcho31KBOrjson(Comparison):
    workload = measure.http_post_json("31KB", connections=ECHO_CONNECTIONS)
    options = dict(HTTP_RUN, json_codec="orjson")

    def setup_cache(self) -> dict:
        return self.measure()


class PostJsonEcho1MB(Comparison):
    workload = measure.http_post_json("1MB", connections=ECHO_CONNECTIONS)
    options = HTTP_RUN

    def setup_cache(self) -> dict:
        return self.measure()


class PostJsonEcho1MBOrjson(Comparison):
    workload = measure.http_post_json("1MB", connections=ECHO_CONNECTIONS)
    options = dict(HTTP_RUN, json_codec="orjson")

    def setup_cache(self) -> dict:
        return self.measure()


class OpenLoopLatency:
    """GET /json sent open loop at a fixed share of the capacity the same server showed
    closed loop in the same run; latency from each request's intended send time.
    The baseline's row is the generator's own floor (schedule_lag_p99_s in the results)."""

    params = [["baseline", *servers.HTTP_FRAMEWORKS], ["0.5", "0.8"]]
    param_names = ["framework", "load"]
    timeout = 900

    def setup_cache(self) -> dict:
        return measure.open_loop(fractions=(0.5, 0.8))

    def setup(self, result: dict, framework: str, load: str) -> None:
        require(result["results"][framework], framework)

    def track_latency_p50(self, result: dict, framework: str, load: str) -> float:
        return result["results"][framework]["at"][load]["latency_p50_s"]

    track_latency_p50.unit = "seconds"

    def track_latency_p99(self, result: dict, framework: str, load: str) -> float:
        return result["results"][framework]["at"][load]["latency_p99_s"]

    track_latency_p99.unit = "seconds"

    def track_latency_p999(self, result: dict, framework: str, load: str) -> float:
        return result["results"][framework]["at"][load]["latency_p999_s"]

    track_latency_p999.unit = "seconds"


class HttpClients:
    """The client is the workload: aiohttp.ClientSession vs Tornado's AsyncHTTPClient
    against the baseline server, sequential (c1) and 32 concurrent, small and 31 KB."""

    params = [list(clients.CLIENTS), ["small_c1", "small_c32", "31KB_c1", "31KB_c32"]]
    param_names = ["client", "case"]
    timeout = 900

    def setup_cache(self) -> dict:
        return clients.compare_clients()

    def setup(self, result: dict, client: str, case: str) -> None:
        require(result["results"][case][client], f"the {client} client")

    def track_time_per_request(self, result: dict, client: str, case: str) -> float:
        """Median over rounds of wall time per verified request."""
        return result["results"][case][client]["seconds_per_request"]

    track_time_per_request.unit = "seconds"


class ArticleJsonRoundTrip:
    """The article's JSON test: sequential POSTs of its 31 KB document, aiohttp's client
    serializing and parsing (3 x 200 requests: 6% of its 10,000). Results carry the
    extrapolation to 10,000 beside the article's own seconds."""

    params = [["baseline", "aiohttp", "tornado"]]
    param_names = ["framework"]
    timeout = 900

    def setup_cache(self) -> dict:
        return clients.article_json(rounds=3, requests=200)

    def setup(self, result: dict, framework: str) -> None:
        require(result["results"][framework], framework)

    def track_time_per_request(self, result: dict, framework: str) -> float:
        return result["results"][framework]["seconds_per_request"]

    track_time_per_request.unit = "seconds"
