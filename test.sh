#!/usr/bin/env bash
# Install what the tests need (idempotent), then run the linters and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
.venv/bin/ruff check src tests bench
exec .venv/bin/python -m pytest "$@"
