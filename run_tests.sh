#!/usr/bin/env bash
# Run the test suite in the suite's virtualenv (created on first use). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
ensure_venv .venv requirements.txt || exit 2
ensure_venv .venv requirements-dev.txt || exit 2
exec .venv/bin/python -m pytest "$@"
