"""The asv benchmarks: one module per workload family, each class a grid of workloads (common.py)."""

import sys
from pathlib import Path

# asv installs the suite into each environment; `asv run --python=same` does not, so fall
# back to the checkout this folder belongs to.
try:
    import harness  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
