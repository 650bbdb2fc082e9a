#!/usr/bin/env bash
# Run the test suite in the suite's virtualenv (created on first use). Arguments go to pytest.
# Under sh (a copy without the exec bit, run as `sh FILE`), say how to run it instead of failing on bash syntax.
if [ -z "${BASH_VERSION:-}" ]; then
    echo "error: this script needs bash: run it as ./$(basename "$0") or bash $(basename "$0")" >&2
    exit 2
fi
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
# shellcheck source=scripts/system-tools.sh
source scripts/system-tools.sh
ensure_venv .venv requirements.txt || exit 2
ensure_venv .venv requirements-dev.txt || exit 2
ensure_system_tools chromium
# pytest's temporary directories in a private directory of this run's own: another test run on the
# machine (whose pytest tidies /tmp/pytest-of-$USER) cannot remove them, and what the tests recorded
# (recordings hold the environment) is removed with it, however the run ends.
base=$(mktemp -d "${TMPDIR:-/tmp}/retrace-tests.XXXXXX")
trap 'rm -rf "$base"' EXIT
status=0
.venv/bin/python -m pytest --basetemp="$base/pytest" "$@" || status=$?
exit "$status"
