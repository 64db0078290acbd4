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
# The metaworld extra pins mujoco 3.3.0. mujoco 4 is split into mujoco-core and mujoco-studio, which
# share the mujoco/ folder; pip's downgrade of an existing 4.x install removes only the `mujoco` stub and
# leaves their files behind, and `import mujoco` then fails (libmujoco.so.4.0.0). Drop them first.
.venv/bin/python -m pip uninstall -q -y mujoco-core mujoco-studio 2>/dev/null || true
.venv/bin/python -m pip install -q -e ".[all]"
