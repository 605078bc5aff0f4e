"""Caching workloads (servers/contract.py, "Caching"): the article's two in-process caches,
cached vs uncached, the stampede, HTTP caching with ETag/304, and a shared Redis cache.

The backend behind every cache costs an awaited 20 ms (contract.DEFAULT_BACKEND_MS). The
steady workloads run with a one-hour TTL so that every request in a window is a hit; the
TTL's expiry itself is proven by tests/test_cache.py, the miss path and the stampede are
measured by harness.experiments.cache_paths with the cache emptied on purpose.
"""

import servers
from harness import workloads
from harness.experiments.cache_paths import LONG_TTL_ARGS, cache_paths
from harness.redis_server import compare_with_redis
from servers import contract

from .common import Comparison, Experiment, tracked

CONNECTIONS = 64


class CacheHitMemory(Comparison):
    """The article's in-process caches, every request a hit: aiocache's memory cache with
    the JSON serializer on aiohttp, the class-level dict on Tornado. GET /cache/memory on
    64 keep-alive connections."""

    workload = workloads.http_get(contract.CACHE_MEMORY, CONNECTIONS, server_args=LONG_TTL_ARGS)

    def setup_cache(self) -> dict:
        return self.measure()


class Uncached(Comparison):
    """The same document with no cache: every request awaits the 20 ms backend. On 64
    connections that bounds a server at 3200 req/s; CacheHitMemory's req/s over this one's
    is the throughput the cache buys."""

    workload = workloads.http_get(contract.CACHE_NONE, CONNECTIONS)

    def setup_cache(self) -> dict:
        return self.measure()


class CacheHitRedis(Comparison):
    """A shared cache, every request a hit: aiocache's Redis backend on aiohttp, redis-py's
    asyncio client on Tornado, against a real redis-server started for this measurement
    (n/a where redis-server is not installed)."""

    workload = workloads.http_get(contract.CACHE_REDIS, CONNECTIONS, server_args=LONG_TTL_ARGS)

    def setup_cache(self) -> dict:
        return self.measure()

    def measure(self) -> dict:
        return {(): compare_with_redis(self.workload, rounds=self.rounds)}


class EtagComparison(Comparison):
    """Adds the bytes on the wire, which is what a conditional GET saves."""

    @tracked("bytes")
    def track_response_bytes(self, comparison: dict, framework: str) -> float:
        """Bytes on the wire per response, head and body: 200-with-body minus 304 is the
        saving a conditional GET buys."""
        return self.result(comparison, framework)["response_bytes"]


class EtagFull(EtagComparison):
    """HTTP caching, a client without the document: GET /cache/etag answered 200 with the
    body and its ETag (Tornado's built-in, aiohttp's set by the handler)."""

    workload = workloads.http_get(contract.CACHE_ETAG, CONNECTIONS, server_args=LONG_TTL_ARGS)

    def setup_cache(self) -> dict:
        return self.measure()


class EtagNotModified(EtagComparison):
    """HTTP caching, a client holding the current version: every GET /cache/etag carries
    If-None-Match and must be answered 304 with no body."""

    workload = workloads.http_get(contract.CACHE_ETAG, CONNECTIONS, if_none_match=True, server_args=LONG_TTL_ARGS)

    def setup_cache(self) -> dict:
        return self.measure()


class CachePaths(Experiment):
    """One request at a time on the hit, miss and uncached paths, and a stampede of 100
    requests at once on an emptied cache (harness.experiments.cache_paths). No baseline: it
    has no cache."""

    params = [list(servers.FRAMEWORKS_UNDER_TEST)]
    param_names = ["framework"]

    def setup_cache(self):
        return cache_paths(list(servers.FRAMEWORKS_UNDER_TEST))

    @tracked("seconds")
    def track_hit_latency(self, paths, framework: str) -> float:
        """Median latency of a lone request answered from the cache."""
        return self.result(paths, framework).hit_latency_s

    @tracked("seconds")
    def track_miss_latency(self, paths, framework: str) -> float:
        """Median latency of a lone request on an empty cache: backend, store, answer."""
        return self.result(paths, framework).miss_latency_s

    @tracked("seconds")
    def track_uncached_latency(self, paths, framework: str) -> float:
        """Median latency of a lone request without a cache."""
        return self.result(paths, framework).uncached_latency_s

    @tracked("calls")
    def track_stampede_backend_calls(self, paths, framework: str) -> float:
        """How many times the backend ran for 100 simultaneous requests on an empty cache
        (median of 5 bursts): 1 would be a cache that coalesces, 100 none at all."""
        return self.result(paths, framework).stampede.backend_calls

    @tracked("seconds")
    def track_stampede_burst(self, paths, framework: str) -> float:
        """Time from sending the 100 stampede requests to the last reply (median of 5)."""
        return self.result(paths, framework).stampede.burst_s
