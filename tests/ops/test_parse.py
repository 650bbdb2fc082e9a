"""Parsing and analysing real outputs: a quick run of the suite (tests/data/run: run.json with
every process's JSON record, the production benchmark's production.json) and hand runs in the
spec's text format (tests/data/sample)."""

import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import ROOT, TEST_DATA
from retrace_bench import facts
from retrace_bench.ops import analysis
from retrace_bench.ops import parse
from retrace_bench.ops import report
from retrace_bench.summary import write_summary

RUN = ROOT / "tests" / "data" / "run"


@pytest.fixture
def run_dir(tmp_path):
    target = tmp_path / "run"
    shutil.copytree(RUN, target)
    return target


def test_run_json_has_every_process_of_every_arm_and_round():
    run = parse.load(RUN)
    assert [a["label"] for a in run.arms] == ["plain", "retrace"]
    for bench in run.benchmarks:
        rounds = run.config["rounds_run"]
        assert sorted((p.arm, p.round) for p in bench.processes) == sorted(
            (arm, r) for arm in ("plain", "retrace") for r in range(1, rounds + 1))
        positions = {(p.round, p.arm): p.position for p in bench.processes}
        assert positions[(1, "plain")] == 1 and positions[(2, "plain")] == 2     # rotated
        assert all(p.trace_bytes for p in bench.processes if p.arm == "retrace")


def test_records_carry_wall_and_cpu_per_run():
    run = parse.load(RUN)
    for bench in run.benchmarks:
        for entry in bench.processes:
            record = parse.ProcessRecord.from_json(entry.record)
            assert record.mode == ("record" if entry.arm == "retrace" else "plain")
            assert record.idle_cpu_ms_per_s is not None
            for test in record.tests:
                assert test.runs and all(r.cpu_ms is not None and r.drain_ms is not None for r in test.runs)


def test_recorded_clock_reads_cost_more_cpu_than_latency():
    """The real run: time.time() is recorded, and the writer's CPU exceeds the caller's wait."""
    result = analysis.analyse(parse.load(RUN))
    internal = next(b for b in result.benchmarks if b.name == "internal")
    test = next(t for t in internal.tests if t.name == "time.time()")
    c = test.comparisons[0]
    assert c.cpu.estimate > c.latency.estimate > 0
    assert test.bytes_per_op["retrace"] >= facts.RECORDED_MIN_BYTES_PER_OP
    assert internal.idle_cpu_ms_per_s["retrace"] > internal.idle_cpu_ms_per_s["plain"]


def test_summary_and_machine_readable_outputs(run_dir):
    assert write_summary(run_dir, quiet=True) == 0
    text = (run_dir / "summary.txt").read_text()
    data = json.loads((run_dir / "summary.json").read_text())
    for bench in data["benchmarks"]:
        for test in bench["tests"]:
            assert f"Test {test['number']}: {test['name']}" in text
            for c in test["comparisons"]:
                assert c["verdict"] in (facts.SLOWER, facts.FASTER, facts.WITHIN_NOISE)
                assert c["cpu"]["figure"] == "cpu"
    assert "latency" in text and "CPU" in text and "Replay check (retrace)" in text
    assert "## Production benchmark" in text and "ms/request" in text and "peak RSS" in text
    assert set(data["production"]) == {"wsgi", "asgi"}
    for app in ("wsgi", "asgi"):
        assert data["production"][app]["per_arm"]["retrace"]["requests_recorded"] is True
    assert "WSGI app (Flask on waitress)" in text and "ASGI app (FastAPI on uvicorn)" in text
    assert "## Comparing with APM tools" in text
    assert (run_dir / "production_wsgi.png").is_file() and (run_dir / "production_asgi.png").is_file()
    action = json.loads((run_dir / "benchmark-action.json").read_text())
    assert action and all(e["unit"] == "us/op" for e in action)
    assert (run_dir / "overhead.png").stat().st_size > 10_000
    # The first screen answers the question: every test of the recorded arm against plain (with its
    # trace growth), the production paths (throughput, p95), CPU per request, what broke, the run's
    # health said once, all within the first 40 lines.
    answer = text.index("## At a glance: what recording with retrace cost here")
    assert answer < text.index("How to read") < text.index("## External boundaries")
    block = text[answer:text.index("How to read")]
    assert len(text[:text.index("How to read")].splitlines()) <= 41
    for bench in data["benchmarks"]:
        for test in bench["tests"]:
            assert f"{bench['name']}: {test['name']}"[:40] in block
    assert "per request (wsgi /api/" in block and "throughput" in block and "saturated p95" in block
    assert "CPU per request, wsgi:" in block and "ms of app CPU per request" in block
    assert "broke under recording" in block.lower() and "replay of round 1's recordings" in block
    assert "health: " in block and text.count("the machine was not steady") <= 1
    time_row = next(line for line in block.splitlines() if "internal: time.time()" in line)
    assert f"{data_bytes(data, 'internal', 'time.time()'):.0f} B" in time_row
    html = (run_dir / "report.html").read_text()
    assert html.count("<img src=\"data:image/png;base64,") >= 3 and "<table>" in html
    assert "http://" not in html and "https://" not in html       # self-contained: no network


def data_bytes(data, benchmark, name):
    bench = next(b for b in data["benchmarks"] if b["name"] == benchmark)
    return next(t for t in bench["tests"] if t["name"] == name)["bytes_per_op"]["retrace"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (run_tests.sh installs it)")
def test_the_html_report_shows_its_tables_and_charts_in_a_real_browser(run_dir, tmp_path):
    """report.html in headless Chromium: a script appended to a copy counts, once the page has
    loaded, the glance's table rows and the images the browser decoded, and writes them into the
    page, which Chromium dumps."""
    assert write_summary(run_dir, quiet=True) == 0
    page = (run_dir / "report.html").read_text()
    probe = ("<script>window.addEventListener('load', () => { const p = document.createElement('p'); "
             "p.id = 'probe'; p.textContent = 'rows=' + document.querySelectorAll('table tbody tr').length + "
             "' images=' + [...document.images].filter(i => i.complete && i.naturalWidth > 0).length + "
             "' of=' + document.images.length; document.body.appendChild(p); });</script>")
    copy = tmp_path / "probed.html"
    copy.write_text(page.replace("</body>", probe + "</body>"))
    browser = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                                f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", copy.as_uri()],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        dom = browser.communicate(timeout=120)[0]
    finally:                        # the browser's helpers (crash handler, zygote) go with it
        try:
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        browser.wait()
    found = re.search(r'id="probe">rows=(\d+) images=(\d+) of=(\d+)<', dom)
    assert found, dom[-2000:]
    rows, images, total = map(int, found.groups())
    tests = sum(len(b.tests) for b in analysis.analyse(parse.load(run_dir)).benchmarks)
    assert rows >= tests and images == total >= 3
    assert "At a glance" in dom and "external: os.stat()" in dom


def test_findings_are_data_and_every_kind_has_words():
    result = analysis.analyse(parse.load(RUN))
    kinds = {f.kind for b in result.benchmarks for t in b.tests for f in t.findings}
    assert kinds and kinds <= set(report.FINDING_TEXT)


def test_hand_runs_in_the_spec_text_format(sample_dir):
    run = parse.load(sample_dir)
    assert {b.name for b in run.benchmarks} == {"internal", "external"}
    for bench in run.benchmarks:
        assert {p.arm for p in bench.processes} == {"plain", "retrace"}
    assert write_summary(sample_dir, quiet=True) == 0
    assert "Test 7: control flow" in (sample_dir / "summary.txt").read_text()


def test_text_runs_match_their_printed_average():
    records, failure = parse.parse_text((RUN / "internal_retrace.txt").read_text(), RUN / "internal_retrace.txt")
    assert failure is None and records[0].mode == "record"
    text = (RUN / "internal_retrace.txt").read_text()
    first = records[0].tests[0]
    average = sum(r.wall_ms for r in first.runs) / len(first.runs)
    printed = float(text.split("  Average: ", 1)[1].split()[0])
    assert average == pytest.approx(printed, abs=1e-3)
    assert all(r.cpu_ms is not None for r in first.runs)


def test_a_versions_run_glances_at_the_newest_release_and_counts_the_version_verdicts(tmp_path):
    """The committed --versions 0.2.29,0.2.30 reference run: the glance is about the newest release
    against plain, with one line of the version verdicts (all 14 within noise in that run)."""
    archive = TEST_DATA / "archives" / "v0.2.29_v0.2.30_2026-12-02_092752"
    copy = tmp_path / "versions"
    shutil.copytree(archive, copy)
    assert write_summary(copy, quiet=True) == 0
    head = "\n".join((copy / "summary.txt").read_text().splitlines()[:45])
    assert "## At a glance: what recording with retrace==0.2.30 cost here, against plain" in head
    line = next(line for line in head.splitlines() if line.startswith("  versions, "))
    assert "retrace==0.2.30 against retrace==0.2.29" in line and "14 within noise" in line


def test_a_run_without_per_operation_benchmarks_still_opens_with_the_glance(tmp_path):
    """A production-only run (the real --arms all run, 2 rounds): the glance has the recorded arm's
    per-request figures and CPU per request; a wide interval says "over +999%" rather than a huge number."""
    copy = tmp_path / "apm"
    shutil.copytree(ROOT / "tests" / "data" / "apm", copy)
    assert write_summary(copy, quiet=True) == 0
    text = (copy / "summary.txt").read_text()
    glance = text[text.index("## At a glance: what recording with retrace cost here"):text.index("## Production")]
    assert "per request (wsgi /api/report/7): throughput" in glance and "CPU per request, wsgi:" in glance
    assert "broke under recording: nothing" in glance
    assert all(len(re.findall(r"\d{4,}%", line)) == 0 for line in glance.splitlines())
