#!/usr/bin/env bash
# The publish job of .github/workflows/releases.yml, up to the site: the previously published
# results (PREVIOUS.tar.gz, packed beside the last site; absent on a first run) unpacked into
# previous/ beside the results folder, for python -m harness.ci regressions to compare with,
# and copied into the results folder; every release job's upload (ARTIFACTS: one folder per
# job, each holding results/ and profiles/) copied over them (asv's several-machines support:
# a machine per line; a run of the same commit replaces the earlier one); then asv publish and
# python -m harness.site, as scripts/lib.sh runs them; and the raw results packed into the
# site (results.tar.gz) for the next run. Exit status: 1 when no job brought results.
# Environment: BENCH_SKIP_SETUP, BENCH_ASV_CONFIG (default asv.releases.json): see scripts/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
artifacts=${1:?usage: scripts/ci/merge.sh ARTIFACTS [PREVIOUS.tar.gz]}
previous_tar=${2:-}
config=${BENCH_ASV_CONFIG:-asv.releases.json}
[ "${BENCH_SKIP_SETUP:-}" = 1 ] || scripts/setup.sh
dirs_lines=$(.venv/bin/python -m harness.asv_run dirs --config "$config")
mapfile -t dirs <<<"$dirs_lines"
results=${dirs[0]} html=${dirs[1]}
base=$(dirname "$results") # the cost family's profiles/ is beside the results (harness/cost/records.py)
previous=$base/previous
mkdir -p "$results" "$base/profiles"
rm -rf -- "$previous"
if [ -n "$previous_tar" ] && [ -s "$previous_tar" ]; then
    mkdir -p "$previous"
    tar -xzf "$previous_tar" -C "$previous"
    cp -a "$previous/$(basename "$results")/." "$results/"
    [ ! -d "$previous/profiles" ] || cp -a "$previous/profiles/." "$base/profiles/"
    echo "merge: previous results from $previous_tar"
else
    echo "merge: no previous results (a first run)"
fi
jobs=0
for job in "$artifacts"/*/; do
    [ -d "$job/results" ] || continue
    cp -a "$job/results/." "$results/"
    [ ! -d "$job/profiles" ] || cp -a "$job/profiles/." "$base/profiles/"
    jobs=$((jobs + 1))
done
if [ "$jobs" = 0 ]; then
    echo "merge: FAILED: no job's results in $artifacts" >&2
    exit 1
fi
echo "merge: results of $jobs jobs"
.venv/bin/asv publish --config "$config"
.venv/bin/python -m harness.site --results "$results" --html "$html"
tar -czf "$html/results.tar.gz" -C "$base" "$(basename "$results")" profiles
echo "merge: site in $html, raw results packed in $html/results.tar.gz"
