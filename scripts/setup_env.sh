#!/usr/bin/env bash
# One-shot, idempotent environment set-up: Debian packages for offscreen rendering, then a pinned .venv.
# Called by `make setup` (and so by `make test` / `make demo`); quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.setup-stamp"
WANT="$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)"

need_apt=()
for pkg in libosmesa6 libgl1 libegl1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

echo "[setup] creating $VENV with pinned dependencies (first run: a few minutes)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -c "import torch, numpy, mujoco, pybullet, rclpy, vjepa_ac" \
  || { echo "[setup] import check failed" >&2; exit 1; }
echo "$WANT" > "$STAMP"
echo "[setup] done"
