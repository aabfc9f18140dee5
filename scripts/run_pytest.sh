#!/usr/bin/env bash
# Runs pytest from .venv and treats "no tests collected" (exit 5) as a failure, so that a
# run that checked nothing can never pass.
set -uo pipefail
.venv/bin/pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
