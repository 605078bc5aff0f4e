#!/usr/bin/env bash
# The release history (README.md): the headline benchmarks (benchmarks/headline.txt) in one
# asv environment per framework release (asv.releases.json), then the site. Extra
# arguments go to asv run (default: the current commit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
asv=(.venv/bin/asv)
[ -f ~/.asv-machine.json ] || "${asv[@]}" machine --yes
headline=$(paste -sd'|' benchmarks/headline.txt)
"${asv[@]}" run --config asv.releases.json --show-stderr --skip-existing-successful \
    --bench "^(${headline//./\\.})\." "${@:-HEAD^!}" || echo "releases: some environments or benchmarks failed (see above)"
"${asv[@]}" publish
.venv/bin/python -m harness.site
echo
echo "Site written to $(pwd)/html/index.html - serve it with: .venv/bin/asv preview"
