"""Load generators of the production benchmark: ApacheBench for saturated throughput, hey for
latency at a fixed, unsaturated request rate. Each runs as a child in a group the suite owns."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

from retrace_bench import facts, procs
from retrace_bench.production.data import AbResult, RateResult

TIMEOUT_S = float(facts.DEFAULT_PROCESS_TIMEOUT_S)


class BenchmarkError(Exception):
    """A clear, user-facing reason the benchmark (or one arm of it) cannot go on."""


#: The CPUs the load generators run on (set by production_benchmark.py --pin), or None.
LOAD_CPUS: frozenset | None = None


#: The load generators and their Debian packages: ab for the saturated load, hey for the fixed rate.
TOOLS = (("ab", "apache2-utils"), ("hey", "hey"))


def missing_tools(rate: bool = True) -> list[str]:
    """The load generators not installed here, each as "tool (apt-get install package)"; hey only
    when a fixed-rate load is asked for (`rate`)."""
    return [f"{tool} (apt-get install {package})" for tool, package in TOOLS
            if (tool == "ab" or rate) and shutil.which(tool) is None]


def run_tool(command: list[str], what: str, timeout: float) -> tuple[int, str, str]:
    process = procs.start(command, dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cpus=LOAD_CPUS)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"{what} timed out after {timeout:g} s") from None
    finally:
        procs.stop(process)
    return process.returncode, stdout, stderr


# --------------------------------------------------------------------------- ab




ANSWER_RE = re.compile(r"^LOG: header received:\n(HTTP/\S+ \d{3})", re.M)


def parse_ab(output: str, percentiles_csv: str) -> AbResult:
    """ab's report and its -e CSV (percentiles with decimals; the report rounds them to ms).

    ab 2.3 writes a wrong 99th percentile to the CSV when -n is under 100 (smaller than the 98th);
    a CSV value below the one before it is replaced by the report's whole-ms figure.
    """
    def number(label):
        match = re.search(rf"^{label}:\s+([\d.]+)", output, re.M)
        if not match:
            last = output.strip().splitlines()[-1:] or ["(no output)"]
            raise BenchmarkError(f"ab printed no '{label}' line; it said: {last[0][-300:]}")
        return float(match.group(1))

    csv = {int(p): float(ms) for p, ms in re.findall(r"^(\d+),([\d.]+)$", percentiles_csv, re.M)}
    report = {int(p): float(ms) for p, ms in re.findall(r"^\s+(\d+)%\s+(\d+)", output, re.M)}
    if not {49, 50, 94, 95, 98, 99} <= set(csv):
        raise BenchmarkError("ab wrote no percentile table (-e)")

    def percentile(p):
        return csv[p] if csv[p] >= csv[p - 1] or p not in report else report[p]

    non_2xx = re.search(r"^Non-2xx responses:\s+(\d+)", output, re.M)
    requests_per_s = number("Requests per second")
    complete, failed = int(number("Complete requests")), int(number("Failed requests"))
    answered = ANSWER_RE.findall(output)
    if "LOG: header received:" in output:
        # ab -v 2 logs every answer's status line: a request closed without one is a failure, whatever
        # length ab saw (with -l it sees no length mismatch at all).
        failed += max(0, complete - len(answered))
    transferred = re.search(r"^Total transferred:\s+(\d+) bytes", output, re.M)
    if transferred and int(transferred.group(1)) == 0 and complete:
        failed = complete          # every connection closed without an answer
    return AbResult(requests_per_s, number(r"Time per request"),
                    percentile(50), percentile(95), percentile(99), complete, failed,
                    int(non_2xx.group(1)) if non_2xx else 0)


def run_ab(url: str, requests: int, concurrency: int, keep_alive: bool, scratch: Path) -> AbResult:
    csv = scratch / "percentiles.csv"
    # -l: a response whose length differs from the first one's (a timestamp in JSON) is no failure.
    # -v 2: every answer's status line is logged, so that a request whose connection closed without
    # an answer is still counted as failed (parse_ab).
    command = ["ab", "-q", "-l", "-v", "2", "-n", str(requests), "-c", str(concurrency), "-s", "60", "-e", str(csv)]
    command += ["-k"] if keep_alive else []
    returncode, stdout, stderr = run_tool(command + [url], f"ab on {url}", TIMEOUT_S)
    result = subprocess.CompletedProcess(command, returncode, stdout, stderr)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
        reason = said[0] if said[0].startswith("ab:") else said[-1]     # usage errors come first
        raise BenchmarkError(f"ab failed on {url} (exit {result.returncode}): {reason.strip()}")
    return parse_ab(result.stdout, csv.read_text())


# --------------------------------------------------------------------------- hey




def percentile(sorted_values: list[float], p: float) -> float:
    """The p-th percentile by linear interpolation between closest ranks."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def parse_hey_csv(text: str, requested: int, rate: float) -> RateResult:
    """hey -o csv: one row per answered request (response-time in seconds, status-code)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    try:
        times = sorted(float(r["response-time"]) * 1e3 for r in rows)
        statuses = [int(r["status-code"]) for r in rows]
    except (KeyError, TypeError, ValueError):
        raise BenchmarkError("hey wrote no response-time/status-code CSV") from None
    if not times:
        raise BenchmarkError("hey got no answer at all (is the app up?)")
    return RateResult(rate, percentile(times, 50), percentile(times, 95), percentile(times, 99),
                      len(rows), max(0, requested - len(rows)),
                      sum(1 for s in statuses if not 200 <= s < 300))


def run_hey(url: str, requests: int, rate: float) -> RateResult:
    command = ["hey", "-n", str(requests), "-c", "1", "-q", f"{rate:g}", "-t", "60", "-o", "csv", url]
    returncode, stdout, stderr = run_tool(command, f"hey on {url}", TIMEOUT_S)
    if returncode != 0:
        said = (stderr or stdout).strip().splitlines() or ["(no output)"]
        raise BenchmarkError(f"hey failed on {url} (exit {returncode}): {said[-1].strip()}")
    return parse_hey_csv(stdout, requests, rate)
