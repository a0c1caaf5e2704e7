#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: installs what the tests need
# (Debian's mosquitto, chromium, influxdb and poppler-utils; systemd for systemd-analyze and
# libseccomp2 for tests/deploy/test_units.py; the project with its dev extra), then runs ruff and
# pytest.
# Arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh ".[dev]"
apt_install mosquitto chromium influxdb poppler-utils systemd libseccomp2 prometheus
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
