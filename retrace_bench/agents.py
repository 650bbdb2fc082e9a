"""APM agents as arms of the production benchmark: one home for each agent's pinned packages, launch
command, environment and evidence.

Every agent runs offline against a local sink (retrace_bench.sink) or, for New Relic's developer
mode, writes what it would send to an audit log; an agent arm whose sink received nothing is
FAILED ("not instrumenting"), as an unrecorded Retrace run is. Each agent lives in its own cached
virtualenv with the shipped apps' dependencies (created on first use, like Retrace versions).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

#: The shipped apps' packages, installed into every agent's virtualenv (pinned in requirements.txt).
APP_PACKAGES = ("flask", "waitress", "fastapi", "uvicorn")
#: The production workload's launchers of the agents that need one.
SENTRY_WRAPPER = Path(__file__).resolve().parent / "production" / "sentry_run.py"
ELASTIC_WRAPPER = Path(__file__).resolve().parent / "production" / "elastic_run.py"


@dataclass(frozen=True)
class Agent:
    name: str                       # the arm's label
    title: str                      # the product, as the spec's table names it
    spec_claim: str                 # the spec's quoted overhead ("" when it quotes none)
    packages: tuple[str, ...] = ()
    evidence: str = "sink"          # sink (HTTP requests received) or audit-log (New Relic)
    unavailable: str | None = None  # why it cannot be measured here
    notes: str = ""

    def command(self, argv: list[str], bin_dir: Path, sink_url: str, scratch: Path) -> tuple[list[str], dict]:
        """The app's command line (argv starts with the agent venv's python) wrapped in the agent's
        launcher, and the variables that point it at the sink with 100% sampling."""
        sink_port = sink_url.rsplit(":", 1)[1]
        if self.name == "ddtrace":
            return ([str(bin_dir / "ddtrace-run"), *argv],
                    {"DD_SERVICE": "webapp", "DD_TRACE_AGENT_URL": sink_url, "DD_TRACE_SAMPLE_RATE": "1.0",
                     "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false", "DD_REMOTE_CONFIGURATION_ENABLED": "false"})
        if self.name == "newrelic":
            return ([str(bin_dir / "newrelic-admin"), "run-program", *argv],
                    {"NEW_RELIC_DEVELOPER_MODE": "true", "NEW_RELIC_APP_NAME": "webapp",
                     "NEW_RELIC_AUDIT_LOG": str(self.audit_log(scratch))})
        if self.name == "otel":
            return ([str(bin_dir / "opentelemetry-instrument"), *argv],
                    {"OTEL_SERVICE_NAME": "webapp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                     "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url, "OTEL_TRACES_SAMPLER": "always_on",
                     "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"})
        if self.name == "sentry":
            return ([argv[0], str(SENTRY_WRAPPER), *argv[1:]],
                    {"SENTRY_DSN": f"http://key@127.0.0.1:{sink_port}/1"})
        if self.name == "elastic":
            return ([str(bin_dir / "elasticapm-run"), argv[0], str(ELASTIC_WRAPPER), *argv[1:]],
                    {"ELASTIC_APM_SERVICE_NAME": "webapp", "ELASTIC_APM_SERVER_URL": sink_url,
                     "ELASTIC_APM_TRANSACTION_SAMPLE_RATE": "1.0", "ELASTIC_APM_CENTRAL_CONFIG": "false",
                     "ELASTIC_APM_CLOUD_PROVIDER": "none"})
        raise ValueError(f"{self.name}: not measurable here ({self.unavailable})")

    def audit_log(self, scratch: Path) -> Path:
        return scratch / f"{self.name}.audit.log"

    def requirements(self, app_pins: list[str]) -> str:
        return "\n".join([*app_pins, *self.packages]) + "\n"

    def venv_name(self, app_pins: list[str]) -> str:
        digest = hashlib.sha256(self.requirements(app_pins).encode()).hexdigest()[:10]
        return f"venv-agent-{self.name}-{digest}"


AGENTS = {a.name: a for a in (
    Agent("ddtrace", "Datadog", "2-5%", ("ddtrace==4.16.0",),
          notes="ddtrace-run; traces to the sink as the Datadog agent's /v0.x/traces"),
    Agent("newrelic", "New Relic", "3-7%", ("newrelic==14.1.0",), evidence="audit-log",
          notes="developer mode (no account): the payloads of each harvest go to an audit log; the "
                "agent harvests every 60 s and at exit, so a shorter load's harvest CPU falls at exit"),
    Agent("otel", "OpenTelemetry", "", (
        "opentelemetry-distro==0.66b1", "opentelemetry-exporter-otlp-proto-http==1.45.1",
        "opentelemetry-instrumentation-flask==0.66b1", "opentelemetry-instrumentation-wsgi==0.66b1",
        "opentelemetry-instrumentation-sqlite3==0.66b1", "opentelemetry-instrumentation-asgi==0.66b1",
        "opentelemetry-instrumentation-fastapi==0.66b1"),
          notes="OTLP/HTTP to the sink; sqlite3 connection.execute is not traced by that instrumentation"),
    Agent("sentry", "Sentry", "", ("sentry-sdk[flask,fastapi]==2.75.0",),
          notes="sentry_sdk.init(traces_sample_rate=1.0) in a small wrapper (no launcher)"),
    Agent("elastic", "Elastic APM", "", ("elastic-apm==6.26.2",),
          notes="elasticapm-run (Flask and libraries) plus, for Starlette/FastAPI apps, Elastic's "
                "documented middleware added by retrace_bench/production/elastic_run.py; NDJSON to the sink as the "
                "APM server's intake"),
    Agent("dynatrace", "Dynatrace", "1-3%",
          unavailable="not measurable without a OneAgent host: its Python SDK (oneagent-sdk, "
                      "autodynatrace) does nothing without one (\"Could not load agent\")"),
)}
#: --arms all, in the order the table lists them.
ALL_ARMS = ("plain", "retrace", *AGENTS)
