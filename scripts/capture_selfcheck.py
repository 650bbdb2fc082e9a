"""Make the self-check judge's test data: a real quick self-check's raw data, saved as JSON.

    .venv/bin/python scripts/capture_selfcheck.py tests/data/selfcheck/quick.json [driver options]

Run it on a quiet machine; tests/core/test_selfcheck_judge.py breaks each check of that data in turn and
expects a miss."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from retrace_bench import driver, procs, selfcheck_plan  # noqa: E402


def main() -> int:
    target = Path(sys.argv[1])
    args = driver.parse_args(["--self-check", "--quick", *sys.argv[2:]])
    with procs.managed(reap=True):
        status = selfcheck_plan.self_check(args, keep=lambda data: target.write_text(json.dumps(data)))
    print(f"self-check exit status {status}; raw data in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
