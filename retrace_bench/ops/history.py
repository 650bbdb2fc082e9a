"""--history: instructions per call of every per-operation test across Retrace releases (docs/versions.md).

Instruction counts do not depend on the machine's state, so a release measured once stays measured:
each release's counts are cached under results/history-cache/, keyed by the release, the Python
build, the benchmark files and the counting method; only releases not yet measured are measured,
each in its own cached virtualenv. Between adjacent releases a step is named where an operation's
caller or total cost changed by the instruction verdict rule (a Welch interval: the releases ran in
separate processes, and counts carry no machine drift). Each release's profile (profiles.py) says
which functions' own cost moved at a step.

run -> history.json (every release's processes, from the cache or measured now) -> analyse ->
history_report renders it (summary.txt, summary.json, history.png)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from retrace_bench import effects, facts, procs
from retrace_bench import harness
from retrace_bench.arms import PLAIN, RETRACE, Arm, ArmError, REQUIREMENTS, version_python
from retrace_bench.effects import Effect
from retrace_bench.inputs import InputError, read_text
from retrace_bench.instructions import analysis as instruction_analysis
from retrace_bench.instructions import callgrind
from retrace_bench.instructions.analysis import JUDGED
from retrace_bench.ops import instruction_run
from retrace_bench.ops.run import BenchmarkData, ProcessEntry, RunData, Runner, discover_scripts
from retrace_bench.results import ROOT, suite_commit
from retrace_bench.rounds import RunError, say

PACKAGE = "retracesoftware"
HISTORY_FILE = "history.json"
FORMAT = 1
VERSION_RE = re.compile(r"^\d+(\.\d+)*$")


class HistoryError(RunError):
    """A --history that cannot run (said before anything is measured)."""


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def published_releases(python: str = sys.executable) -> list[str]:
    """The package index's releases of retracesoftware, oldest first (pip's own index and settings)."""
    try:
        done = subprocess.run([python, "-m", "pip", "index", "versions", PACKAGE], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.SubprocessError) as error:
        raise HistoryError(f"cannot ask the package index for {PACKAGE}'s releases: {error}") from None
    match = re.search(r"^Available versions: (.+)$", done.stdout, re.M)
    if done.returncode != 0 or not match:
        said = [line for line in (done.stderr or done.stdout).splitlines()
                if line.strip() and not line.startswith("WARNING")]
        raise HistoryError(f"cannot list {PACKAGE}'s releases from the package index: "
                           f"{said[-1] if said else 'pip index versions found none'}")
    return sorted((v.strip() for v in match.group(1).split(",") if VERSION_RE.match(v.strip())), key=version_key)


def select_releases(spec: str, published: list[str]) -> list[str]:
    """The releases a --history SPEC names, oldest first: A..B (the published releases from A to B,
    both included), lastN (the N newest), or a comma-separated list (a release the index does not
    have is kept: its row says so)."""
    spec = spec.strip()
    if m := re.fullmatch(r"last(\d+)", spec):
        count = int(m.group(1))
        if count < 1:
            raise HistoryError("--history lastN: N must be at least 1")
        return published[-count:]
    if ".." in spec:
        low, _, high = (part.strip() for part in spec.partition(".."))
        for end in (low, high):
            if not VERSION_RE.match(end):
                raise HistoryError(f"--history {spec!r}: {end!r} is not a version (expected e.g. 0.2.20..0.2.30)")
        if version_key(low) > version_key(high):
            raise HistoryError(f"--history {spec!r}: the range runs backwards")
        chosen = [v for v in published if version_key(low) <= version_key(v) <= version_key(high)]
        if not chosen:
            raise HistoryError(f"--history {spec!r}: the package index has no release in that range "
                               f"(it has {published[0]} .. {published[-1]})")
        return chosen
    names = [v.strip() for v in spec.split(",") if v.strip()]
    bad = [v for v in names if not VERSION_RE.match(v)]
    if not names or bad:
        raise HistoryError(f"--history {spec!r}: expected A..B, lastN or a list X,Y,Z of versions"
                           + (f" ({bad[0]!r} is not a version)" if bad else ""))
    return sorted(dict.fromkeys(names), key=version_key)


def benchmark_files(scripts: list[str]) -> list[Path]:
    """What a count depends on in this suite: the scripts, their runner, the Callgrind extension, and
    how the processes are launched and their windows read."""
    return [ROOT / s for s in scripts] + [Path(harness.__file__), callgrind.NATIVE, Path(callgrind.__file__), Path(instruction_run.__file__)]


def cache_key(release: str, scripts: list[str], method: dict) -> str:
    """What a cached release's counts depend on: the release, the Python build and the other pinned
    packages, the benchmark files, the counting method (and Valgrind)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"release": release, "python": python_build(), "method": method}, sort_keys=True).encode())
    digest.update(REQUIREMENTS.read_bytes())
    for path in benchmark_files(scripts):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def python_build() -> str:
    return f"{platform.python_implementation()} {platform.python_version()} {' '.join(platform.python_build())} " \
           f"{platform.machine()}"


@dataclass
class Release:
    """One row of the history: a release (or plain Python, the reference) and its processes."""
    release: str                                   # X.Y.Z, or "plain"
    status: str = "ok"                             # ok or failed
    error: str | None = None
    measured_at: str | None = None
    from_cache: bool = False
    seconds: float | None = None                   # how long measuring it took (when it was measured)
    benchmarks: list[dict] = field(default_factory=list)   # BenchmarkData of its instruction processes

    @property
    def label(self) -> str:
        return PLAIN if self.release == PLAIN else f"{RETRACE}=={self.release}"


def cache_path(cache: Path, release: str, key: str) -> Path:
    return cache / f"{release}-{key}.json"


def load_cached(path: Path) -> Release | None:
    try:
        data = json.loads(path.read_text())
        release = Release(**{k: v for k, v in data.items() if k != "format"})
        return release if data.get("format") == FORMAT and release.status == "ok" else None
    except (OSError, ValueError, TypeError):
        return None                              # a damaged entry is measured again


def store(path: Path, release: Release) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"format": FORMAT, **asdict(release), "from_cache": False}, ensure_ascii=False))
    os.replace(tmp, path)


def measure(release: str, python, scripts: list[str], rounds: int, windows: int, scratch: Path, timeout: float,
            profile_dir: Path) -> Release:
    """One release's (or plain's) instruction processes, or a failed row with the reason. `python`:
    a callable giving the release's interpreter (its virtualenv, perhaps still being built)."""
    started = time.monotonic()
    row = Release(release, measured_at=datetime.datetime.now().isoformat(timespec="seconds"))
    try:
        if release == PLAIN:
            arm = Arm(PLAIN, PLAIN, sys.executable)
        else:
            arm = Arm(row.label, RETRACE, python(), release)
        runner = Runner(scratch, timeout)
        if arm.recorded:
            runner.measure_empty_trace(arm)
        data = RunData([arm.to_json()], {})
        data.benchmarks = [BenchmarkData(facts.result_name(s), s) for s in scripts]
        instruction_run.run_instructions(runner, scripts, [arm], rounds, windows, data, progress=say,
                                      profile_dir=profile_dir / release)
    except (ArmError, RunError, callgrind.InstructionError) as error:
        row.status, row.error = "failed", str(error)
        return row
    row.seconds = time.monotonic() - started
    failures = [f"{b.name}: {b.instruction_failures[arm.label]}" for b in data.benchmarks
                if arm.label in b.instruction_failures]
    if failures:
        row.status, row.error = "failed", "; ".join(failures)
    row.benchmarks = [asdict(b) for b in data.benchmarks]
    return row


def release_row(release: str, head: str, published: list[str], path: Path, built, measure_one) -> Release:
    """One release's row: not on the index, from the cache, or measured now (and cached when it
    measured). `built`: the future of its virtualenv, when it is being built beside the counting."""
    if release != PLAIN and release not in published:
        say(f"{head}: not on the package index")
        return Release(release, "failed", f"{PACKAGE} {release} is not on the package index")
    cached = load_cached(path)
    if cached is not None:
        cached.from_cache = True
        say(f"{head}: from the cache (measured {cached.measured_at})")
        return cached
    say(f"{head}: measuring")
    row = measure_one((release, built.result if built else (lambda: version_python(release, say, True))))
    if row.status == "ok":
        store(path, row)
        say(f"{head}: measured in {row.seconds:.0f}s, cached")
    else:
        say(f"{head}: FAILED: {row.error}")
    return row


def scope_lines(spec: str, releases: list[str], published: list[str]) -> list[str]:
    """What a lastN asking for more than the index has becomes (said before anything is measured)."""
    asked = re.fullmatch(r"last(\d+)", spec.strip())
    if asked and int(asked[1]) > len(releases):
        return [f"[history] {spec.strip()}: the package index has {len(published)} releases, so all "
                f"{len(releases)} are measured"]
    return []


def run_history(spec: str, releases: list[str], published: list[str], results: Path, run_dir: Path, quick: bool,
                rounds: int | None, timeout: float) -> dict:
    """The releases of the spec (select_releases) and plain, each from the cache or measured now;
    history.json's data."""
    # Not the scripts that need servers: a history starts none (docs/versions.md).
    scripts = [s for s in discover_scripts() if s not in facts.SCRIPT_SERVICES]
    if not scripts:
        raise HistoryError(f"no {facts.BENCHMARK_GLOB} found in {ROOT}")
    rounds = rounds or (facts.QUICK_INSTRUCTION_ROUNDS if quick else facts.INSTRUCTION_ROUNDS)
    windows = facts.QUICK_INSTRUCTION_WINDOWS if quick else facts.INSTRUCTION_WINDOWS
    method = {"rounds": rounds, "windows": windows, "quick": quick, "calls_divisor": facts.INSTRUCTION_CALLS_DIVISOR,
              "quiet_s": facts.INSTRUCTION_QUIET_S, "valgrind": callgrind.valgrind_version(),
              "hash_seed": facts.INSTRUCTION_HASH_SEED, "version_name_width": facts.VERSION_NAME_WIDTH}
    cache = results / facts.HISTORY_CACHE_DIRECTORY
    rows: list[Release] = []
    started = time.monotonic()
    names = [PLAIN, *releases]
    say(f"[history] {len(releases)} release(s): {', '.join(releases)}; cache {cache}/")
    keys = {release: cache_key(release, scripts, method) for release in names}
    # The virtualenvs of the releases to measure are built one after another beside the counting
    # (a count does not depend on what runs beside it), so that the next one is ready when needed.
    to_build = [r for r in releases if r in published and load_cached(cache_path(cache, r, keys[r])) is None]
    for line in scope_lines(spec, releases, published):
        say(line)
    uncached = len(to_build) + (load_cached(cache_path(cache, PLAIN, keys[PLAIN])) is None)
    say(f"[history] {uncached} of {len(names)} not cached yet: about {uncached * facts.HISTORY_S_PER_RELEASE / 60:.0f} "
        f"minutes ({facts.HISTORY_S_PER_RELEASE} s each on the 2-core machine the reference run was measured on); "
        "cached ones take seconds")
    builder = ThreadPoolExecutor(max_workers=1)
    venvs = {r: builder.submit(version_python, r, say, True) for r in to_build}
    try:
        with procs.private_dir("retrace-bench.") as scratch:
            for number, release in enumerate(names, 1):
                rows.append(release_row(release, f"[history {number}/{len(names)}] {release}", published,
                                        cache_path(cache, release, keys[release]), venvs.get(release),
                                        lambda r: measure(r[0], r[1], scripts, rounds, windows, scratch, timeout,
                                                          run_dir / facts.CALLGRIND_DIRECTORY)))
    finally:
        builder.shutdown(wait=True, cancel_futures=True)      # an interrupted run builds no more
    return {"format": FORMAT, "spec": spec, "releases": [asdict(r) for r in rows],
            "config": {"python": python_build(), "suite_commit": suite_commit(), "scripts": scripts,
                       "method": method, "cache": str(cache), "seconds": time.monotonic() - started,
                       "min_effect_fraction": facts.INSTRUCTION_MIN_EFFECT_FRACTION}}


# ------------------------------------------------------------------------------ compute

@dataclass
class Step:
    """A change between adjacent measured releases that the verdict rule calls real."""
    a: str
    b: str
    effect: Effect                  # B - A of the caller or the total, Welch over processes
    functions: dict[str, list[instruction_analysis.FunctionChange]] = field(default_factory=dict)


@dataclass
class TestHistory:
    benchmark: str
    number: int
    name: str
    plain: instruction_analysis.ArmInstructions | None
    points: dict[str, instruction_analysis.ArmInstructions]      # release -> figures
    steps: list[Step] = field(default_factory=list)
    # the newest measured release against the one before it, whatever the verdicts: side -> changes
    newest: dict[str, list[instruction_analysis.FunctionChange]] = field(default_factory=dict)

    def profiled(self) -> bool:
        """Whether Retrace does work of its own per call here (as instruction_analysis)."""
        if self.plain is None:
            return True
        whole = max(self.plain.figures["total"].value, 1.0)
        return any(a.figures["total"].value >= facts.PROFILE_MIN_RATIO * whole for a in self.points.values())


@dataclass
class HistoryResult:
    spec: str
    releases: list[Release]
    tests: list[TestHistory]
    config: dict

    @property
    def measured(self) -> list[str]:
        return [r.release for r in self.releases if r.status == "ok" and r.release != PLAIN]

    def steps(self) -> list[tuple[TestHistory, Step]]:
        return [(t, s) for t in self.tests for s in t.steps]


def parse(data: dict) -> HistoryResult:
    try:
        if data.get("format") != FORMAT:
            raise InputError(f"not a format-{FORMAT} history")
        releases = [Release(**r) for r in data["releases"]]
        return HistoryResult(data["spec"], releases, [], data["config"])
    except (KeyError, TypeError, AttributeError):
        raise InputError("an incomplete history.json") from None


def analyse(history: HistoryResult) -> HistoryResult:
    """Per test: each release's figures (instruction_analysis, one arm per release) and the steps
    between adjacent measured releases, with the functions behind each."""
    arms, benchmarks = [], {}
    for row in history.releases:
        if row.status != "ok":
            continue
        arms.append({"label": row.label, "kind": PLAIN if row.release == PLAIN else RETRACE,
                     "python": "", "version": None if row.release == PLAIN else row.release})
        for b in row.benchmarks:
            merged = benchmarks.setdefault(b["name"], BenchmarkData(b["name"], b["script"]))
            merged.instructions += [ProcessEntry(**p) for p in b["instructions"]]
            merged.functions.update(b.get("functions", {}))
    run = RunData(arms, history.config)
    run.benchmarks = list(benchmarks.values())
    counted = instruction_analysis.analyse(run)
    counted = counted.tests if counted else []
    by_label = {r.label: r.release for r in history.releases}
    order = history.measured
    for t in counted:
        points = {by_label[label]: a for label, a in t.arms.items() if label != PLAIN}
        test = TestHistory(t.benchmark, t.number, t.name, t.arms.get(PLAIN), points)
        present = [r for r in order if r in points]
        for a, b in zip(present, present[1:]):
            for measure in JUDGED:
                x, y = asdict(points[a].figures[measure]), asdict(points[b].figures[measure])
                confidence = instruction_analysis.comparison_confidence(len(counted))
                effect = effects.welch_difference(measure, effects.INSTRUCTIONS, x, y, confidence, exact=True)
                if effect.real:
                    step = Step(a, b, effect)
                    sides_a = benchmarks[t.benchmark].functions.get(f"{RETRACE}=={a}", {}).get(str(t.number))
                    sides_b = benchmarks[t.benchmark].functions.get(f"{RETRACE}=={b}", {}).get(str(t.number))
                    if sides_a and sides_b:
                        step.functions = {c.side: c.functions for c in
                                          instruction_analysis.profile_changes(a, b, sides_a, sides_b)}
                    test.steps.append(step)
        if len(present) >= 2:
            a, b = present[-2:]
            sides = [benchmarks[t.benchmark].functions.get(f"{RETRACE}=={r}", {}).get(str(t.number)) for r in (a, b)]
            if all(sides):
                test.newest = {c.side: c.functions for c in instruction_analysis.profile_changes(a, b, *sides)}
        history.tests.append(test)
    return history


def load(directory: Path) -> HistoryResult | None:
    """A history run's result (history.json), analysed; None when the directory has none."""
    path = directory / HISTORY_FILE
    if not path.exists():
        return None
    try:
        return analyse(parse(json.loads(read_text(path))))
    except ValueError:
        raise InputError(f"{path}: not JSON") from None

