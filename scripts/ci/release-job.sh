#!/usr/bin/env bash
# One job of .github/workflows/releases.yml: FRAMEWORK's release environments, selected by
# name (asv run -E, from python -m harness.ci environments) out of the whole config and run by
# scripts/releases.sh, recorded under the asv machine ci-FRAMEWORK (harness/ci.py says why one
# machine name per line). Extra arguments go to asv run (default: the current commit). Leaves
# <results>/ci-FRAMEWORK/, <results>/benchmarks.json and profiles/ci-FRAMEWORK/ for the workflow
# to upload. Exit status: scripts/releases.sh's.
# Environment: BENCH_SKIP_SETUP, BENCH_ASV_CONFIG (default asv.releases.json): see scripts/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
framework=${1:?usage: scripts/ci/release-job.sh FRAMEWORK [asv run arguments]}
shift
machine=ci-$framework
config=${BENCH_ASV_CONFIG:-asv.releases.json}
[ "${BENCH_SKIP_SETUP:-}" = 1 ] || scripts/setup.sh
names=$(.venv/bin/python -m harness.ci environments "$framework" --config "$config")
selection=()
while IFS= read -r name; do
    selection+=(-E "$name")
done <<<"$names"
dirs_lines=$(.venv/bin/python -m harness.asv_run dirs --config "$config")
mapfile -t dirs <<<"$dirs_lines"
# Both uploaded folders exist even when nothing was measured: upload-artifact roots the
# artifact at the common ancestor of its paths, and the merge expects results/ and profiles/.
mkdir -p "${dirs[0]}/$machine" "$(dirname "${dirs[0]}")/profiles/$machine"
# The runner's own machine entry, under the line's name (asv's defaults describe the runner:
# its CPU model shows which kind of runner measured the line this time).
.venv/bin/asv machine --yes --machine "$machine" --config "$config" >/dev/null
BENCH_SKIP_SETUP=1 BENCH_ASV_CONFIG="$config" scripts/releases.sh --machine "$machine" "${selection[@]}" "$@"
