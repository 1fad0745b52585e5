#!/usr/bin/env bash
# Makes the project's Python venv (.venv/ at the repo root) from the machine's wheel mirror.
# Python is used only for golden data, training the bundled model and real-client tests
# (JupyterLab in a browser); the product never imports it.
# Usage: bash tools/python-env.sh        (idempotent: re-running checks and exits fast)
# Then:  .venv/bin/python ...   (the tests find it there, or at $NEMOTRON_LAB_PYTHON)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
export PIP_RETRIES=0 PIP_DISABLE_PIP_VERSION_CHECK=1
PKGS=("torch==2.13.0+cpu" "transformers==5.17.0" tokenizers ml_dtypes numpy safetensors
      "jupyterlab==4.6.*" jupyterlab-widgets ipywidgets nbformat)
STAMP="$VENV/.nemotron-lab-env"
WANT="$(printf '%s\n' "${PKGS[@]}")"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/python" -c "import torch, transformers, tokenizers, ml_dtypes, jupyterlab" 2>/dev/null; then
  echo "python-env: $VENV is ready"; exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" 2>/dev/null; then
  echo "python-env: python3 lacks venv/ensurepip; installing python3-venv" >&2
  SUDO=""; [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv
fi
python3 -m venv "$VENV"
echo "python-env: installing ${PKGS[*]}"
"$VENV/bin/python" -m pip install -q "${PKGS[@]}"
printf '%s' "$WANT" > "$STAMP"
echo "python-env: $VENV is ready ($("$VENV/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
