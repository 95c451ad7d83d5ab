#!/usr/bin/env bash
# Default test run: everything except the long regression suite and the ROS soak (`make soak`).
# pytest's exit code 5 ("no tests collected") is an error here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q -m "not regression and not soak" tests "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "ERROR: pytest collected no tests" >&2
  exit 1
fi
exit $rc
