#!/usr/bin/env bash
# The main job (README.md): setup, then the default suite in asv's own virtualenv with
# the latest releases of every framework, for the current commit; then the site (asv's
# pages and harness/site.py's frameworks.html).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
asv=(.venv/bin/asv)
[ -f ~/.asv-machine.json ] || "${asv[@]}" machine --yes
"${asv[@]}" run --show-stderr --skip-existing-successful "${@:-HEAD^!}"
"${asv[@]}" publish
.venv/bin/python -m harness.site   # frameworks.html: side by side and across releases
echo
echo "Site written to $(pwd)/html/index.html - serve it with: .venv/bin/asv preview  (then open http://127.0.0.1:8080)"
