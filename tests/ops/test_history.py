"""Where the cost goes and the release history: reading a real Callgrind dump's functions, choosing
releases, a real --quick history's counts analysed (no step between two releases that differ by
less than the resolution; a planted change found as a step, with the function behind it), its
summary, chart and JSON, options refused with --history. (A real --history run and its cache:
test_history_run.py.)"""

import copy
import json
import sys

import pytest

from conftest import ROOT, run, TEST_DATA
from retrace_bench import driver, facts
from retrace_bench.instructions import profiles
from retrace_bench.ops import history
from retrace_bench.ops import history_report
from retrace_bench.instructions import analysis as ia
from retrace_bench.ops.run import BenchmarkData, ProcessEntry, RunData

DATA = TEST_DATA

#: `pip index versions retracesoftware` on 2026-12-02 (0.2.22 and 0.2.14-0.2.15 were never published).
PUBLISHED = ("0.2.30, 0.2.29, 0.2.28, 0.2.27, 0.2.26, 0.2.25, 0.2.24, 0.2.23, 0.2.21, 0.2.20, 0.2.19, 0.2.18, "
             "0.2.17, 0.2.16, 0.2.13, 0.2.12, 0.2.11, 0.2.10, 0.2.9, 0.2.8, 0.2.7, 0.2.6, 0.2.5, 0.2.4, 0.2.3, "
             "0.2.2, 0.1.14, 0.1.13, 0.1.12, 0.1.11, 0.1.10, 0.1.9, 0.1.8, 0.1.7, 0.1.6, 0.1.5, 0.1.4, 0.1.3, "
             "0.1.1, 0.1.0").split(", ")
SQLITE, GETPID = 6, 5       # the external benchmark's tests kept in tests/data/history/quick.json


def test_a_real_dump_files_functions():
    """A real dump (the caller's thread in an empty window of a recorded process): the functions'
    own costs add up to the file's total, no recursion level is left apart, and no inclusive cost
    passes the whole (the outer level holds the inner ones)."""
    path = DATA / "profile" / "empty-window-caller.out"
    text = path.read_text()
    total = int(next(line for line in text.splitlines() if line.startswith("totals:")).split()[1])
    functions = profiles.read_functions(path)
    assert sum(own for _, own, _ in functions.values()) == total
    assert not any(profiles.LEVEL_RE.search(name) for name in functions)
    assert max(inclusive for inclusive, _, _ in functions.values()) <= total
    assert any(obj == "libc.so.6" for _, _, obj in functions.values())
    assert any(profiles.interpreter(obj) for _, _, obj in functions.values())


def test_top_leaves_out_the_interpreter_and_the_path():
    side = {"_PyEval_EvalFrameDefault": [1000, 400, "libpython3.11.so.1.0"],
            "vectorcall()": [950, 10, "_retracesoftware_functional.so"],       # the path: 95% of the whole
            "Binder::lookup()": [300, 300, "_retracesoftware_stream.so"],
            "memcpy": [50, 50, "libc.so.6"],
            "0x0000000004936718": [990, 5, "???"]}
    top, interpreter = profiles.top(side, whole=1000)
    assert [row[0] for row in top] == ["Binder::lookup()", "memcpy"]
    assert interpreter == 400


def test_changes_rank_by_own_cost():
    a = {"Binder::lookup()": [2415, 2000, "x.so"], "walk()": [5000, 100, "x.so"], "gone()": [30, 30, "x.so"]}
    b = {"Binder::lookup()": [6010, 5600, "x.so"], "walk()": [8600, 100, "x.so"], "new()": [10, 10, "x.so"]}
    rows = profiles.changes(a, b)
    assert rows[0][:4] == ("Binder::lookup()", 2000, 5600, 3595)
    assert {r[0] for r in rows} == {"Binder::lookup()", "gone()", "new()"}      # walk()'s own cost did not move


# --------------------------------------------------------------------------- choosing releases

def published():
    return sorted(PUBLISHED, key=history.version_key)


@pytest.mark.parametrize("spec, expected", [
    ("0.2.20..0.2.30", ["0.2.20", "0.2.21", "0.2.23", "0.2.24", "0.2.25", "0.2.26", "0.2.27", "0.2.28", "0.2.29",
                        "0.2.30"]),
    ("0.2.9..0.2.11", ["0.2.9", "0.2.10", "0.2.11"]),          # versions compared as numbers, not text
    ("last3", ["0.2.28", "0.2.29", "0.2.30"]),
    ("0.2.30, 0.2.25,0.2.99", ["0.2.25", "0.2.30", "0.2.99"]),   # an unpublished one is kept: its row says so
])
def test_select_releases(spec, expected):
    assert history.select_releases(spec, published()) == expected


def test_a_last_n_beyond_the_index_says_how_many_it_became():
    """--history last1000 silently became every release: it says how many, before measuring."""
    releases = history.select_releases("last1000", published())
    assert history.scope_lines("last1000", releases, published()) == [
        f"[history] last1000: the package index has {len(published())} releases, so all {len(releases)} are measured"]
    assert history.scope_lines("last3", history.select_releases("last3", published()), published()) == []


@pytest.mark.parametrize("spec, said", [("0.2.30..0.2.20", "backwards"), ("0.2.x..0.2.30", "not a version"),
                                        ("last0", "at least 1"), ("0.3.0..0.3.9", "no release in that range"),
                                        ("latest", "expected A..B")])
def test_bad_release_specs_are_refused(spec, said):
    with pytest.raises(history.HistoryError, match=said):
        history.select_releases(spec, published())


def test_options_that_do_not_apply_to_a_history_are_refused(capsys):
    for extra in (["--versions", "0.2.29,0.2.30"], ["--apm"], ["--program", "{python} x.py"], ["--rounds", "4"],
                  ["--no-instructions"], ["--fail-on-regression"], ["--self-check"]):
        with pytest.raises(SystemExit) as exit_:
            driver.parse_args(["--history", "0.2.29..0.2.30", *extra])
        assert exit_.value.code == 2
        assert "--history cannot be combined with" in capsys.readouterr().err
    args = driver.parse_args(["--history", "last2", "--quick", "--instruction-rounds", "3", "--timeout", "100"])
    assert args.history == "last2" and args.instruction_rounds == 3


# --------------------------------------------------------------------------- a real history analysed

def real_history() -> dict:
    """A real --history run's plain and 0.2.27 to 0.2.30 (two tests kept: scripts/capture_history.py),
    and the row of a release the package index does not have, as run_history writes it."""
    data = json.loads((DATA / "history" / "quick.json").read_text())
    data["releases"].append({"release": "0.2.99", "status": "failed",
                             "error": "retracesoftware 0.2.99 is not on the package index"})
    return data


def plant(data: dict, release: str, number: int, fraction: float, function: str | None = None) -> None:
    """Make `release`'s test `number` cost `fraction` more on the caller: every window with calls
    gets that much more, and (when named) one function's own cost per call in its profile."""
    row = next(r for r in data["releases"] if r["release"] == release)
    for bench in row["benchmarks"]:
        for process in bench["instructions"]:
            for test in process["record"]["tests"]:
                if test["number"] != number:
                    continue
                empty = min(w["caller"] for w in test["windows"] if not w["calls"])
                for w in test["windows"]:
                    if w["calls"]:
                        w["caller"] += int((w["caller"] - empty) * fraction)
        if function:
            for sides in bench["functions"].values():
                entry = sides[str(number)]["caller"].setdefault(function, [0, 0, "_retracesoftware_stream.so"])
                entry[0] += 5000
                entry[1] += 5000


def test_the_real_step_is_found_with_the_function_behind_it():
    """Measured: 0.2.28 made a recorded sqlite query dearer on the caller by about 5% (its
    Binder::py_lookup did some 3,400 instructions more per call); 0.2.28 to 0.2.30 changed nothing
    beyond the resolution, nor did os.getpid() anywhere."""
    result = history.analyse(history.parse(real_history()))
    assert result.measured == ["0.2.27", "0.2.28", "0.2.29", "0.2.30"]
    assert {t.name for t in result.tests} == {"os.getpid()", "sqlite3 SELECT by primary key"}
    assert all(set(t.points) == set(result.measured) and t.plain is not None for t in result.tests)
    steps = [(t.number, s.a, s.b, s.effect.what, s.effect.verdict) for t, s in result.steps()]
    assert (SQLITE, "0.2.27", "0.2.28", ia.CALLER, facts.SLOWER) in steps
    assert all(number == SQLITE and (a, b) == ("0.2.27", "0.2.28") for number, a, b, _, _ in steps)
    step = next(s for t, s in result.steps() if s.effect.what == ia.CALLER)
    assert 3 < step.effect.percent < 8
    assert "Binder::py_lookup" in step.functions["caller"][0].function
    failed = [r for r in result.releases if r.status != "ok"]
    assert [r.release for r in failed] == ["0.2.99"] and "not on the package index" in failed[0].error


@pytest.mark.parametrize("fraction, verdict", [(0.10, facts.SLOWER), (-0.10, facts.FASTER)])
def test_a_planted_change_is_a_step_with_the_function_behind_it(fraction, verdict):
    data = real_history()
    plant(data, "0.2.30", SQLITE, fraction, function="retracesoftware_stream::Binder::lookup(planted)")
    result = history.analyse(history.parse(data))
    steps = [(t, s) for t, s in result.steps() if s.b == "0.2.30"]
    assert [(t.number, s.a, s.b, s.effect.what, s.effect.verdict) for t, s in steps if s.effect.what == ia.CALLER] == \
        [(SQLITE, "0.2.29", "0.2.30", ia.CALLER, verdict)]
    step = next(s for _, s in steps if s.effect.what == ia.CALLER)
    assert step.effect.percent == pytest.approx(fraction * 100, abs=1.5)
    assert step.functions["caller"][0].function == "retracesoftware_stream::Binder::lookup(planted)"
    text = history_report.render(result)
    assert "## Steps (" in text and "0.2.29 -> 0.2.30, caller" in text and "Binder::lookup()" in text


def test_a_release_without_the_test_leaves_a_gap_not_a_step():
    data = real_history()
    row = next(r for r in data["releases"] if r["release"] == "0.2.29")
    for bench in row["benchmarks"]:
        for process in bench["instructions"]:
            process["record"]["tests"] = [t for t in process["record"]["tests"] if t["number"] != SQLITE]
    result = history.analyse(history.parse(data))
    sqlite = next(t for t in result.tests if t.number == SQLITE)
    assert "0.2.29" not in sqlite.points and set(sqlite.points) == {"0.2.27", "0.2.28", "0.2.30"}
    assert all("0.2.29" not in (s.a, s.b) for s in sqlite.steps)


def test_the_analyzer_renders_a_history_archive(tmp_path):
    (tmp_path / history.HISTORY_FILE).write_text(json.dumps(real_history()))
    done = run([sys.executable, str(ROOT / "analyze_results.py"), str(tmp_path)])
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "summary.txt").read_text()
    assert "RETRACE RELEASE HISTORY" in text and "0.2.99     FAILED" in text and "## Steps (" in text
    assert "## The functions behind each step" in text and "Binder::py_lookup()" in text
    assert "## What changed in the newest release, 0.2.30 against 0.2.29" in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["unit"] == "instructions per call"
    assert all("benchmarks" not in r for r in summary["history"]["releases"])     # the raw records stay in history.json
    assert (tmp_path / "history.png").stat().st_size > 10_000
    gated = run([sys.executable, str(ROOT / "analyze_results.py"), "--fail-on-regression", str(tmp_path)])
    assert gated.returncode == 2 and "no baseline" in gated.stdout


def test_a_damaged_history_is_refused(tmp_path):
    (tmp_path / history.HISTORY_FILE).write_text(json.dumps({"format": 1, "spec": "x"}))
    done = run([sys.executable, str(ROOT / "analyze_results.py"), str(tmp_path)])
    assert done.returncode == 2 and "incomplete history.json" in done.stderr and "Traceback" not in done.stderr


def test_versions_show_the_functions_whose_own_cost_changed():
    """The same real counts as one --versions run: the summary names, per test, the functions whose
    own cost changed most between the releases, caller and writer apart."""
    data = real_history()
    plant(data, "0.2.30", SQLITE, 0.0, function="retracesoftware_stream::Binder::lookup(planted)")
    run_data = RunData([], {})
    benchmarks = {}
    for row in data["releases"]:
        if row["status"] != "ok" or row["release"] in ("0.2.27", "0.2.28"):
            continue
        label = "plain" if row["release"] == "plain" else f"retrace=={row['release']}"
        run_data.arms.append({"label": label, "kind": "plain" if label == "plain" else "retrace",
                              "python": "", "version": None})
        for b in row["benchmarks"]:
            merged = benchmarks.setdefault(b["name"], BenchmarkData(b["name"], b["script"]))
            merged.instructions += [ProcessEntry(**p) for p in b["instructions"]]
            merged.functions.update(copy.deepcopy(b["functions"]))
    run_data.benchmarks = list(benchmarks.values())
    result = ia.analyse(run_data)
    sqlite = next(t for t in result.tests if t.number == SQLITE)
    caller = next(c for c in sqlite.profile_changes if c.side == "caller")
    assert (caller.a, caller.b) == ("retrace==0.2.29", "retrace==0.2.30")
    assert caller.functions[0].function == "retracesoftware_stream::Binder::lookup(planted)"
    from retrace_bench.instructions import report as instruction_report
    text = "\n".join(instruction_report.profile_lines(result))
    assert "own cost changed most, retrace==0.2.30 vs retrace==0.2.29, caller" in text
    assert "of which the interpreter's own" in text and "[_retracesoftware_stream" in text


def test_a_release_that_does_not_install_is_a_row_and_is_not_cached(tmp_path):
    """A release whose virtualenv does not build: a failed row with pip's error; nothing cached, so
    the next run tries it again; the run goes on."""
    from retrace_bench.arms import ArmError

    def does_not_install():
        raise ArmError("retracesoftware==0.1.2 did not install: ERROR: No matching distribution found")
    cache = tmp_path / "cache" / "0.1.2-key.json"
    row = history.release_row("0.1.2", "[history 2/2] 0.1.2", ["0.1.2"], cache, None,
                              lambda job: history.measure(job[0], does_not_install, [], 1, 1, tmp_path, 10, tmp_path))
    assert row.status == "failed" and "No matching distribution" in row.error
    assert not cache.exists()
    cached = history.Release("0.2.30", measured_at="2026-12-02T12:34:33")
    history.store(cache, cached)
    again = history.release_row("0.1.2", "[history 2/2] 0.1.2", ["0.1.2"], cache, None, lambda job: 1 / 0)
    assert again.from_cache and again.measured_at == "2026-12-02T12:34:33"     # a cached one is not measured


def test_every_release_and_its_programs_run_from_paths_of_one_length(monkeypatch):
    """A recorded call's count moves with the length of the interpreter's path, so releases whose
    version strings differ in length (0.2.9, 0.2.30, 0.10.12) get virtualenvs whose paths have one
    length, for the per-operation arms and for the pyperformance programs alike."""
    from retrace_bench import arms
    from retrace_bench.programs import pyperformance
    from retrace_bench.programs.run import Program
    made = []
    monkeypatch.setattr(arms, "cached_venv", lambda name, *a, **k: made.append(name) or str(
        arms.cache_dir() / name / "bin" / "python"))
    monkeypatch.setattr(pyperformance, "cached_venv", arms.cached_venv)
    releases = ("0.2.9", "0.2.30", "0.10.12")
    paths = [arms.version_python(v, own_venv=True) for v in releases]
    assert len(set(map(len, paths))) == 1 and len(set(paths)) == 3
    program = Program("nbody", "pyperformance", script="run_benchmark.py", requirements=("numpy==2.0",))
    paths = [pyperformance.python_for(program, sys.executable, v) for v in releases]
    assert len(set(map(len, paths))) == 1 and len(set(paths)) == 3
    assert all(v in name for v, name in zip(releases * 2, made))     # still readable
