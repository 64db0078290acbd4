#!/usr/bin/env bash
# Create .venv and install rlsuite with everything its tests and benchmarks use.
# Without an NVIDIA GPU, torch is pinned to the CPU build first (2.13.0), so the later
# `torch>=2.3` requirement installs nothing more and no CUDA packages are pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if ! (command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1); then
  .venv/bin/python -m pip install -q "torch==2.13.0"
fi
.venv/bin/python -m pip install -q -e ".[all]"
