"""TLS: the headline WebSocket echo, the handshake workload and the headline GET /json, each
measured plain and over TLS in the same run, every server in its framework's own TLS
configuration (``python -m servers <framework> --tls-cert FILE --tls-key FILE``).

Each class's measurement makes its own certificate (harness.compare.run_certificate: in a
temporary folder, never the checkout, for the address the servers bind, and deleted when the
measurement ends). Servers present it; the generators (picows for WebSocket, the HTTP
generator on uvloop's TLS) get it in their spec and verify every server against it as a
client does, so a server presenting any other certificate fails its figure. Each figure's
summary says what its connections negotiated (Summary.tls, e.g. "TLSv1.3
TLS_AES_256_GCM_SHA384").

- ``EchoTLS``: 32 B text echoed on 100 open connections (the headline); TLS adds a record
  encrypted and decrypted each way to every message.
- ``HandshakesTLS``: connections opened and closed cleanly, 10 at a time; over TLS each
  operation is TCP connect, a full TLS handshake (never a resumed session), the WebSocket
  upgrade and the close handshake.
- ``GetJsonTLS``: GET /json on 64 keep-alive connections (the headline; HTTP frameworks only,
  the others n/a); TLS adds a record encrypted and decrypted each way to every request.

``track_tls_time_ratio`` is the cost of TLS for one framework: its time per op over TLS over
its time per op plain (n/a on the plain row); it grows when TLS gets costlier. A class's plain
and TLS workloads are measured in the same rounds (``together``, harness.compare.
compare_together): each round measures every framework plain and over TLS, so the ratio holds
no more of the host's drift than the ratio of two frameworks does.

Over TLS the handshake figures are the generator's more than the server's on a 2-vCPU host:
the client's side of a full handshake (ECDHE, verifying the server's ECDSA P-256 signature and
certificate) cost the generator ~1.5-2.5 ms of CPU on OpenSSL 3.0, more than most servers'
side, and the servers stayed at ~40 % of their core; read server_cpu, and give the generators
CPUs of their own (BENCH_TOPOLOGY, harness/topology.py) to see the servers' cost.

In a run of scripts/bench.sh, EchoTLS and GetJsonTLS measure bench_workers' two workers in
their rounds too, since their plain half is its one worker (``measures_together_with``,
harness/shared.py): bench_workers then reads its figures, a same-round ratio as before.

Cost: the three classes' measurements (their setup_caches) took 108 s with twelve frameworks
on a 2-vCPU machine, in SHORT_RUN's rounds: EchoTLS 42 s, HandshakesTLS 36 s, GetJsonTLS 30 s.
The quick pass (BENCH_QUICK) measures them in 34 s, most of it servers and generators starting.
"""

import math

import servers
from harness import workloads
from harness.outcomes import Measurement
from harness.workloads import Workload

from . import bench_workers
from .common import SHORT_RUN, Comparison, EchoComparison, require, tracked

FRAMEWORKS = list(servers.FRAMEWORKS)
TRANSPORTS = ["plain", "tls"]


def plain_and_tls(workload: Workload) -> dict[tuple, Workload]:
    return {("plain",): workload, ("tls",): workloads.with_tls(workload)}


class _CostOfTls:
    """The tracked cost of TLS, read from a class's plain and TLS rows of one framework."""

    @tracked("x plain")
    def track_tls_time_ratio(self, comparison: dict, framework: str, transport: str) -> float:
        """Time per op over TLS / time per op plain, this framework, same run (n/a on the plain row)."""
        if transport == "plain":
            return math.nan  # asv's n/a: the cost of TLS is tracked on the tls row (raising here fails it)
        plain = self.result(comparison, framework, "plain")
        require(plain, framework)
        return self.result(comparison, framework, "tls")["seconds_per_op"] / plain["seconds_per_op"]


class EchoTLS(_CostOfTls, EchoComparison):
    """The headline echo (32 B text, 100 open connections), plain and over TLS."""

    params = [FRAMEWORKS, TRANSPORTS]
    param_names = ["framework", "transport"]
    grid = plain_and_tls(workloads.headline_ws_echo())
    rounds = SHORT_RUN
    together = True
    measures_together_with = bench_workers.EchoWorkers  # its one worker is the plain half

    def setup_cache(self) -> dict[tuple, Measurement]:
        return self.measure()


class HandshakesTLS(_CostOfTls, Comparison):
    """WebSocket connections opened and cleanly closed, 10 at a time (as
    bench_websocket.Handshakes), plain and over TLS: each TLS operation is TCP connect, a full
    TLS handshake, the upgrade and the close handshake."""

    params = [FRAMEWORKS, TRANSPORTS]
    param_names = ["framework", "transport"]
    grid = plain_and_tls(workloads.ws_handshake(10))
    rounds = SHORT_RUN
    together = True

    def setup_cache(self) -> dict[tuple, Measurement]:
        return self.measure()


class GetJsonTLS(_CostOfTls, Comparison):
    """The headline GET /json (64 keep-alive connections), plain and over TLS."""

    params = [FRAMEWORKS, TRANSPORTS]
    param_names = ["framework", "transport"]
    grid = plain_and_tls(workloads.headline_get_json())
    rounds = SHORT_RUN
    together = True
    measures_together_with = bench_workers.GetJsonWorkers  # its one worker is the plain half

    def setup_cache(self) -> dict[tuple, Measurement]:
        return self.measure()
