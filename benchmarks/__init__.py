"""The asv benchmarks: one module per workload family, each class a grid of workloads (common.py)."""

import sys
from pathlib import Path

# asv installs the suite into each environment; `asv run --python=same` does not, so fall
# back to the checkout this folder belongs to.
try:
    import harness  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import servers  # noqa: E402  (after the fallback above)

# BENCH_FRAMEWORKS chooses the frameworks a run measures (README.md, "Choosing frameworks"); a
# name that is not registered stops asv's discovery here, naming it, before anything runs.
servers.selection()
