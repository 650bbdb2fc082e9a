"""Run a Python app with Elastic APM set up as Elastic documents it for the app's framework.
Usage (under elasticapm-run, which instruments Flask and the libraries): python elastic_run.py APP.py [ARGS...]

FastAPI and Starlette are not instrumented by elasticapm-run: Elastic's documentation adds its
Starlette middleware in the app's code, `app.add_middleware(ElasticAPM, client=make_apm_client())`.
This wrapper does exactly that for every Starlette (hence FastAPI) application the app creates,
so that the shipped ASGI app and a user's own are measured with the agent set up as documented.
The client reads its settings (ELASTIC_APM_SERVER_URL, ...) from the environment."""

import importlib
import runpy
import sys


def add_elastic_middleware(app) -> None:
    """Elastic's documented Starlette/FastAPI set-up, once per application."""
    if getattr(app, "_retrace_bench_elastic", False):
        return
    from elasticapm.contrib.starlette import ElasticAPM, make_apm_client  # lazy: only inside the agent's virtualenv, on a Starlette app
    app.add_middleware(ElasticAPM, client=make_apm_client())
    app._retrace_bench_elastic = True


def wrap_init(cls) -> None:
    original = cls.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        add_elastic_middleware(self)
    cls.__init__ = init


# FastAPI does not call Starlette.__init__: each class is wrapped (an app is set up only once).
for module, name in (("starlette.applications", "Starlette"), ("fastapi", "FastAPI")):
    try:
        wrap_init(getattr(importlib.import_module(module), name))
    except ImportError:                  # not installed: elasticapm-run alone instruments the app
        pass

sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
