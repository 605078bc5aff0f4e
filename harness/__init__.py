"""The measuring harness, laid out by process role; benchmarks/ only declares workloads.

- The catalogue and the records: ``workloads`` (what to measure, every axis), ``loadspec``
  (what the measuring process and a generator say to each other), ``outcomes`` (what a
  measurement returns: a result, a skip with its reason, or a failure with its cause).
- The measuring process: ``process`` (server processes), ``generator`` (the generators'
  parent side), ``compare`` (interleaved comparisons), ``experiments/`` (open loop, memory,
  cache paths, clients), ``redis_server``, ``stats``.
- The generator process: ``loadgen/`` (command loop, window, open loop, WebSocket and HTTP
  clients, reply checks apart from I/O, payloads), importing no framework under test.
- Reading results: ``report/`` (one reader of asv's results; the page, SVG, terminal
  summary, regression check, asv's web assets).
- Commands: ``python -m harness`` (one comparison as a table), ``harness.site``,
  ``harness.regressions``, ``harness.stability``, ``harness.agreement`` (with ``wrk`` and
  ``node/``), ``harness.asv_run`` (the scripts' asv runs, judged).
"""
