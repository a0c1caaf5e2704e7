#!/usr/bin/env bash
# Everything on one machine with no services installed: creates .venv, installs Watt League,
# runs `wattleague demo` (arguments are passed on, e.g. --duration 60 --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh . >&2
exec .venv/bin/wattleague demo "$@"
