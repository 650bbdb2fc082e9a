"""The operations workload's runner: every per-operation benchmark process of a run, the arms
interleaved over rounds (rounds.Rounds).

Round r runs every arm once for every benchmark, in round r's order of a Williams design
(arms.rotation: positions and predecessors balanced). Each
process hands its JSON record to the manager through a file descriptor; a recorded process's trace
is verified (it exists where the run said it recorded, and grew past an empty recording), sized and
deleted. Then, per recorded arm: the trace bytes each operation adds (two recordings that differ
only in the call count, sized around each test), the burst/sustained regime profile, and a replay check. Everything
goes to run.json in a fresh run directory, which becomes the archive; results/ gets the new latest
files only when the run completes.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from retrace_bench import facts, procs
from retrace_bench import replay as replay_words
from retrace_bench.arms import Arm, design_period
from retrace_bench.handover import ProcessRecord, RecordError
from retrace_bench.harness import LIVE_LINE_PREFIXES
from retrace_bench.ops.data import BenchmarkData, ProcessEntry, RunData
from retrace_bench.procs import read_output as read
from retrace_bench.recordings import empty_recording_size, file_part
from retrace_bench.render import printable
from retrace_bench.replay import DIFFERS, FAILS, IDENTICAL, replay
from retrace_bench.results import ROOT
from retrace_bench.rounds import Rounds, RunError, Target, say

# --------------------------------------------------------------------------- one process

@dataclass
class ProcessResult:
    record: ProcessRecord | None
    text: str
    failure: str | None = None
    trace_bytes: int | None = None
    own_text: str | None = None        # what the recorded process itself printed (for the replay check)


class Runner:
    """Runs benchmark processes of the arms in a private scratch directory."""

    def __init__(self, scratch: Path, timeout: float, keep_recordings: Path | None = None,
                 keep_stderr: Path | None = None):
        self.scratch = scratch
        self.timeout = timeout
        self.keep_recordings = keep_recordings
        self.keep_stderr = keep_stderr          # where a failing process's whole stderr is kept
        self.counter = 0
        self.lock = threading.Lock()
        self.empty_trace_bytes: dict[str, int] = {}

    def next_name(self, stem: str) -> Path:
        with self.lock:                         # probes run two processes at a time
            self.counter += 1
            # No dot in the name: with_suffix() must add a suffix, not replace part of the name.
            return self.scratch / f"{self.counter:05d}-{stem.replace('.', '_')}"

    def measure_empty_trace(self, arm: Arm) -> int:
        """The size of an empty script's recording by this arm's Retrace."""
        try:
            size = empty_recording_size(arm.python, self.next_name("empty"), self.timeout)
        except RunError as error:
            raise RunError(f"arm {arm.label}: {error}") from None
        self.empty_trace_bytes[arm.label] = size
        return size

    def run(self, arm: Arm, script: str, args: list[str], keep_as: str | None = None) -> ProcessResult:
        """One process of `script` in `arm`; its record, its text, and the verified trace size.

        keep_as: keep the recording under that name in the scratch directory (for replay)."""
        return self.run_process(arm, script, lambda recording: [arm.python, str(ROOT / script), *args],
                                keep_as=keep_as)

    def run_process(self, arm: Arm, script: str, command, adjust_env=None, keep_as: str | None = None) -> ProcessResult:
        """One process: `command(recording path or None)` with the arm's environment (`adjust_env`
        may change it); its JSON record read and checked, a recorded arm's trace verified."""
        base = self.next_name(Path(script).stem)
        recording = base.with_suffix(".retrace") if arm.recorded else None
        record_path = base.with_suffix(".json")
        fd = os.open(record_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            env = arm.env(os.environ, recording)
            env = adjust_env(env) if adjust_env else env
            env[facts.RECORD_FD_VARIABLE] = str(fd)
            env["TMPDIR"] = str(self.scratch)   # what the benchmark makes in temp stays in scratch
            outcome = procs.run(command(recording), env, self.timeout,
                                base.with_suffix(".out"), base.with_suffix(".err"), pass_fds=(fd,), cwd=ROOT)
        finally:
            os.close(fd)
        text = read(base.with_suffix(".out"))
        if not outcome.ok:
            self.discard(recording)
            return ProcessResult(None, text, outcome.describe(read(base.with_suffix(".err")))
                                 + procs.full_disk_note(self.scratch)
                                 + self.kept_stderr(base.with_suffix(".err"), f"{Path(script).stem}.{arm.file_label}"))
        try:
            raw = record_path.read_text(encoding="utf-8")
            if not raw.strip():
                raise RecordError("the process wrote no JSON record (is it a benchlib Suite?)")
            record = ProcessRecord.from_json(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as error:
            self.discard(recording)
            return ProcessResult(None, text, f"bad JSON record: {error}")
        result = ProcessResult(record, text)
        skipped = record.extra.get("preexec_stdout_bytes") or 0
        result.own_text = (base.with_suffix(".out").read_bytes()[skipped:].decode("utf-8", errors="replace")
                           if skipped else text)
        if recording is not None:
            result.failure, result.trace_bytes = self.verify_trace(arm, record, recording)
            if keep_as and not result.failure:
                recording.rename(self.scratch / keep_as)
            else:
                self.keep_or_discard(recording, base.name)
        elif record.mode != "plain":
            result.failure = f"a {arm.label} process ran in mode {record.mode!r}"
        return result

    def verify_trace(self, arm: Arm, record: ProcessRecord, recording: Path) -> tuple[str | None, int | None]:
        """A recorded process's trace must be where it said it recorded, and grown with the work."""
        if record.mode != "record" or not same_path(record.recording_path, recording):
            return (f"the process did not record to {recording} (it reported mode {record.mode!r}, "
                    f"path {record.recording_path})"), None
        if not recording.is_file():
            return f"no trace at {recording}", None
        size = recording.stat().st_size
        empty = self.empty_trace_bytes[arm.label]
        problem = facts.trace_problem(size, empty)
        return problem, size

    def kept_stderr(self, err: Path, name: str) -> str:
        """A failing process's whole stderr (its traceback: the reason line alone may not say
        where) copied to the run's archive; the words to add to the reason."""
        if self.keep_stderr is None or not err.is_file() or not err.stat().st_size:
            return ""
        self.keep_stderr.mkdir(exist_ok=True)
        target = self.keep_stderr / f"{name}.stderr.txt"
        shutil.copyfile(err, target)
        return f" (its stderr: {self.keep_stderr.name}/{target.name})"

    def keep_or_discard(self, recording: Path | None, name: str) -> None:
        if recording is None or not recording.exists():
            return
        if self.keep_recordings is not None:
            target = self.keep_recordings / f"{name}.retrace"
            shutil.move(recording, target)
            target.chmod(0o600)
        else:
            recording.unlink()

    def discard(self, recording: Path | None) -> None:
        if recording is not None:
            recording.unlink(missing_ok=True)


def same_path(a: str | None, b: Path) -> bool:
    return a is not None and os.path.realpath(a) == os.path.realpath(b)



# --------------------------------------------------------------------------- rounds

@dataclass
class Plan:
    scripts: list[str]
    arms: list[Arm]
    rounds: int
    bench_args: list[str]
    target: "Target | None" = None
    deadline: float | None = None       # time.monotonic() after which no round starts
    #: With a target: (data, target) -> [(benchmark, test number, what)] of the differences wider
    #: than it (analysis.target_misses: the analysis judges, the rounds loop only acts on it).
    misses: object = None


def run_rounds(runner: Runner, plan: Plan, data: RunData, texts: dict, progress=say) -> list[str]:
    """Run the plan's rounds; with a target resolution not met yet, more rounds of only the tests
    that miss it (`focus`), a whole Williams design at a time. Return the tests that missed the target.

    Stopping on the width of an interval, never on its position, leaves the verdicts unbiased: for
    paired differences the spread estimate is independent of the mean (docs/methodology.md, "Resolution")."""
    arms = plan.arms
    by_name = {b.name: b for b in data.benchmarks}
    for script in plan.scripts:
        if facts.result_name(script) not in by_name:
            bench = BenchmarkData(facts.result_name(script), script)
            data.benchmarks.append(bench)
            by_name[bench.name] = bench
    rounds = Rounds(arms, plan.rounds, plan.deadline, progress)
    focus: dict[str, list[int]] | None = None        # None: every test of every script
    data.config["full_rounds"] = plan.rounds
    period = design_period(len(arms))
    for round_number, order in rounds:
        for script in plan.scripts:
            bench = by_name[facts.result_name(script)]
            if focus is not None and bench.name not in focus:
                continue
            cap = facts.SCRIPT_ROUNDS.get(Path(script).name)
            if focus is None and cap and round_number > -(-cap // period) * period:
                continue
            only = [a for n in focus[bench.name] for a in ("--only", str(n))] if focus is not None else []
            for position, arm in enumerate(order, 1):
                if arm.label in bench.failures:
                    continue
                started = time.monotonic()
                progress(f"[round {round_number}/{rounds.planned}] {script:<30} {arm.label:<18} ", end="")
                keep = f"replay.{file_part(bench.name)}.{arm.file_label}.retrace" if arm.recorded and round_number == 1 else None
                result = runner.run(arm, script, [*plan.bench_args, *only], keep_as=keep)
                texts.setdefault((bench.name, arm.file_label), []).append(result.text)
                if keep and result.own_text is not None:
                    texts[REPLAY_TEXT, bench.name, arm.file_label] = result.own_text
                if result.failure:
                    bench.failures[arm.label] = f"round {round_number} {arm.label} process: {result.failure}"
                    progress(f"FAILED ({result.failure})")
                    continue
                bench.processes.append(ProcessEntry(arm.label, round_number, position,
                                                    result.record.to_json(), result.trace_bytes))
                progress(f"done in {time.monotonic() - started:.1f}s"
                         + (f", trace {result.trace_bytes // 1024} KB verified" if result.trace_bytes else ""))
        if round_number == rounds.planned and plan.target:
            focus = tests_missing_target(plan.misses(data, plan.target))
            if not focus:
                progress(f"[rounds] every test meets the target after {round_number} rounds")
                break
            count = sum(len(v) for v in focus.values())
            if not rounds.time_left_for(period):
                progress(f"[rounds] {count} test(s) miss the target; no time left for "
                         f"{period} more rounds (--max-minutes)")
                break
            rounds.extend(period)           # one more whole design, of the tests that miss it
            named = ", ".join(f"{name} {','.join(map(str, numbers))}" for name, numbers in focus.items())
            progress(f"[rounds] {count} test(s) miss the target ({named}): {period} more rounds of those only")
    data.config["rounds_run"] = rounds.done
    return [what for _, _, what in plan.misses(data, plan.target)] if plan.target else []


def tests_missing_target(misses: list[tuple[str, int, str]]) -> dict[str, list[int]]:
    """Benchmark name -> the numbers of its tests with a difference wider than the target."""
    focus: dict[str, list[int]] = {}
    for name, number, _ in misses:
        if number not in focus.setdefault(name, []):
            focus[name].append(number)
    return focus


# --------------------------------------------------------------------------- probes, profile, replay

def probe_trace_growth(runner: Runner, arm: Arm, bench: BenchmarkData, tests: list[int], progress=say) -> None:
    """Trace bytes per call of each test: two recorded processes that differ only in the call count,
    each noting the trace's size before and after every test (they time nothing, so they run side
    by side)."""
    progress(f"[trace growth] {bench.script:<30} {arm.label:<18} {len(tests)} tests x 2 recordings ", end="")
    only = [a for n in tests for a in ("--only", str(n))]
    with ThreadPoolExecutor(max_workers=len(facts.PROBE_CALLS)) as pool:
        results = list(pool.map(lambda calls: runner.run(arm, bench.script, [
            *only, "--iterations", str(calls), "--runs", "1", "--warmup", "0", "--trace-sizes"]),
            facts.PROBE_CALLS))
    failure = next((r.failure for r in results if r.failure), None)
    sizes = [{t.number: t.trace_bytes for t in r.record.tests} for r in results] if not failure else []
    if not failure and any(s.get(n) is None for s in sizes for n in tests):
        failure = "the probe's processes noted no trace sizes (is the script a benchlib Suite?)"
    if failure:
        bench.failures.setdefault(arm.label, f"trace-growth probe: {failure}")
        progress(f"FAILED ({failure})")
        return
    bench.trace_growth[arm.label] = {
        str(n): [x for calls, s in zip(facts.PROBE_CALLS, sizes) for x in (calls, s[n][1] - s[n][0])]
        for n in tests}
    progress("done")


def profile_regimes(runner: Runner, arm: Arm, bench: BenchmarkData, bench_args: list[str], progress=say) -> None:
    """One recorded process timing chunks of calls of every recorded test after an idle pause."""
    growth = bench.trace_growth.get(arm.label, {})
    recorded = [n for n, (c1, s1, c2, s2) in growth.items()
                if (s2 - s1) / (c2 - c1) >= facts.RECORDED_MIN_BYTES_PER_OP]
    if not recorded:
        return
    progress(f"[regimes] {bench.script:<30} {arm.label:<18} {len(recorded)} recorded tests ", end="")
    args = ["--profile", *[a for n in recorded for a in ("--only", n)]]
    args += ["--quick"] if "--quick" in bench_args else []
    result = runner.run(arm, bench.script, args)
    if result.failure:
        progress(f"FAILED ({result.failure})")
        bench.profile[arm.label] = {"failure": result.failure}
        return
    bench.profile[arm.label] = result.record.to_json()
    progress("done")


def check_replay(runner: Runner, arm: Arm, bench: BenchmarkData, recorded_text: str, progress=say) -> None:
    """Replay round 1's recording with the package's replay tool; compare its output with the
    recorded run's, leaving out the lines measured live (CPU) and the recording line."""
    recording = runner.scratch / f"replay.{file_part(bench.name)}.{arm.file_label}.retrace"
    progress(f"[replay] {bench.script:<30} {arm.label:<18} ", end="")
    if not recording.is_file():
        outcome = {"verdict": replay_words.NOT_RUN, "detail": ["no round-1 recording"]}
    else:
        outcome = compare_replay(runner, arm, recording, recorded_text, LIVE_LINE_PREFIXES)
    runner.keep_or_discard(recording, f"{file_part(bench.name)}.{arm.file_label}.round1")
    bench.replay[arm.label] = outcome
    progress(outcome["verdict"] + (f" ({outcome['detail'][0]})" if outcome.get("detail") else ""))


def compare_replay(runner: Runner, arm: Arm, recording: Path, recorded_text: str, live) -> dict:
    replayed = replay(arm.python, recording, runner.scratch, runner.timeout, runner.next_name("replay").name)
    if not replayed.stdout and replayed.problem:
        return {"verdict": FAILS, "detail": [printable(replayed.problem)]}

    def comparable(text):
        return [line for line in text.splitlines()
                if not line.startswith(live) and not line.startswith("Trace: ")]
    recorded, output = comparable(recorded_text), comparable(replayed.stdout)
    if recorded == output:
        return {"verdict": IDENTICAL, "detail": [f"{len(recorded)} lines compared"]}
    detail = []
    for a, b in zip(recorded + [""] * len(output), output + [""] * len(recorded)):
        if a != b:
            detail = [f"recorded: {printable(a, 200)}", f"replayed: {printable(b, 200)}"]
            break
    return {"verdict": DIFFERS,
            "detail": detail + ([f"replay error: {printable(replayed.problem)}"] if replayed.problem else [])}


def record_each_test(runner: Runner, arm: Arm, bench: BenchmarkData, bench_args: list[str], progress=say) -> list:
    """For a script whose tests need services: each test recorded alone in a process of its own while
    the services are up, kept for replay_each_test. [(number, name, recording or None, text or failure)]."""
    kept = []
    for test in (bench.processes[0].record["tests"] if bench.processes else []):
        number = test["number"]
        name = f"replay.{file_part(bench.name)}.{arm.file_label}.test{number}.retrace"
        progress(f"[replay] {bench.script:<30} {arm.label:<18} recording test {number} alone ", end="")
        result = runner.run(arm, bench.script, [*bench_args, "--only", str(number)], keep_as=name)
        progress(f"FAILED ({result.failure})" if result.failure else "done")
        kept.append((number, test["name"], None if result.failure else runner.scratch / name,
                     result.failure or result.own_text))
    return kept


def replay_each_test(runner: Runner, arm: Arm, bench: BenchmarkData, kept: list, without: list[str], progress=say) -> None:
    """Replay each test's own recording (record_each_test) with the services stopped: whether a
    replay needs them. Into bench.replay[arm]["tests"] {number: outcome} and ["without"]."""
    outcomes = {}
    for number, name, recording, text in kept:
        progress(f"[replay] {bench.script:<30} {arm.label:<18} test {number} alone, services stopped: ", end="")
        if recording is None:
            outcome = {"verdict": replay_words.NOT_RUN, "detail": [f"its recording failed: {text}"]}
        else:
            outcome = compare_replay(runner, arm, recording, text, LIVE_LINE_PREFIXES)
            runner.keep_or_discard(recording, f"{file_part(bench.name)}.{arm.file_label}.test{number}")
        outcomes[str(number)] = {**outcome, "name": name}
        progress(outcome["verdict"])
    bench.replay.setdefault(arm.label, {"verdict": replay_words.NOT_RUN, "detail": []})
    bench.replay[arm.label]["tests"] = outcomes
    bench.replay[arm.label]["without"] = without


#: texts' key of the round-1 recorded process's own output, for the replay check.
REPLAY_TEXT = "replay"


def write_texts(run_dir: Path, texts: dict) -> None:
    """The processes' own text output, per benchmark and arm: <name>_baseline.txt etc."""
    for key, outputs in texts.items():
        if len(key) == 3:                    # (REPLAY_TEXT, name, label): not a file of its own
            continue
        name, file_label = key
        (run_dir / f"{name}_{file_label}.txt").write_text("".join(o if o.endswith("\n") else o + "\n"
                                                                  for o in outputs), encoding="utf-8")


def discover_scripts(directory: Path = ROOT) -> list[str]:
    return sorted(p.name for p in directory.glob(facts.BENCHMARK_GLOB)
                  if p.name not in facts.NOT_PER_OPERATION)


