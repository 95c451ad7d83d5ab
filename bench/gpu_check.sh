#!/usr/bin/env bash
# The GPU check in one command (issue 23): official size, bf16, JSON under OUT_DIR.
#   bash bench/gpu_check.sh [OUT_DIR] [extra bench/gpu_check.py arguments]
# On the lent GPU machine: bash bench/gpu_check.sh "$OUT"   (about 5 min on one H100; hard stop at 9 min)
set -u
cd "$(dirname "$0")/.."
out=${1:-bench/results/gpu_check}
shift || true
python=${PYTHON:-python3}
if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then python=.venv/bin/python; fi
mkdir -p "$out"
export PYTHONUNBUFFERED=1
set -o pipefail
# The script stops starting parts after --budget-s (450 s by default); timeout only guards a hung part.
timeout 540 "$python" bench/gpu_check.py --out "$out" "$@" 2>&1 | tee "$out/gpu_check.log"
