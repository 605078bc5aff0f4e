"""The load generator: a process of its own, pinned away from the server, that depends on
no framework under test (picows for WebSocket, a bare asyncio Protocol for HTTP, both on
uvloop), so a new aiohttp release cannot move Tornado's figures.

Run as ``python -m harness.loadgen - [cpu]`` with the spec (a harness.loadspec record as
JSON) as the first line of stdin, as the harness starts it, here or over SSH on another host
(harness/topology.py); ``'<spec>'`` or ``@<file>`` in place of ``-`` for a run by hand. It
pins itself to ``cpu`` once its imports are done, connects, warms up, prints a Ready line,
then answers each ``go <seconds>`` line on stdin with one WindowResult line, or each
``burst`` line with one for a burst (every connection sends one request at the same moment;
the record once all have answered), until ``quit``; when stdin ends it exits at once, in
the middle of a window too, for nobody is left to answer. Closed loop: every connection keeps
exactly one request in flight. HTTP and WebSocket echo also run open loop: ``go <seconds>
<rate>`` sends at fixed intended times (openloop.Schedule) on whichever connection is free,
and times each reply from its intended send time, so a slow server cannot slow the sender
down and hide its own latency (no coordinated omission). Every reply is verified
(verify.py); only verified replies count, and any error ends the process with an error line.

Modules: ``__main__`` (the command loop and the registry of kinds), ``window`` (counters
and the closed-loop window), ``openloop`` (the schedule and the open-loop window),
``websocket`` and ``http`` (the protocol clients), ``tls_client`` (over TLS: the server
verified against the run's certificate, which the spec carries), ``verify`` (reply checks,
no I/O), ``payloads`` and ``deflate``. Importing this package imports none of them, so the measuring
process can use harness.loadspec without picows.
"""
