"""Run a Python app with the Sentry SDK on and every transaction sampled: the SDK has no launcher
and reads no sample rate from the environment. Usage: python sentry_run.py APP.py [ARGS...]
(SENTRY_DSN names the sink)."""

import os
import runpy
import sys

import sentry_sdk

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], traces_sample_rate=1.0)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
