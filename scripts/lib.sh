# Shared by bench.sh and releases.sh (sourced, after cd to the checkout): set up, measure with
# asv on this host's own machine entry, publish only when something was measured, build the site.
#
# Environment:
#   BENCH_SKIP_SETUP=1   skip scripts/setup.sh (.venv must already hold the suite and asv; the tests set it)
#   BENCH_ASV_CONFIG     the asv config to run and publish (default: the script's own); its
#                        results_dir and html_dir are used for the site too

[ "${BENCH_SKIP_SETUP:-}" = 1 ] || scripts/setup.sh

# measure_and_publish LABEL CONFIG ASV_RUN_ARGUMENTS...
# python -m harness.asv_run registers this host's machine if absent (its hostname, as
# `asv machine --yes` names it), creates each environment, runs asv run --machine <it> and
# judges every environment from the results written: it exits 1, and then nothing is
# published, when none was measured. Its summary is printed again at the very end.
measure_and_publish() {
    local label=$1 config=$2
    shift 2
    local summary dirs_lines dirs
    summary=$(mktemp)
    trap "rm -f -- '$summary'" EXIT
    .venv/bin/python -m harness.asv_run run --label "$label" --config "$config" --summary "$summary" -- "$@"
    dirs_lines=$(.venv/bin/python -m harness.asv_run dirs --config "$config")
    mapfile -t dirs <<<"$dirs_lines"
    .venv/bin/asv publish --config "$config"
    .venv/bin/python -m harness.site --results "${dirs[0]}" --html "${dirs[1]}"
    echo
    echo "Site written to $(realpath "${dirs[1]}")/index.html - serve it with: .venv/bin/asv preview --config $config  (then open http://127.0.0.1:8080)"
    echo
    cat "$summary"
}
