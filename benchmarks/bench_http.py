"""HTTP and JSON workloads."""

from harness import measure
from servers import contract

from .common import Comparison


class GetJson(Comparison):
    """GET of the small JSON document on 64 keep-alive connections (TechEmpower's json)."""

    workload = measure.http_get(contract.JSON, connections=64)

    def setup_cache(self) -> dict:
        return self.measure()
