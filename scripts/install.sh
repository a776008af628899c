#!/usr/bin/env bash
# Create .venv and install disentangle into it (idempotent: re-running is cheap).
# torch is installed first and pinned: its CPU build lies on local disk here, while a bare
# `torch` requirement resolved later could pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.13.0
# The ray extra too, so the Ray engine's tests (a local 2-CPU cluster) run with the others.
.venv/bin/python -m pip install --quiet -e ".[dev,ray]"
echo "installed: $(.venv/bin/disentangle --help >/dev/null && echo disentangle) in .venv"
