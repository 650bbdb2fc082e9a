"""Mutation check: each one-line mutation below, applied to a throwaway copy of the suite, must turn
at least one of the fast tests red. Keeps the claim "the tests catch what they name" checkable.

    .venv/bin/python scripts/mutate.py            # every mutation (about 35 minutes)
    .venv/bin/python scripts/mutate.py --list     # just the list

Exit status 1 when a mutation survives (no test failed); 2 when the check cannot judge (pytest missing,
the tests do not collect, no test ran, or the fast tests fail unmutated). The working tree is never
modified."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The fast tests: real sample data, no benchmark runs (a few seconds each under Valgrind at most).
FAST_TESTS = ["tests/core/test_statistics.py", "tests/core/test_compare.py", "tests/instructions/test_instructions.py",
              "tests/core/test_selfcheck_judge.py", "tests/ops/test_parse.py", "tests/core/test_mutation_targets.py",
              "tests/ops/test_history.py", "tests/core/test_effects.py"]
COPIED = ["retrace_bench", "benchlib.py", "analyze_results.py", "selfcheck", "tests", "examples", "requirements.txt",
          "pytest.ini", "synthetic_benchmark.py", "external_boundary_benchmark.py", "run_all_benchmarks.sh", "scripts",
          "production_benchmark.py", "apps"]

#: (file, text, replacement, what it breaks). Each text must occur exactly once in its file.
MUTATIONS = [
    ("retrace_bench/facts.py", "MIN_EFFECT_US = 0.05", "MIN_EFFECT_US = 0.0",
     "the 0.05 µs floor of the verdict rule"),
    ("retrace_bench/effects.py", "    if unit == RATIO:\n        return fraction",
     "    if unit == RATIO:\n        return 0.0", "the ratios' minimum effect (programs)"),
    ("retrace_bench/effects.py", "    if unit == PERCENT:\n        return fraction * 100",
     "    if unit == PERCENT:\n        return 0.0", "the percent changes' 2% minimum effect (production)"),
    ("retrace_bench/effects.py", "fraction = facts.INSTRUCTION_MIN_EFFECT_FRACTION if exact else facts.MIN_EFFECT_FRACTION",
     "fraction = 0.0 if exact else facts.MIN_EFFECT_FRACTION", "the instructions' 1% minimum effect"),
    ("retrace_bench/effects.py", "if low <= null <= high or abs(estimate - null)", "if abs(estimate - null)",
     "the verdict rule's interval (a change whose interval holds the null is noise)"),
    ("retrace_bench/ops/analysis.py", "confidence = family_confidence(facts.CONFIDENCE, tests_compared)",
     "confidence = facts.CONFIDENCE", "Bonferroni in the per-operation analysis"),
    ("retrace_bench/production/analysis.py", "return family_confidence(facts.CONFIDENCE, (2 * len(paths) + 1) * families)",
     "return facts.CONFIDENCE", "Bonferroni in the production analysis"),
    ("retrace_bench/selfcheck.py", "j.report(d.verdict == facts.SLOWER and agrees, text)",
     "j.report(d.verdict == facts.SLOWER, text)", "the sensitivity check's 'no more than the work'"),
    ("retrace_bench/selfcheck.py", "j.report(abs(error) <= facts.CALIBRATION_TOLERANCE,\n                         f\"{t.name}",
     "j.report(True or abs(error) <= facts.CALIBRATION_TOLERANCE,\n                         f\"{t.name}",
     "the calibration judgement always ok"),
    ("retrace_bench/selfcheck.py", "j.report(abs(error) <= facts.CALIBRATION_TOLERANCE,\n                 f\"{item.name}",
     "j.report(True or abs(error) <= facts.CALIBRATION_TOLERANCE,\n                 f\"{item.name}",
     "the program calibration judgement always ok"),
    ("retrace_bench/selfcheck.py", "j.report(d.verdict == facts.WITHIN_NOISE,\n                                     f\"{b.name}",
     "j.report(True,\n                                     f\"{b.name}", "the A/A judgement always ok"),
    ("retrace_bench/selfcheck.py", "j.report(c.latency.estimate < limit,",
     "j.report(True,", "the deferred-latency judgement always ok"),
    ("retrace_bench/selfcheck.py", "j.report(abs(error) <= facts.INSTRUCTION_CALIBRATION_TOLERANCE,",
     "j.report(True,", "the instruction calibration always ok"),
    ("retrace_bench/instructions/analysis.py", "    return family_confidence(facts.CONFIDENCE, tests)",
     "    return facts.CONFIDENCE", "Bonferroni on the instruction comparisons"),
    ("retrace_bench/ops/analysis.py", 'c.kind == "versions" and (b.name, t.name, c.a, c.b) not in on_instructions)',
     'c.kind == "versions")', "the gate judging counted tests on instructions, not wall time"),
    ("retrace_bench/summary.py", "    if undecided:\n", "    if False:\n",
     "the gate failing on a figure it cannot tell (one round)"),
    ("retrace_bench/effects.py", 'return [r for r in rows if r["gated"] and r["verdict"] == facts.SLOWER]',
     'return [r for r in rows if r["verdict"] == facts.SLOWER]', "the gate judging only the figures it gates"),
    ("retrace_bench/ops/history.py", "if effect.real:", "if True:",
     "the history's step rule"),
    ("retrace_bench/instructions/profiles.py", "rows.sort(key=lambda row: -abs(row[2] - row[1]))",
     "rows.sort(key=lambda row: -abs(row[3]))", "function changes ranked by own cost"),
    ("retrace_bench/rounds.py", "return max(abs(reference_us) * (self.percent or 0) / 100, self.floor_us)",
     "return max(abs(reference_us) * (self.percent or 0) / 1000, self.floor_us)", "the --target-ci scale"),
]


class CheckError(Exception):
    """The check cannot judge: pytest is missing, the tests do not collect or run no test."""


def copy_suite(workdir: Path) -> Path:
    copy = workdir / "suite"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, copy / name)
    return copy


def fast_tests(copy: Path, workdir: Path) -> tuple[bool, str]:
    """Run the fast tests in `copy`: (True when every test passed, pytest's last line). A run that
    is neither a pass nor a test failure (pytest missing, a collection error, no test run) is no
    verdict: CheckError, with pytest's own words."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                             "no:cacheprovider", f"--basetemp={workdir / 'pytest'}", *FAST_TESTS],
                            cwd=copy, capture_output=True, text=True)
    lines = (result.stdout + result.stderr).strip().splitlines() or [""]
    last = next((line for line in reversed(result.stdout.strip().splitlines()) if line.strip()), lines[-1])
    if result.returncode == 0 and re.search(r"\b\d+ passed\b", last):
        return True, last
    if result.returncode == 1 and re.search(r"\b\d+ failed\b", last):
        return False, last
    raise CheckError(f"pytest exited {result.returncode} without a test verdict: {lines[-1]}")


def survives(mutation, workdir: Path) -> tuple[bool, str]:
    """Apply one mutation in a fresh copy; run the fast tests; True when none failed. A mutation is
    caught only when a test failed (never merely when pytest exited non-zero)."""
    path, text, replacement, _ = mutation
    copy = copy_suite(workdir)
    target = copy / path
    content = target.read_text()
    if content.count(text) != 1:
        raise CheckError(f"its text occurs {content.count(text)} times in {path}: update the mutation")
    target.write_text(content.replace(text, replacement))
    return fast_tests(copy, workdir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args()
    if args.list:
        for _, _, _, what in MUTATIONS:
            print(what)
        return 0
    survived = 0
    with tempfile.TemporaryDirectory(prefix="retrace-mutate.") as tmp:
        try:
            passed, said = fast_tests(copy_suite(Path(tmp)), Path(tmp))
            if not passed:
                raise CheckError(f"the fast tests fail without any mutation: {said}")
            for number, mutation in enumerate(MUTATIONS, 1):
                print(f"[{number}/{len(MUTATIONS)}] {mutation[3]}: ", end="", flush=True)
                alive, said = survives(mutation, Path(tmp))
                survived += alive
                print(("SURVIVED (no test failed)" if alive else "caught") + f"  [{said}]", flush=True)
        except CheckError as error:
            print(f"\nerror: {error}")
            return 2
    print(f"{len(MUTATIONS) - survived} of {len(MUTATIONS)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
