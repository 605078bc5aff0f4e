#!/usr/bin/env bash
# The publish job's fetch of the previously published raw results: SITE_URL/results.tar.gz
# (scripts/ci/merge.sh packs it into every site) saved as OUT. A site without it (404: the
# first run, or no site yet) leaves no OUT and succeeds, and the merge starts the history
# afresh. Any other failure (the network, a 5xx after curl's retries, a 403) fails: publishing
# then would replace the site with this run's results alone and lose the history for good.
set -euo pipefail
site=${1:?usage: scripts/ci/previous.sh SITE_URL OUT}
out=${2:?usage: scripts/ci/previous.sh SITE_URL OUT}
rm -f -- "$out" "$out.part"
url=${site%/}/results.tar.gz
status=0
code=$(curl -sSL --retry 3 --retry-connrefused -o "$out.part" -w '%{http_code}' "$url") || status=$?
if [ "$status" = 0 ] && [ "$code" = 200 ]; then
    mv -- "$out.part" "$out"
    echo "previous: $url ($(stat -c %s "$out") bytes)"
elif [ "$status" = 0 ] && [ "$code" = 404 ]; then
    rm -f -- "$out.part"
    echo "previous: none published at $url (a first run): the history starts here"
else
    rm -f -- "$out.part"
    echo "previous: FAILED to fetch $url (curl exit $status, HTTP ${code:-none}): not publishing over the history" >&2
    exit 1
fi
