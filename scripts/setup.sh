#!/usr/bin/env bash
# Idempotent set-up used by `make run` and `make test`: the system libraries (headless MuJoCo
# rendering; with --browser also Chromium, for the report-page tests), a virtual environment, and the
# project's Python packages. Safe to run repeatedly.
#   scripts/setup.sh             libosmesa6, .venv
#   scripts/setup.sh --browser   the same, plus Debian's chromium (driven by Playwright in the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# apt_install PACKAGE WHY TEST: install a Debian package when TEST fails (root or sudo needed).
apt_install() {
  local pkg=$1 why=$2 test=$3
  eval "$test" && return 0
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="-"; fi
  if [ "$SUDO" = "-" ]; then
    echo "setup: $pkg is missing and this user cannot install it: $why will fail (apt-get install $pkg)" >&2
    return 0
  fi
  echo "setup: installing $pkg ($why)"
  $SUDO apt-get install -y -q "$pkg" >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "$pkg" >/dev/null; }
}

# 1. OSMesa: MuJoCo renders headless on CPU with MUJOCO_GL=osmesa (GPU machines use EGL).
apt_install libosmesa6 "headless OpenGL for MuJoCo rendering" "ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so'"
# 2. Chromium for the tests of the report pages (Playwright drives it; it downloads no browser itself).
if [ "${1:-}" = "--browser" ]; then
  apt_install chromium "the headless-browser tests of report pages" "[ -x /usr/bin/chromium ]"
fi

# 3. Virtual environment and packages; reinstalled only when pyproject.toml changes.
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
