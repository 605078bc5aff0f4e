"""The measuring harness: server processes, load generators and statistics, in one place.

benchmarks/ only declares workloads; everything that starts, stops, loads or counts lives here.
"""
