#!/usr/bin/env bash
# Make sure the browser test (tests/test_browser.py) can run: Playwright's Python package
# (installed with the [dev] extra) drives Debian's chromium. Never downloads a browser of
# Playwright's own. Under CI (CI=true) a missing chromium is installed with apt-get; on a
# learner's machine nothing is installed and the browser test skips with a message.
set -euo pipefail
python_bin="${1:-python3}"
if [ "${CI:-}" != "true" ]; then
    exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
    echo "CI: installing Debian's chromium for the browser test"
    sudo_cmd=""
    if [ "$(id -u)" != "0" ]; then sudo_cmd="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq </dev/null
    $sudo_cmd apt-get install -y -qq chromium </dev/null >/dev/null
fi
"$python_bin" -c "import playwright" 2>/dev/null || {
    echo "Playwright's Python package is missing from the environment; run: make install" >&2
    exit 1
}
