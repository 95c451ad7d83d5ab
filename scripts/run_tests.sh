#!/usr/bin/env bash
# Default test run: everything except the long regression suite (`make regression`); the ROS soak runs
# for 60 s here (600 s with `make soak`).
# pytest's exit code 5 ("no tests collected") is an error here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q -m "not regression" tests "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "ERROR: pytest collected no tests" >&2
  exit 1
fi
exit $rc
