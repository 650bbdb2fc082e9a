"""Instructions per call: Callgrind's dump files, the per-process figure, the verdict rule, the
self-check's judgement on a real run (and on that run with each check broken), the gates
(--compare, --budget), and real processes under Valgrind."""

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, clean_env, run, TEST_DATA
from retrace_bench import compare, facts, selfcheck
from retrace_bench.instructions import budget, callgrind
from retrace_bench.ops import instruction_run
from retrace_bench.instructions import analysis as ia
from retrace_bench.instructions import report as ir
from retrace_bench.ops.run import RunData
from retrace_bench.handover import TestRecord, Window

DATA = TEST_DATA
_valgrind_skip = pytest.mark.skipif(callgrind.missing() is not None,
                                    reason=f"instructions cannot be counted here: {callgrind.missing()}")


def needs_valgrind(test):
    """Counts under Valgrind for real: skipped without it, and slow."""
    return pytest.mark.slow(_valgrind_skip(test))


# --------------------------------------------------------------------------- dump files

def test_window_counts_from_real_dump_files(tmp_path):
    """Real Callgrind dumps (a thread doing work while the caller waits): thread 1 is the caller,
    every other thread is "others"; the dump at the process's end is no window."""
    for path in (DATA / "callgrind").iterdir():
        shutil.copy(path, tmp_path / path.name)
    counts = callgrind.window_counts(tmp_path / "cg.out")
    assert counts == {"t1.w0.n0": (21348, 17396806), "t1.w1.n100": (20648, 17397008),
                      "t1.w2.n100": (20188, 17395679)}


def test_a_window_without_its_dump_or_still_draining_fails_the_process(tmp_path):
    for path in (DATA / "callgrind").iterdir():
        shutil.copy(path, tmp_path / path.name)
    test = TestRecord(1, "t", "internal", 100, [], windows=[Window("t1.w1.n100", 100), Window("t1.w9.n0", 0)])
    record = type("R", (), {"tests": [test]})
    assert "no dump for window t1.w9.n0" in callgrind.fill_windows(record, tmp_path / "cg.out")
    test.windows = [Window("t1.w1.n100", 100, capped=True)]
    assert "still grew" in callgrind.fill_windows(record, tmp_path / "cg.out")
    test.windows = [Window("t1.w1.n100", 100)]
    assert callgrind.fill_windows(record, tmp_path / "cg.out") is None
    assert (test.windows[0].caller, test.windows[0].others) == (20648, 17397008)


# --------------------------------------------------------------------------- compute

def window(name, calls, caller, others=0):
    return Window(name, calls, caller=caller, others=others)


def test_a_process_figure_discards_the_first_window_and_subtracts_the_empty_ones():
    test = TestRecord(1, "t", "internal", 10, [], windows=[
        window("w0", 10, 99_999, 99_999),               # discarded: first-call binding, caches
        window("w1", 10, 1_100, 300), window("w2", 0, 100, 100),
        window("w3", 10, 1_300, 500), window("w4", 0, 100, 100)])
    figures = ia.process_figures(test)
    assert figures == {ia.CALLER: 110.0, ia.OTHERS: 30.0, ia.TOTAL: 140.0}


def real_run() -> RunData:
    return RunData.from_json(json.loads((DATA / "instructions" / "run" / "run.json").read_text()))


def test_a_real_run_gives_every_test_both_arms_and_a_recorded_call_costs_more():
    result = ia.analyse(real_run())
    names = {t.name for t in result.tests}
    assert len(result.tests) == 14 and {"time.time()", "sqlite3 SELECT by primary key"} <= names
    for t in result.tests:
        assert set(t.arms) == {"plain", "retrace"}
        assert all(a.processes == 3 for a in t.arms.values())   # a quick run
    clock = next(t for t in result.tests if t.name == "time.time()")
    overhead = next(c for c in clock.comparisons if c.kind == "overhead").differences[ia.CALLER]
    assert overhead.verdict == facts.SLOWER and overhead.estimate > 10 * clock.arms["plain"].figures[ia.CALLER].value
    arithmetic = next(t for t in result.tests if t.name == "integer arithmetic")
    assert next(c for c in arithmetic.comparisons).differences[ia.CALLER].verdict == facts.WITHIN_NOISE


def test_caller_and_total_are_judged_over_the_family_of_tests():
    """Every comparison, caller and total, is Bonferroni-adjusted over the run's 14 tests, as wall
    time is: a recorded call's caller count moves 1-2% between processes, and at 95% each an A/A of
    the 14 tests made a false call about one run in eight."""
    result = ia.analyse(real_run())
    differences = [d for t in result.tests for c in t.comparisons for d in c.differences.values()]
    assert {d.what for d in differences} == {ia.CALLER, ia.TOTAL}
    assert {d.confidence for d in differences} == {1 - 0.05 / 14}
    assert result.comparison_confidence == 1 - 0.05 / 14


def test_the_summary_shows_instructions_and_the_gate_counts_them(sample_dir, tmp_path):
    results = tmp_path / "counted"
    results.mkdir()
    shutil.copy(DATA / "instructions" / "run" / "run.json", results / "run.json")
    out = run([sys.executable, str(ROOT / "analyze_results.py"), str(results)])
    assert out.returncode == 0, out.stderr
    summary = (results / "summary.txt").read_text()
    assert "## Instructions per call" in summary and "(250 calls per window)" in summary
    assert (results / "instructions.png").is_file()
    action = json.loads((results / "benchmark-action.json").read_text())
    assert any(e["unit"] == "instructions" and "time.time(): instructions caller retrace" in e["name"] for e in action)
    counted = json.loads((results / "summary.json").read_text())["instructions"]
    assert counted["unit"] == "instructions per call" and len(counted["tests"]) == 14


# --------------------------------------------------------------------------- the self-check

def selfcheck_runs():
    data = json.loads((DATA / "instructions" / "selfcheck.json").read_text())
    return {name: RunData.from_json(run_) for name, run_ in data.items()}


def judge(runs) -> tuple[int, str]:
    j = selfcheck.Judge()
    selfcheck.judge_instructions(j, runs["instructions_calibration"], runs.get("instructions_aa"))
    return j.misses, ""


def shift(run_: RunData, arm: str, test: int, per_call: float) -> None:
    """Add `per_call` instructions per call to the caller of every window with calls of one test in one arm."""
    for entry in run_.benchmarks[0].instructions:
        if entry.arm != arm:
            continue
        for t in entry.record["tests"]:
            if t["number"] == test:
                for w in t["windows"]:
                    w["caller"] += round(per_call * w["calls"])


def test_the_real_self_check_run_passes(capsys):
    misses, _ = judge(selfcheck_runs())
    out = capsys.readouterr().out
    assert misses == 0, out
    assert "read back within ±3%" in out and "must be called slower" in out and "4 tests compared" in out


@pytest.mark.parametrize("arm,test,per_call,what", [
    ("retrace+calibration", 1, 0.05 * 8735, "calibration reads 5% high"),
    ("retrace+sensitivity", 1, -324, "the planted work is gone"),
    ("retrace#2", 1, 0.03 * 7700, "an A/A arm 3% dearer"),
    ("retrace#2", 2, 0.02 * 8800, "an A/A arm's pure-Python work 2% dearer")])
def test_each_broken_check_is_a_miss(arm, test, per_call, what, capsys):
    runs = selfcheck_runs()
    shift(runs["instructions_calibration"], arm, test, per_call)
    misses, _ = judge(runs)
    assert misses >= 1, what


def test_a_check_that_judged_nothing_is_a_miss():
    runs = selfcheck_runs()
    empty = copy.deepcopy(runs["instructions_calibration"])
    for b in empty.benchmarks:
        b.instructions = []
        b.instruction_failures = {"retrace": "round 1: exit status 1"}
    misses, _ = judge({"instructions_calibration": empty})
    assert misses >= 1


# --------------------------------------------------------------------------- gates

def archive_with(tmp_path, name, shift_per_call=0.0) -> Path:
    """An archive of the real run (its summary.json), the recorded arm's sqlite caller shifted."""
    directory = tmp_path / name
    directory.mkdir()
    data = json.loads((DATA / "instructions" / "run" / "run.json").read_text())
    for b in data["benchmarks"]:
        for p in b["instructions"]:
            for t in p["record"]["tests"]:
                if p["arm"] == "retrace" and t["name"] == "sqlite3 SELECT by primary key":
                    for w in t["windows"]:
                        w["caller"] += round(shift_per_call * w["calls"])
    (directory / "run.json").write_text(json.dumps(data))
    assert run([sys.executable, str(ROOT / "analyze_results.py"), str(directory)]).returncode == 0
    return directory


def test_compare_gates_on_instructions(tmp_path, capsys):
    a = archive_with(tmp_path, "a")
    assert compare.compare(a, archive_with(tmp_path, "same"), True) == 0
    b = archive_with(tmp_path, "b", shift_per_call=5000)          # ~7% dearer sqlite caller
    assert compare.compare(a, b, True) == 1
    out = capsys.readouterr().out
    assert "sqlite3 SELECT by primary key caller" in out and "slower" in out and "no machine drift" in out


def test_budget_files_are_checked_before_anything_runs(tmp_path):
    good = budget.load(ROOT / "examples" / "instruction-budgets.toml")
    assert good["external: sqlite3 SELECT by primary key"] == {"caller": 85000.0, "total": 140000.0}
    for text, message in (('["x: y"]\ncaller = -1\n', "positive number"),
                          ('["x: y"]\nwall = 5\n', "not wall"),
                          ('[x]\ncaller = 5\n', "must be a table named"),
                          ("caller = ", "not valid TOML"), ("", "no budget")):
        with pytest.raises(budget.BudgetError, match=message):
            budget.parse(text, "b.toml")
    (tmp_path / "bad.toml").write_text('["x: y"]\ncaller = "lots"\n')
    result = run(["bash", str(ROOT / "run_all_benchmarks.sh"), "--budget", str(tmp_path / "bad.toml")])
    assert result.returncode == 2 and "--budget" in result.stderr and "Traceback" not in result.stderr


def test_a_budget_over_or_naming_no_test_fails_the_gate():
    result = ia.analyse(real_run())
    checks = budget.check({"external: sqlite3 SELECT by primary key": {"caller": 1000.0},
                           "internal: time.time()": {"total": 1e9}, "external: typo": {"total": 1.0}}, result)
    exceeded = {(c.name, c.measure) for c in checks if c.exceeded}
    assert exceeded == {("external: sqlite3 SELECT by primary key", "caller"), ("external: typo", "total")}


def test_the_shipped_budget_is_met_by_the_pinned_release():
    checks = budget.check(budget.load(ROOT / "examples" / "instruction-budgets.toml"), ia.analyse(real_run()))
    assert checks and not [c for c in checks if c.exceeded]


# --------------------------------------------------------------------------- real processes

def test_instructions_outside_callgrind_are_refused():
    result = run([sys.executable, str(ROOT / "synthetic_benchmark.py"), "--instructions", "--only", "1"])
    assert result.returncode == 2 and "Callgrind extension" in result.stderr and "Traceback" not in result.stderr


def small_benchmark(path: Path, tests: list[tuple[str, str]]) -> Path:
    """A benchmark script of the given (name, statement) tests, 400 iterations each."""
    body = "".join(f"@suite.test({name!r}, INTERNAL, iterations=400)\ndef test_{i}(loops):\n"
                   f"    for _ in repeat(None, loops):\n        {statement}\n\n" for i, (name, statement) in enumerate(tests))
    path.write_text("import time\nfrom itertools import repeat\nfrom benchlib import INTERNAL, Suite\n"
                    f"suite = Suite({path.stem!r})\n\n{body}if __name__ == '__main__':\n    suite.main()\n")
    return path


@needs_valgrind
def test_a_recorded_call_counted_under_valgrind(tmp_path):
    """A small benchmark in the plain and the recorded arm, under Callgrind for real: every window
    has its counts, the recording is verified, and a recorded clock read costs the caller more."""
    script = small_benchmark(tmp_path / "clock_benchmark.py", [("time.time()", "time.time()")])
    code = f"""
import json, sys
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
from retrace_bench import arms, procs
from retrace_bench.instructions import callgrind
from retrace_bench.ops import instruction_run
from retrace_bench.ops import run as ops_run
with procs.managed(), procs.private_dir("retrace-bench.") as scratch:
    runner = ops_run.Runner(scratch, 300)
    out = {{}}
    for arm in arms.make_arms():
        if arm.recorded:
            runner.measure_empty_trace(arm)
        keep = Path({str(tmp_path)!r}) / "callgrind" / arm.label
        result, profile = instruction_run.run_counted(runner, arm, {str(script)!r}, ["--instructions", "--windows", "2"],
                                                   callgrind.build_extension(), keep)
        out[arm.label] = [result.failure, result.trace_bytes, result.record.to_json() if result.record else None,
                          profile]
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["plain"][0] is None and out["retrace"][0] is None, out
    assert out["retrace"][1] > 0                           # the trace was verified
    figures = {}
    for label, (_, _, record, _) in out.items():
        windows = record["tests"][0]["windows"]
        assert len(windows) == 5 and all(w["caller"] > 0 for w in windows)
        test = TestRecord(**{**record["tests"][0], "runs": [], "windows": [Window(**w) for w in windows]})
        figures[label] = ia.process_figures(test)
    assert figures["retrace"][ia.CALLER] > 5 * figures["plain"][ia.CALLER]
    assert figures["retrace"][ia.OTHERS] > 1000 > abs(figures["plain"][ia.OTHERS])
    assert not list(Path(tmp_path).glob("*.retrace"))
    # Where it goes: the kept dump files (private) and the profile read from them: Retrace's own
    # functions are in the recorded arm's caller profile, not in plain's.
    for label in out:
        kept = tmp_path / "callgrind" / label
        assert kept.stat().st_mode & 0o777 == 0o700 and len(list(kept.iterdir())) >= 5
    recorded, plain = out["retrace"][3]["1"], out["plain"][3]["1"]
    assert any("retracesoftware" in obj and inclusive > 100 for inclusive, _, obj in recorded["caller"].values())
    assert not any("retracesoftware" in obj for _, _, obj in plain["caller"].values())
    whole = figures["retrace"][ia.CALLER]        # the kept functions' own costs are most of the whole
    assert 0.7 * whole < sum(own for _, own, _ in recorded["caller"].values()) < 1.05 * whole


@needs_valgrind
def test_a_test_the_plan_extends_gets_more_processes_of_its_script_prefix(tmp_path):
    """Two recorded arms of one release under Callgrind for real, 2 processes each; the plan asks a
    third for the recorded clock read (test 2), so the recorded arms get one more process each,
    running the script up to that test and no further; plain does not. Whether a given spread misses
    the target is the planner's test (below): here the plan is fixed, since on a quiet machine two
    processes' counts can agree so closely that nothing misses it (CI's did)."""
    script = small_benchmark(tmp_path / "three_benchmark.py",
                             [("sum", "sum(range(5))"), ("time.time()", "time.time()"), ("len", "len('abc')")])
    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from retrace_bench import arms, facts, procs
from retrace_bench.ops import instruction_run
from retrace_bench.ops import run as ops_run
from retrace_bench.instructions import analysis as instruction_analysis
facts.INSTRUCTION_MAX_ROUNDS = 3
real_plan = instruction_analysis.processes_for_target
def fixed_plan(result, target_percent, most):
    real_plan(result, target_percent, most)                  # runs, whatever it finds
    return {{facts.result_name({str(script)!r}): {{2: 3}}}}
instruction_analysis.processes_for_target = fixed_plan
with procs.managed(), procs.private_dir("retrace-bench.") as scratch:
    runner = ops_run.Runner(scratch, 300)
    pinned = arms.pinned_version()
    plan = arms.make_arms([pinned, pinned])
    for arm in plan:
        if arm.recorded:
            runner.measure_empty_trace(arm)
    data = ops_run.RunData([a.to_json() for a in plan], {{}})
    data.benchmarks = [ops_run.BenchmarkData(facts.result_name({str(script)!r}), {str(script)!r})]
    instruction_run.run_instructions(runner, [{str(script)!r}], plan, 2, 1, data, progress=lambda *a, **k: None,
                                  target_percent=facts.INSTRUCTION_TARGET_PERCENT)
print(json.dumps(data.to_json()))
"""
    done = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    data = RunData.from_json(json.loads(done.stdout.splitlines()[-1]))
    bench = data.benchmarks[0]
    assert not bench.instruction_failures
    extended = data.config["instructions"]["extended"][bench.name]
    assert 2 in extended["tests"] and 3 not in extended["tests"] and extended["processes"] == 3
    third = [p for p in bench.instructions if p.round == 3]
    plain, *recorded = [a["label"] for a in data.arms]
    assert sorted(p.arm for p in third) == sorted(recorded) and len(recorded) == 2   # the recorded arms only
    assert all([t["number"] for t in p.record["tests"]] == [1, 2] for p in third)
    result = ia.analyse(data)
    rounds = {t.name: next(c for c in t.comparisons if c.kind == "versions").differences[ia.CALLER].rounds
              for t in result.tests}
    assert rounds == {"sum": 3, "time.time()": 3, "len": 2}
    assert result.tests[1].arms[recorded[0]].processes == 3 and result.tests[1].arms[plain].processes == 2
    assert "got more processes" in "\n".join(ir.method_lines(result))


def test_the_processes_planned_for_the_target_follow_the_spread_and_not_the_difference():
    """A versions run whose B moves a test's caller by a known spread: the plan asks more processes
    for a wider spread (at most the maximum), none where the target is met, and the same number
    whatever the difference itself is (stopping on width leaves the verdict unbiased)."""
    def planned(spread, shift=0.0):
        data = versions_run("os.stat()").to_json()
        for bench in data["benchmarks"]:
            for entry in bench["instructions"]:
                if entry["arm"] != "retrace==0.2.30":
                    continue
                for t in entry["record"]["tests"]:
                    if t["name"] == "time.time()":
                        factor = 1 + shift + (spread if entry["round"] % 2 else -spread)
                        for w in t["windows"]:
                            if w["calls"]:
                                w["caller"] = round(w["caller"] * factor)
        return ia.processes_for_target(ia.analyse(RunData.from_json(data)), 2.0, 20)
    assert planned(0.0) == {}
    small, wide = planned(0.004), planned(0.02)
    assert small == {"internal": {1: small["internal"][1]}} and 3 < small["internal"][1] < 20
    assert wide == {"internal": {1: 20}}
    assert planned(0.004, shift=0.05) == small


def test_the_extra_processes_stop_where_the_section_would_pass_its_time(monkeypatch):
    """Planned processes that would end past the deadline are not run, and the summary says time
    cut the test short; with time left, they run, the recorded arms only, up to the planned number."""
    from retrace_bench import arms as arms_mod
    data = versions_run("os.stat()")
    ran = []
    monkeypatch.setattr(ia, "processes_for_target", lambda *a: {"internal": {1: 12}} if not ran else {})
    monkeypatch.setattr(instruction_run, "run_jobs", lambda runner, jobs, *a: ran.append(jobs) or {})
    plan = [arms_mod.Arm("plain", arms_mod.PLAIN, sys.executable)] + [
        arms_mod.Arm(label, arms_mod.RETRACE, sys.executable, "0.2.30") for label in ("retrace==0.2.29", "retrace==0.2.30")]
    scripts = ["external_boundary_benchmark.py", "synthetic_benchmark.py"]
    for seconds_left, expected in ((-1.0, 0), (1e6, 2 * (12 - 3))):
        ran.clear()
        extended, lines = {}, []
        instruction_run.extend_to_target(None, data, scripts, plan, 3, 1, Path("."), 2.0, extended, lines.append,
                                      instruction_run.time.monotonic() + seconds_left, {"synthetic_benchmark.py": [5.0]})
        jobs = [job for batch in ran for job in batch]
        assert len(jobs) == expected
        assert {arm.label for _, _, _, arm, _ in jobs} <= {"retrace==0.2.29", "retrace==0.2.30"}
        assert extended["internal"]["cut_by_time"] == (expected == 0)
        assert extended["internal"]["processes"] == (3 if expected == 0 else 12)
        if expected:
            assert {extra[0] for *_, extra in jobs} == {"--through=0001"}
        else:
            assert "no time left" in lines[-1]
            assert "cut short" in "\n".join(ir.extension_lines({"target_percent": 2.0, "rounds": 3, "extended": extended}))


def test_a_run_without_two_recorded_arms_aims_at_no_target_and_claims_none(monkeypatch):
    """The default run (plain and one recorded arm) has no comparison between versions: asked for
    the target, it adds no process, keeps no target in its configuration, and the summary says
    nothing about version half-widths; with two recorded arms the target is kept."""
    from retrace_bench import arms as arms_mod
    monkeypatch.setattr(instruction_run, "build_extension", lambda **k: Path("."))
    monkeypatch.setattr(instruction_run, "run_jobs", lambda *a: {})
    monkeypatch.setattr(instruction_run, "valgrind_version", lambda: "valgrind-test")
    aimed = []
    monkeypatch.setattr(instruction_run, "extend_to_target", lambda *a: aimed.append(a[7]))
    plain = arms_mod.Arm("plain", arms_mod.PLAIN, sys.executable)
    for recorded in (["retrace"], ["retrace==0.2.29", "retrace==0.2.30"]):
        plan = [plain] + [arms_mod.Arm(label, arms_mod.RETRACE, sys.executable, "0.2.30") for label in recorded]
        data = RunData.from_json(json.loads((DATA / "instructions" / "run" / "run.json").read_text()))
        aimed.clear()
        instruction_run.run_instructions(None, ["synthetic_benchmark.py"], plan, 3, 1, data, progress=lambda *a: None,
                                      target_percent=facts.INSTRUCTION_TARGET_PERCENT)
        config = data.config["instructions"]
        if len(recorded) == 1:
            assert aimed == [] and "target_percent" not in config and ir.extension_lines(config) == []
        else:
            assert aimed == [facts.INSTRUCTION_TARGET_PERCENT] and config["target_percent"] == 2.0


def versions_run(slower_wall_test: str) -> RunData:
    """The real quick run as a --versions run: its recorded arm twice (retrace==0.2.29, and the same
    processes as retrace==0.2.30), the second's wall time and CPU of one test 10 µs per call dearer,
    its instructions the same."""
    data = json.loads((DATA / "instructions" / "run" / "run.json").read_text())
    recorded = next(a for a in data["arms"] if a["label"] == "retrace")
    data["arms"] = [a for a in data["arms"] if a is not recorded] + [
        {**recorded, "label": "retrace==0.2.29", "version": "0.2.29"}, {**recorded, "label": "retrace==0.2.30"}]
    for bench in data["benchmarks"]:
        for key in ("processes", "instructions"):
            copies = []
            for entry in bench[key]:
                if entry["arm"] != "retrace":
                    continue
                entry["arm"] = "retrace==0.2.29"
                copy_ = copy.deepcopy({**entry, "arm": "retrace==0.2.30"})
                for t in copy_["record"]["tests"]:
                    if key == "processes" and t["name"] == slower_wall_test:
                        for r in t["runs"]:
                            r["wall_ms"] += 0.01 * t["iterations"]
                            r["cpu_ms"] += 0.01 * t["iterations"]
                copies.append(copy_)
            bench[key] += copies
        bench["functions"] = {}
    return RunData.from_json(data)


def test_the_gate_judges_counted_tests_on_instructions_and_the_rest_on_wall_time(tmp_path):
    """A version 10 µs per call slower in wall time on a test whose instructions did not change passes the
    gate (its wall time is information there); without instruction counts the same run fails it."""
    from retrace_bench import effects
    from retrace_bench.ops import analysis
    data = versions_run("os.stat()")
    result, counted = analysis.analyse(data), ia.analyse(data)
    assert effects.regressions(ia.effect_rows(counted)) == []
    assert effects.regressions(analysis.effect_rows(result, counted)) == []
    assert [r for r in effects.regressions(analysis.effect_rows(result)) if "os.stat()" in r["subject"]]  # wall time gates
    for name, keep in (("counted", True), ("uncounted", False)):
        directory = tmp_path / name
        directory.mkdir()
        raw = data.to_json()
        if not keep:
            for bench in raw["benchmarks"]:
                bench["instructions"] = []
            raw["config"].pop("instructions", None)
        (directory / "run.json").write_text(json.dumps(raw))
        out = run([sys.executable, str(ROOT / "analyze_results.py"), str(directory), "--fail-on-regression"])
        assert out.returncode == (0 if keep else 1), out.stdout[-1500:] + out.stderr[-1500:]
        assert "Traceback" not in out.stderr
        if not keep:
            assert "ops external: os.stat(): latency (retrace==0.2.30 vs retrace==0.2.29)" in out.stdout


@needs_valgrind
def test_an_unwritable_cache_skips_the_counts_with_the_reason(tmp_path, monkeypatch):
    """HOME (the cache) that cannot be written: the instruction counts are skipped, naming the cache
    folder and XDG_CACHE_HOME, and the run goes on (the driver catches InstructionError)."""
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("a file where a home should be\n")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(not_a_folder))
    with pytest.raises(callgrind.InstructionError, match="cache folder .*home.* cannot be written.*XDG_CACHE_HOME"):
        callgrind.build_extension(progress=lambda _: None)


def test_a_relative_cache_home_is_ignored(monkeypatch, tmp_path):
    """A relative XDG_CACHE_HOME is not taken from the clone (the driver's folder): the XDG rule, ignored."""
    from retrace_bench import arms
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert arms.cache_dir() == tmp_path / ".cache" / "retrace-benchmarks"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "abs"))
    assert arms.cache_dir() == tmp_path / "abs" / "retrace-benchmarks"
