#!/usr/bin/env bash
# One job of .github/workflows/releases.yml: FRAMEWORK's release environments, recorded under
# the asv machine ci-FRAMEWORK (harness/ci.py says why one machine name per line). Extra
# arguments go to asv run (default: the current commit). Leaves results/ci-FRAMEWORK/,
# results/benchmarks.json and profiles/ci-FRAMEWORK/ for the workflow to upload.
# Environment: BENCH_SKIP_SETUP, BENCH_ASV_CONFIG (the full config, default asv.releases.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
framework=${1:?usage: scripts/ci/release-job.sh FRAMEWORK [asv run arguments]}
shift
machine=ci-$framework
[ "${BENCH_SKIP_SETUP:-}" = 1 ] || scripts/setup.sh
config=$(mktemp --suffix=.json)
trap 'rm -f -- "$config"' EXIT
.venv/bin/python -m harness.ci config "$framework" "$config" "${BENCH_ASV_CONFIG:-asv.releases.json}"
# The runner's own machine entry, under the line's name (asv's defaults describe the runner).
.venv/bin/asv machine --yes --machine "$machine" --config "$config" >/dev/null
BENCH_SKIP_SETUP=1 BENCH_ASV_CONFIG="$config" scripts/releases.sh --machine "$machine" "$@"
