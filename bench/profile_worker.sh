#!/usr/bin/env bash
# Profile the votewire worker while it catches up on a pre-filled topic, with py-spy.
#
#   bench/profile_worker.sh [NAME] [PRESET]     # default: worker-<preset>, preset small
#
# Runs only the catch-up part of bench/run.py (simulate, pre-fill, a fresh worker to exact
# final snapshots) and records that worker with
#   py-spy record -p PID -f speedscope -o bench/profiles/NAME-catchup.json
# Open the file at https://www.speedscope.app. py-spy comes with the bench extra
# (`pip install -e '.[bench]'`) and needs ptrace rights over the worker (root, or
# kernel.yama.ptrace_scope=0). The figures go to bench/results/partial.{json,md}.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset="${2:-small}"
name="${1:-worker-$preset}"
exec "$here/.venv/bin/python" "$here/bench/run.py" --preset "$preset" --only catchup --profile "$name"
