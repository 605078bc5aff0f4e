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
from harness.process import follow_parent  # noqa: E402

# asv's forkserver (launch_method in asv.conf.json) imports the suite once and forks every
# benchmark from itself: it must die with asv, as each measuring process dies with it in turn.
if "run_server" in sys.argv:
    follow_parent()

# BENCH_FRAMEWORKS chooses the frameworks a run measures (README.md, "Choosing frameworks"); a
# name that is not registered stops asv's discovery here, naming it, before anything runs.
servers.selection()
