#!/usr/bin/env bash
# Prepares a checkout: Debian tools the suite drives (wrk, redis-server; valgrind and strace,
# which count the cost family's instructions and system calls; strace also shows the tests
# where traffic goes; chromium and chromedriver for the browser tests; OpenSSH's server, which
# the tests run inside network namespaces of their own as generator hosts; shellcheck, which the
# workflow linter runs on its steps' scripts; openssl, which makes a TLS run's certificate,
# harness/tls.py), npm (for asv's web
# libraries, fetched once, for the Node.js client that gives agreement its second opinion,
# and for the speedscope flame-graph viewer), and .venv with the suite, the frameworks
# (latest releases) and the developer tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

missing=()
# command:Debian package
for pair in wrk:wrk redis-server:redis-server chromium:chromium chromedriver:chromium-driver npm:npm \
    strace:strace valgrind:valgrind sshd:openssh-server shellcheck:shellcheck openssl:openssl; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        # Packages with a service (openssh-server) must not start it: the suite listens on
        # loopback and in its own namespaces only. Debian's policy-rc.d hook says so for the
        # install, unless the host has one already (containers usually do).
        policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
        fi
        status=0
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
            status=$?
        [ -z "$policy" ] || rm -f "$policy"
        [ "$status" = 0 ] || exit "$status"
    else
        echo "setup: please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi
# pip brings uv (pyproject.toml's dev extra pins the release the suite then uses), and uv installs
# the rest: 5 s where pip took 30 (harness/environments.py makes asv's environments the same way).
.venv/bin/python -m pip install -q --upgrade pip uv
.venv/bin/uv pip install --python .venv/bin/python --compile-bytecode -q -e ".[frameworks,dev]" ||
    .venv/bin/python -m pip install -q -e ".[frameworks,dev]"
# The independent WebSocket client of python -m harness.agreement (Node.js ws) and the
# flame-graph viewer the site vendors (speedscope), pinned by the lock file.
npm ci --prefix harness/node --no-audit --no-fund --silent
# asv's site loads jQuery, flot and bootstrap from CDNs; keep local copies for offline use.
.venv/bin/python -m harness.site --fetch-assets
