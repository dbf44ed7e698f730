#!/usr/bin/env bash
# Install what the tests need (idempotent), then run the linters and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test

# Browser tests of the web UI drive Debian's Chromium with Playwright (never Playwright's own download).
if [ ! -x "${PARROT_CHROMIUM:-/usr/bin/chromium}" ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    echo "parrot: installing chromium for the web UI tests" >&2
    ($SUDO apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 ||
        ($SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium fonts-wqy-microhei >/dev/null)) ||
        echo "parrot: could not install chromium; the web UI tests will be skipped" >&2
fi
.venv/bin/ruff check src tests bench
exec .venv/bin/python -m pytest "$@"
