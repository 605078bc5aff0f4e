#!/usr/bin/env bash
# The release history (README.md): the headline benchmarks (benchmarks/headline.txt) and
# their deterministic cost (bench_cost.HeadlineCost) in one asv environment per framework
# release (asv.releases.json), then the site. Extra arguments go to asv run (default: the
# current commit).
#
# Results are recorded under this host's own asv machine (its hostname, registered in
# ~/.asv-machine.json if absent). Exit status: 0 when at least one release environment was
# measured - the closing summary names every one that was not (could not be created,
# built, or every benchmark failed) and the site shows the others; 1 when none was, with
# each cause named and nothing published; 2 for arguments the script cannot honour.
# Environment: BENCH_SKIP_SETUP, BENCH_ASV_CONFIG (default asv.releases.json): see scripts/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
headline=$(paste -sd'|' benchmarks/headline.txt)
measure_and_publish releases "${BENCH_ASV_CONFIG:-asv.releases.json}" --show-stderr --skip-existing-successful \
    --bench "^(${headline//./\\.}|bench_cost\\.HeadlineCost)\." "${@:-HEAD^!}"
