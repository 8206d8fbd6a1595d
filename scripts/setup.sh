#!/usr/bin/env bash
# Idempotent set-up used by `make run` and `make test`: the system library for headless MuJoCo
# rendering, a virtual environment, and the project's Python packages. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# 1. OSMesa: MuJoCo renders headless on CPU with MUJOCO_GL=osmesa (GPU machines use EGL).
if ! ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so'; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="-"; fi
  if [ "$SUDO" = "-" ]; then
    echo "setup: libosmesa6 is missing and this user cannot install it: rendering will fail (apt-get install libosmesa6)" >&2
  else
    echo "setup: installing libosmesa6 (headless OpenGL for MuJoCo rendering)"
    $SUDO apt-get install -y -q libosmesa6 >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q libosmesa6 >/dev/null; }
  fi
fi

# 2. Virtual environment and packages; reinstalled only when pyproject.toml changes.
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  # torch first and exactly: on CPU machines this takes the CPU build, not a multi-GB CUDA one.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
