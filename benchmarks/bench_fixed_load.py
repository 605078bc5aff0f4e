"""The cost to serve a fixed load (harness.experiments.fixed_load): WebSocket echo and
GET /json offered to every framework at the same rates, open loop, latency from intended
send times. Loads: 25 %, 50 % and 80 % of the slowest framework's capacity in the same
run (they follow the host's speed, as that capacity does; the results' setup records the
rates) and one absolute rate, the series to follow across commits and releases.

Every tracked value grows when serving the load gets worse: CPU per operation, memory,
latency. Together: about 2 minutes of a default run for twelve frameworks on two cores.
"""

import servers
from harness import workloads
from harness.experiments.fixed_load import SHARES_OF_SLOWEST, fixed_load
from harness.outcomes import Measurement

from .common import Experiment, tracked

ECHO_RATE = 5000  # messages/s: a quarter of what the slowest framework echoes here
GET_RATE = 1000  # requests/s: a third of what Tornado, the slowest, serves here


class FixedLoad(Experiment):
    """One workload at the shared offered rates; the load param names the rate."""

    param_names = ["framework", "load"]

    def key(self, framework: str, load: str) -> tuple[str, str]:
        return framework, load

    @tracked("% of capacity")
    def track_share_of_capacity(self, measured: Measurement, framework: str, load: str) -> float:
        """The offered rate as a share of what this server served closed loop in the same run:
        how near saturation this load puts it (the page derives the offered rates from it)."""
        return self.result(measured, framework, load).share_of_capacity * 100

    @tracked("ms")
    def track_server_cpu_per_1000_ops(self, measured: Measurement, framework: str, load: str) -> float:
        """Server CPU milliseconds spent per 1,000 operations served at this rate."""
        return self.result(measured, framework, load).server_cpu_ms_per_1000_ops

    @tracked("bytes")
    def track_rss(self, measured: Measurement, framework: str, load: str) -> float:
        """The server's resident memory at the window's end, connections open."""
        return self.result(measured, framework, load).rss_bytes

    @tracked("bytes")
    def track_peak_rss(self, measured: Measurement, framework: str, load: str) -> float:
        """The server's highest resident memory during the window."""
        return self.result(measured, framework, load).peak_rss_bytes

    @tracked("seconds")
    def track_latency_p50(self, measured: Measurement, framework: str, load: str) -> float:
        """Median latency from each operation's intended send time."""
        return self.result(measured, framework, load).latency_p50_s

    @tracked("seconds")
    def track_latency_p90(self, measured: Measurement, framework: str, load: str) -> float:
        return self.result(measured, framework, load).latency_p90_s

    @tracked("seconds")
    def track_latency_p99(self, measured: Measurement, framework: str, load: str) -> float:
        return self.result(measured, framework, load).latency_p99_s

    @tracked("seconds")
    def track_latency_p999(self, measured: Measurement, framework: str, load: str) -> float:
        return self.result(measured, framework, load).latency_p999_s


class FixedLoadEcho(FixedLoad):
    """WebSocket echo of 32 B text on 100 open connections (the headline's), open loop."""

    params = [list(servers.FRAMEWORKS), [*SHARES_OF_SLOWEST, f"{ECHO_RATE}/s"]]

    def setup_cache(self) -> Measurement:
        return fixed_load(workloads.headline_ws_echo(), ECHO_RATE)


class FixedLoadGetJson(FixedLoad):
    """GET /json on 64 keep-alive connections (the headline's), open loop."""

    params = [["baseline", *servers.HTTP_FRAMEWORKS], [*SHARES_OF_SLOWEST, f"{GET_RATE}/s"]]

    def setup_cache(self) -> Measurement:
        return fixed_load(workloads.headline_get_json(), GET_RATE)
