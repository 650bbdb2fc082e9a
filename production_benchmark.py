#!/usr/bin/env python3
"""Production benchmark: a real web app under load, plainly, recorded by Retrace, and under the APM
agents a team would otherwise run, all arms in the same rounds (the suite's service workload:
retrace_bench/production/run.py runs it, analysis.py computes, report.py renders).

    production_benchmark.py                                   the shipped WSGI app (apps/webapp.py)
    production_benchmark.py --app asgi                        the shipped ASGI app (apps/asgiapp.py)
    production_benchmark.py --arms all                        plain, Retrace and every APM agent
    production_benchmark.py --app-cmd "python myapp.py --port {port}" --path /api/endpoint

Writes RESULTS_DIR/production_<app>.json and .txt; analyze_results.py adds them to the summary.
"""

import sys

from retrace_bench.production.run import main

if __name__ == "__main__":
    sys.exit(main())
