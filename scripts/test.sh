#!/usr/bin/env bash
# The test command (README.md; .ci/run calls exactly this): setup, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The CI workflow (README, 'Bigger than one machine'), with shellcheck on its steps' scripts.
.venv/bin/actionlint .github/workflows/*.yml
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
