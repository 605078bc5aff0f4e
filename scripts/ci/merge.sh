#!/usr/bin/env bash
# The last job of .github/workflows/releases.yml: every release job's results (ARTIFACTS: one
# folder per job, each holding results/ and profiles/) merged over the previously published
# ones (PREVIOUS: their results.tar.gz, if any), the site published from all of them (asv's
# several-machines support: a machine per line), the raw results packed beside the site for
# the next run, then harness.regressions for every environment against its previous results.
# Exit status: harness.ci regressions' (1 when something regressed), after the site is built.
# Environment: BENCH_SKIP_SETUP, BENCH_ASV_CONFIG (default asv.releases.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
artifacts=${1:?usage: scripts/ci/merge.sh ARTIFACTS [PREVIOUS.tar.gz]}
previous=${2:-}
config=${BENCH_ASV_CONFIG:-asv.releases.json}
[ "${BENCH_SKIP_SETUP:-}" = 1 ] || scripts/setup.sh
dirs_lines=$(.venv/bin/python -m harness.asv_run dirs --config "$config")
mapfile -t dirs <<<"$dirs_lines"
results=${dirs[0]} html=${dirs[1]}
profiles=$(dirname "$results")/profiles # the cost family's, beside the results (harness/cost/records.py)
mkdir -p "$results" "$profiles"
if [ -n "$previous" ] && [ -s "$previous" ]; then
    tar -xzf "$previous" -C "$(dirname "$results")"
    echo "merge: previous results from $previous"
else
    echo "merge: no previous results (a first run): nothing to compare with"
fi
jobs=0
for job in "$artifacts"/*/; do
    [ -d "$job/results" ] || continue
    cp -a "$job/results/." "$results/"
    [ ! -d "$job/profiles" ] || cp -a "$job/profiles/." "$profiles/"
    jobs=$((jobs + 1))
done
if [ "$jobs" = 0 ]; then
    echo "merge: FAILED: no job's results in $artifacts" >&2
    exit 1
fi
echo "merge: results of $jobs jobs"
.venv/bin/asv publish --config "$config"
.venv/bin/python -m harness.site --results "$results" --html "$html"
tar -czf "$html/results.tar.gz" -C "$(dirname "$results")" "$(basename "$results")" profiles
.venv/bin/python -m harness.ci regressions "$results" "$artifacts"
