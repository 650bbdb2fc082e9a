"""APM agents as arms: the sink's counting on real payload formats, the agents' launch commands,
the evidence rules, error reporting, and one real agent arm end to end."""

import gzip
import json
import sys
import urllib.request
from pathlib import Path

import pytest


from retrace_bench.production import analysis as sa
from retrace_bench.production import report as sr
from conftest import ROOT, needs_load_tools, run
from retrace_bench import arms, facts
from retrace_bench import agents
from retrace_bench.production.sink import Sink, msgpack_span_count, otlp_span_count

DATA = ROOT / "tests" / "data"


def post(url, body, headers=None):
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_sink_counts_sentry_and_elastic_events_and_gunzips():
    sink = Sink()
    try:
        envelope = b"\n".join([b'{"event_id": "1"}', b'{"type": "transaction", "length": 10}',
                               json.dumps({"type": "transaction", "spans": [{}, {}]}).encode()])
        assert post(f"{sink.url}/api/1/envelope/", envelope)[0] == 200
        ndjson = b'{"metadata": {}}\n{"transaction": {}}\n{"span": {}}\n{"span": {}}\n'
        assert post(f"{sink.url}/intake/v2/events", gzip.compress(ndjson), {"Content-Encoding": "gzip"})[0] == 202
        post(f"{sink.url}/", b"")                       # a handshake: not data
        got = sink.snapshot()
        assert got.requests == 2 and got.events == 3 + 3 and got.bytes == len(envelope) + len(ndjson)
    finally:
        sink.close()


def test_msgpack_span_count_v04_and_v05():
    span = bytes([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0xcb]) + bytes(8)       # {"a": 1, "b": 0.0}
    v04 = bytes([0x92, 0x92]) + span + span + bytes([0x91]) + span              # 2 traces: 2 + 1 spans
    assert msgpack_span_count(v04, v05=False) == 3
    v05 = bytes([0x92, 0x92, 0xa1, 0x78, 0xa1, 0x79, 0x91, 0x93]) + span * 3    # strings, then 1 trace of 3
    assert msgpack_span_count(v05, v05=True) == 3


def test_otlp_span_count():
    def field(number, payload):
        return bytes([number << 3 | 2, len(payload)]) + payload
    span = field(1, b"x" * 16)
    scope = field(1, b"") + field(2, span) + field(2, span)
    request = field(1, field(1, b"") + field(2, scope)) + field(1, field(2, field(2, span)))
    assert otlp_span_count(request) == 3


def test_agent_commands_point_at_the_sink(tmp_path):
    argv = ["/v/bin/python", "app.py", "--port", "1"]
    for agent in agents.AGENTS.values():
        if agent.unavailable:
            with pytest.raises(ValueError):
                agent.command(argv, Path("/v/bin"), "http://127.0.0.1:9", tmp_path)
            continue
        command, env = agent.command(argv, Path("/v/bin"), "http://127.0.0.1:9", tmp_path)
        assert command[-3:] == ["app.py", "--port", "1"] and "/v/bin/python" in command
        assert any("127.0.0.1:9" in v for v in env.values()) or agent.evidence == "audit-log"
    assert agents.AGENTS["sentry"].command(argv, Path("/v/bin"), "http://127.0.0.1:9", tmp_path)[0][1] \
        == str(agents.SENTRY_WRAPPER)


def test_arm_lists():
    assert arms.parse_arm_list("all") == list(agents.ALL_ARMS)
    for bad, message in (("plain,zipkin", "unknown arm"), ("retrace,plain", "first arm must be plain"), ("", "no arm")):
        with pytest.raises(arms.ArmError, match=message):
            arms.parse_arm_list(bad)
    made, unavailable = arms.make_named_arms(["plain", "plain", "dynatrace"])
    assert [a.label for a in made] == ["plain", "plain#2"] and "OneAgent" in unavailable["dynatrace"]


def test_the_apm_table_has_a_row_per_tool_from_a_real_run():
    data = json.loads((DATA / "apm" / "production_wsgi.json").read_text())
    summary = sa.app_summary(data)
    for label in ("ddtrace", "newrelic", "otel", "sentry", "elastic"):
        assert summary["per_arm"][label]["sink_bytes_per_request"] > 0
    table = "\n".join(sr.apm_table([summary]))
    for agent in agents.AGENTS.values():
        assert agent.title in table
    assert "not measurable" in table and "Retrace" in table and "<1%" in table and "2-5%" in table


@needs_load_tools
def test_a_real_agent_arm_end_to_end_through_the_driver(tmp_path):
    """`run_all_benchmarks.sh --apm sentry`: the Sentry SDK, in its own cached virtualenv, instruments
    the shipped app; its sink sees transactions (fewer than one per request under the saturated
    load: Sentry's transport drops what its queue cannot hold); the summary's APM table has its row."""
    results = tmp_path / "results"
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--apm", "sentry", "--no-synthetic",
                  "--pyperformance", "none", "--apps", "wsgi", "--quick", "--rounds", "2",
                  "--results", str(results)], cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "APM agents in the production benchmark: sentry" in result.stdout
    summary = sa.app_summary(json.loads((results / "production_wsgi.json").read_text()))
    assert list(summary["per_arm"]) == ["plain", "retrace", "sentry"]
    sentry = summary["per_arm"]["sentry"]
    assert sentry["events_per_request"] > 0.1 and sentry["sink_bytes_per_request"] > 0
    assert "sentry vs plain" in (results / "production_wsgi.txt").read_text()
    table = (results / "summary.txt").read_text().split("## Comparing with APM tools", 1)[1]
    rows = [line.split()[0] for line in table.splitlines()[2:] if line.startswith("  ") and not line.startswith("  (")]
    assert rows[:3] == ["plain", "Retrace", "Sentry"] and "Datadog" not in rows


@needs_load_tools
def test_an_agent_that_sends_nothing_is_failed_not_instrumenting(tmp_path):
    app = f"{{python}} {DATA / 'apps' / 'fragile_app.py'} --port {{port}}"   # plain http.server: no integration
    result = run([sys.executable, str(ROOT / "production_benchmark.py"), "--arms", "plain,sentry", "--quick",
                  "-n", "20", "--warmup", "5", "--rate-requests", "0", "--rounds", "1", "--app-cmd", app,
                  "--path", "/x", "--results", str(tmp_path)], timeout=900)
    assert result.returncode == 1
    text = (tmp_path / "production_app.txt").read_text()
    assert "FAILED (sentry): round 1: not instrumenting: its sink received nothing" in text


@needs_load_tools
def test_an_app_that_breaks_under_recording_shows_its_errors(tmp_path):
    app = f"{{python}} {DATA / 'apps' / 'fragile_app.py'} --port {{port}}"
    result = run([sys.executable, str(ROOT / "production_benchmark.py"), "--quick", "-n", "20", "--warmup", "5",
                  "--rate-requests", "0", "--rounds", "1", "--app-cmd", app, "--path", "/x",
                  "--results", str(tmp_path)], timeout=600)
    text = (tmp_path / "production_app.txt").read_text()
    assert "ERRORS:" in text and "not comparable" in text
    assert "RuntimeError: object is already bound (simulated failure under recording)" in text
    assert "is it a Python command" not in text           # no guessed cause
    summary = sa.app_summary(json.loads((tmp_path / "production_app.json").read_text()))
    assert summary["per_arm"]["retrace"]["failed_requests"] > 0 and not summary["per_arm"]["retrace"]["comparable"]
    assert summary["per_arm"]["plain"]["failed_requests"] == 0
    assert result.returncode == 0, result.stderr          # some requests failed: not comparable, not FAILED


def test_production_changes_know_which_way_is_slower():
    """A figure 20% lower in the arm in every round: a throughput that fell is slower, a latency
    that fell faster; one round cannot tell."""
    runs = [sa.ArmRun(arm, n, {}, cpu_ms_per_request=(80.0 if arm == "retrace" else 100.0) + n)
            for n in (1, 2, 3) for arm in ("plain", "retrace")]
    figure = lambda r: r.cpu_ms_per_request   # noqa: E731
    throughput = sa.change_effect("requests_per_s", runs, "plain", "retrace", figure, 100.0, 80.0, higher_is_worse=False)
    latency = sa.change_effect("p50_ms", runs, "plain", "retrace", figure, 100.0, 80.0)
    assert throughput.verdict == facts.SLOWER and latency.verdict == facts.FASTER
    assert throughput.low < throughput.estimate == -20.0 < throughput.high < 0
    one = sa.change_effect("p50_ms", runs[:2], "plain", "retrace", figure, 100.0, 80.0)
    assert one.verdict == facts.CANNOT_TELL and one.interval() is None


def test_first_error_line_of_a_replay():
    from retrace_bench.replay import first_error_line
    text = ("replay run: ...\nTraceback (most recent call last):\n  File \"x\", line 1\n"
            "RuntimeError: cannot wait on un-acquired lock\nother: line\n")
    assert first_error_line(text) == "RuntimeError: cannot wait on un-acquired lock"
    assert first_error_line("all fine\n") is None


def test_the_apm_table_has_a_row_per_retrace_version_from_a_real_run():
    """A --versions run's table: one Retrace row per version (none was shown before), in the ranking."""
    data = json.loads((DATA / "versions" / "production_wsgi.json").read_text())
    table = sr.apm_table([sa.app_summary(data)])
    rows = [line.split()[0] for line in table[2:] if line.startswith("  ") and not line.startswith("  (")]
    assert rows[:3] == ["plain", "Retrace==0.2.29", "Retrace==0.2.30"]
    assert any("Retrace==0.2.30" in line and "ranked" in line for line in table)
