"""Reading results: the manager's run.json, or, for hand runs and copied templates, the spec's
text format (`<name>_baseline.txt` and `<name>_retrace.txt`, one process output after another).

Bad input is an InputError whose message names the file and what is wrong with it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from retrace_bench.handover import ProcessRecord, Run, TestRecord
from retrace_bench.inputs import InputError, read_text
from retrace_bench.ops.data import RUN_FILE, BenchmarkData, ProcessEntry, RunData

HEADER_LABELS = {"Python": "python", "OS": "os", "CPU count": "cpu_count",
                 "Timestamp": "timestamp", "retracesoftware": "retrace_version"}
TEST_RE = re.compile(r"^## Test (\d+): (.+?)\s*$")
RUN_RE = re.compile(r"^\s*Run \d+: ([\d.]+) ms\s*$")
CPU_RE = re.compile(r"^\s*CPU \d+: (-?[\d.]+) ms \(drained in ([\d.]+) ms(, CAPPED)?\)\s*$")


def load(directory: Path, allow_empty: bool = False) -> RunData:
    """A results directory: its run.json, or the spec's text files when there is none (nothing at
    all is fine with allow_empty: a production-only directory)."""
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: is a file, not a results directory")
    if not directory.is_dir():
        raise InputError(f"{directory}: missing (no such results directory)")
    if (directory / RUN_FILE).exists():
        return load_run_json(directory / RUN_FILE)
    if allow_empty and not any(directory.glob("*_baseline.txt")) and not any(directory.glob("*_retrace.txt")):
        return RunData([], {"source": "none"})
    return load_texts(directory)


def load_run_json(path: Path) -> RunData:
    try:
        data = json.loads(read_text(path))
        run = RunData.from_json(data)
        for bench in run.benchmarks:
            for entry in bench.processes:
                ProcessRecord.from_json(entry.record)
    except InputError:
        raise
    except ValueError as error:       # JSONDecodeError and RecordError
        raise InputError(f"{path}: {error}") from None
    except (KeyError, TypeError, AttributeError) as error:
        raise InputError(f"{path}: not a complete run record ({error})") from None
    if run.format != 1:
        raise InputError(f"{path}: run format {run.format}, this analyzer reads format 1")
    check_consistent(run, path)
    return run


#: The mode a process of each kind of arm must report (benchlib's recording detection).
MODE_OF_KIND = {"plain": "plain", "retrace": "record"}


def check_consistent(run: RunData, path: Path) -> None:
    """What a run.json says must hold together, whoever edited it: arm labels unique and known,
    every process of a recorded arm reporting that it recorded (and a plain arm's that it did not),
    benchmark names unique."""
    labels = [a.get("label") for a in run.arms]
    if len(set(labels)) < len(labels):
        raise InputError(f"{path}: an arm label appears twice ({', '.join(map(str, labels))})")
    kinds = {a.get("label"): a.get("kind") for a in run.arms}
    names = [b.name for b in run.benchmarks]
    if len(set(names)) < len(names):
        repeated = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{path}: the benchmark name {repeated!r} appears twice")
    for bench in run.benchmarks:
        for entry in [*bench.processes, *bench.instructions]:
            if entry.arm not in kinds:
                raise InputError(f"{path}: {bench.name}: a process of arm {entry.arm!r}, which is not one of the "
                                 f"run's arms ({', '.join(map(str, labels))})")
            mode = entry.record.get("mode")
            wanted = MODE_OF_KIND.get(kinds[entry.arm])
            if wanted and mode != wanted:
                raise InputError(f"{path}: {bench.name}: a process of the {kinds[entry.arm]} arm {entry.arm!r} "
                                 f"reports mode {mode!r}, not {wanted!r}: its numbers are not "
                                 f"{'Retrace' if wanted == 'record' else 'plain'} numbers")


# --------------------------------------------------------------------------- the spec's text format

def parse_text(text: str, path: Path) -> tuple[list[ProcessRecord], str | None]:
    """Every process output in a text file (one per round), and a FAILED reason if there is one."""
    failure = re.search(r"^FAILED: (.+)$", text, re.M)
    blocks = re.split(r"^(?=# Retrace benchmark: )", text, flags=re.M)
    records = [parse_block(b, path) for b in blocks if b.startswith("# Retrace benchmark: ")]
    if not records and not failure:
        raise InputError(f"{path}: not a benchmark output (no '# Retrace benchmark:' header)")
    return records, failure.group(1) if failure else None


def parse_block(block: str, path: Path) -> ProcessRecord:
    record = ProcessRecord(block.splitlines()[0].split(":", 1)[1].strip(), {}, "", None, [])
    test = None
    averages = set()
    for line in block.splitlines()[1:]:
        if line.startswith("FAILED: "):
            continue
        if test is None and ":" in line and line.split(":", 1)[0] in HEADER_LABELS:
            record.header[HEADER_LABELS[line.split(":", 1)[0]]] = line.split(":", 1)[1].strip()
        elif line.startswith("Recording: "):
            value = line[len("Recording: "):].strip()
            record.mode = {"OFF": "plain", "REPLAY": "replay"}.get(value, "record")
            record.recording_path = value[len("ON -> "):] if value.startswith("ON -> ") else None
        elif line.startswith("Idle CPU: ") and test is None:
            record.idle_cpu_ms_per_s = number(line.split(":", 1)[1].split()[0], path)
        elif match := TEST_RE.match(line):
            test = TestRecord(int(match.group(1)), match.group(2), "boundary", 0, [])
            record.tests.append(test)
        elif test is not None:
            if line.startswith("Category: "):
                test.category = line.split(":", 1)[1].strip()
            elif line.startswith("Iterations: "):
                test.iterations = int(number(line.split(":", 1)[1], path))
            elif match := RUN_RE.match(line):
                test.runs.append(Run(float(match.group(1))))
            elif (match := CPU_RE.match(line)) and test.runs:
                test.runs[-1].cpu_ms = float(match.group(1))
                test.runs[-1].drain_ms = float(match.group(2))
                test.runs[-1].drain_capped = bool(match.group(3))
            elif line.strip().startswith("Average: "):
                averages.add(test.number)
    missing = [label for label, key in HEADER_LABELS.items() if key not in record.header]
    if missing:
        raise InputError(f"{path}: header has no '{missing[0]}:' line (truncated or not a benchmark output?)")
    if not record.mode:
        raise InputError(f"{path}: header has no 'Recording:' line")
    if not record.tests:
        raise InputError(f"{path}: no '## Test N: name' sections (truncated or garbage?)")
    for test in record.tests:
        if test.iterations < 1 or not test.runs or test.number not in averages:
            raise InputError(f"{path}: test {test.number} ({test.name}) is incomplete: no iteration "
                             "count, runs or Average line (truncated?)")
    return record


def number(text: str, path: Path) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InputError(f"{path}: {text.strip()!r} is not a number") from None


def load_texts(directory: Path) -> RunData:
    """Hand runs in the spec's layout: <name>_baseline.txt (plain) and <name>_retrace.txt
    (recorded); the k-th process of each file is round k."""
    names = sorted({p.name.rsplit("_", 1)[0] for pattern in ("*_baseline.txt", "*_retrace.txt")
                    for p in directory.glob(pattern)})
    if not names:
        raise InputError(f"{directory}: no run.json and no *_baseline.txt or *_retrace.txt files; "
                         "run ./run_all_benchmarks.sh first")
    run = RunData([{"label": "plain", "kind": "plain", "version": None},
                   {"label": "retrace", "kind": "retrace", "version": None}],
                  {"source": "text"})
    for name in names:
        bench = BenchmarkData(name, name)
        for label, suffix in (("plain", "baseline"), ("retrace", "retrace")):
            path = directory / f"{name}_{suffix}.txt"
            if not path.exists() and bench.failures:
                continue
            records, failure = parse_text(read_text(path), path)
            if failure:
                bench.failures[label] = failure
            for round_number, record in enumerate(records, 1):
                if label == "plain" and record.mode != "plain":
                    raise InputError(f"{path}: process {round_number} is not a plain run "
                                     f"(Recording: {record.mode})")
                if label == "retrace" and record.mode != "record":
                    raise InputError(f"{path}: process {round_number} did not record (mode "
                                     f"{record.mode}); its numbers are not Retrace numbers")
                bench.script = record.script
                bench.processes.append(ProcessEntry(label, round_number, 0, record.to_json()))
        check_same_shape(bench, directory)
        run.benchmarks.append(bench)
    return run


def check_same_shape(bench: BenchmarkData, directory: Path) -> None:
    """Every process of a benchmark must have run the same tests with the same iteration counts."""
    shapes = [(e, [(t["number"], t["name"], t["iterations"]) for t in e.record["tests"]]) for e in bench.processes]
    if not shapes:
        return
    reference = shapes[0][1]
    for entry, shape in shapes[1:]:
        if shape != reference:
            suffix = "baseline" if entry.arm == "plain" else "retrace"
            raise InputError(f"{directory / f'{bench.name}_{suffix}.txt'}: round {entry.round} has different "
                             f"tests or iteration counts ({describe_difference(reference, shape)})")


def describe_difference(expected, got) -> str:
    for a, b in zip(expected, got):
        if a != b:
            return f"test {a[0]} '{a[1]}' x{a[2]} vs test {b[0]} '{b[1]}' x{b[2]}"
    return f"{len(expected)} tests vs {len(got)}"


