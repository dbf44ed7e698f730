#!/usr/bin/env bash
# Install what the tests need (idempotent), then run the linters and the tests.
#   ./test.sh              everything (what CI runs; about 13 minutes on 2 cores)
#   ./test.sh --fast       only the tests that need no real model: -m "not slow and not model" (under 2 minutes)
#   ./test.sh [--fast] ARGS   extra arguments go to pytest (./test.sh --fast tests/server -x)
set -euo pipefail
cd "$(dirname "$0")"
FAST=0
if [ "${1:-}" = "--fast" ]; then
    FAST=1
    shift
fi
scripts/bootstrap.sh test

# Browser tests of the web UI drive Debian's Chromium with Playwright (never Playwright's own download).
# They all need the real model, so the fast tier does not install it.
if [ "$FAST" = 0 ] && [ ! -x "${PARROT_CHROMIUM:-/usr/bin/chromium}" ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    echo "parrot: installing chromium for the web UI tests" >&2
    ($SUDO apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 ||
        ($SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium fonts-wqy-microhei >/dev/null)) ||
        echo "parrot: could not install chromium; the web UI tests will be skipped" >&2
fi
.venv/bin/ruff check src tests bench
if [ "$FAST" = 1 ]; then
    exec .venv/bin/python -m pytest -m "not slow and not model" "$@"
fi
exec .venv/bin/python -m pytest "$@"
