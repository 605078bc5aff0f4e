"""WebSocket workloads."""

from harness import measure

from .common import Comparison


class EchoText32B(Comparison):
    """Echo of 32-byte text messages on 100 open connections, one in flight on each."""

    workload = measure.ws_echo(size=32, connections=100)

    def setup_cache(self) -> dict:
        return self.measure()
