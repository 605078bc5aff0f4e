#!/usr/bin/env bash
# The main job (README.md): setup, then the default suite in asv's own virtualenv with
# the latest releases of every framework, for the current commit (arguments: asv run's
# revision range and options instead of HEAD^!); then the site (asv's pages and
# python -m harness.site's frameworks.html).
#
# Results are recorded under this host's own asv machine (its hostname, registered in
# ~/.asv-machine.json if absent). Exit status: 0 when the environment was measured (or
# already had results for the commit); 1 when it could not be created or built or every
# benchmark failed - the cause is named and nothing is published; 2 for arguments the
# script cannot honour (--dry-run, --python=same: run asv directly for those).
# Environment: BENCH_SKIP_SETUP, BENCH_ASV_CONFIG (default asv.conf.json): see scripts/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
measure_and_publish bench "${BENCH_ASV_CONFIG:-asv.conf.json}" --show-stderr --skip-existing-successful "${@:-HEAD^!}"
