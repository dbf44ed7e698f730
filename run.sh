#!/usr/bin/env bash
# Install everything Parrot needs (idempotent), then start the web UI + API on port 7860.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/parrot serve --host "${PARROT_HOST:-127.0.0.1}" --port "${PARROT_PORT:-7860}" "$@"
