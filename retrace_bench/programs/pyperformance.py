"""pyperformance's benchmarks as programs: found in the installed (pinned) pyperformance package,
each run in pyperf's single-process worker mode (`--worker`), because Retrace does not record child
processes and pyperf's default spawns one worker process per value.

A benchmark with packages of its own (its requirements.txt) runs in a cached virtualenv per
Retrace release with exactly those packages, retracesoftware and pyperf; the others run in the
arm's own interpreter. The plain arm uses the pinned release's environment, so that plain and
recorded run the same interpreter with the same packages.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from pathlib import Path

from retrace_bench import facts
from retrace_bench.arms import ArmError, REQUIREMENTS, cached_venv, pinned_version, version_field
from retrace_bench.programs.run import PYPERFORMANCE, Program

ALL = "all"
DEFAULT = "default"


class CatalogError(ValueError):
    """An unknown benchmark name or a missing pyperformance."""


def benchmarks_dir() -> Path:
    try:
        import pyperformance  # lazy: only when the catalog is read
    except ImportError:
        raise CatalogError("pyperformance is not installed in this Python (it is pinned in "
                           "requirements.txt: run ./run_all_benchmarks.sh, which installs it)") from None
    return Path(pyperformance.__file__).parent / "data-files" / "benchmarks"


def _manifest(directory: Path) -> list[tuple[str, str]]:
    """(name, metafile) of the manifest's [benchmarks] section."""
    rows, section = [], None
    for line in (directory / "MANIFEST").read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
            continue
        if section == "[benchmarks]" and line and not line.startswith("#") and not line.startswith("name"):
            parts = line.split()
            rows.append((parts[0], parts[1] if len(parts) > 1 else "<local>"))
    return rows


def _python_ok(spec: str) -> bool:
    match = re.match(r"\s*>=\s*(\d+)\.(\d+)", spec or "")
    return not match or sys.version_info[:2] >= (int(match.group(1)), int(match.group(2)))


def catalog() -> dict[str, Program]:
    """Every benchmark of the installed pyperformance, by name."""
    directory = benchmarks_dir()
    programs = {}
    for name, metafile in _manifest(directory):
        local = metafile.split(":", 1)[1].rstrip(">") if ":" in metafile else name
        bm = directory / f"bm_{local}"
        toml_path = bm / ("pyproject.toml" if local == name else f"bm_{name}.toml")
        try:
            meta = tomllib.loads(toml_path.read_text())
            base = tomllib.loads((bm / "pyproject.toml").read_text())
        except (OSError, tomllib.TOMLDecodeError):
            continue
        tool = {**base.get("tool", {}).get("pyperformance", {}), **meta.get("tool", {}).get("pyperformance", {})}
        requires = (meta.get("project") or base.get("project") or {}).get("requires-python", "")
        requirements_file = bm / "requirements.txt"
        requirements = tuple(line.split("#")[0].strip() for line in
                             (requirements_file.read_text().splitlines() if requirements_file.is_file() else [])
                             if line.split("#")[0].strip())
        unavailable = None
        if not _python_ok(requires):
            unavailable = f"needs Python {requires.strip()}"
        elif name in facts.PYPERFORMANCE_CHILD_PROCESSES:
            unavailable = "times child processes, which Retrace does not record"
        programs[name] = Program(name, PYPERFORMANCE, script=str(bm / tool.get("runscript", "run_benchmark.py")),
                                 extra_args=tuple(tool.get("extra_opts", ())),
                                 category=facts.PYPERFORMANCE_SUBSET.get(name), requirements=requirements,
                                 unavailable=unavailable)
    return programs


def select(spec: str) -> list[Program]:
    """--pyperformance: `default` (the subset), `all`, or comma-separated names."""
    known = catalog()
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if ALL in names:
        return list(known.values())
    # `default` stands for the subset wherever it is in the list: default,nbody adds to it.
    names = [m for n in names for m in (facts.PYPERFORMANCE_SUBSET if n == DEFAULT else [n])]
    if not names:
        raise CatalogError("--pyperformance: no benchmark named")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CatalogError(f"--pyperformance: unknown benchmark(s) {', '.join(unknown)} (known: "
                           f"{', '.join(sorted(known))}; or `all`, `default`)")
    return [known[n] for n in dict.fromkeys(names)]


def pins() -> list[str]:
    """requirements.txt's pins of pyperf and pyperformance."""
    return [line.strip() for line in REQUIREMENTS.read_text().splitlines()
            if line.split("==")[0].strip().lower() in ("pyperf", "pyperformance")]


def python_for(program: Program, arm_python: str, version: str | None, progress=print) -> str:
    """The interpreter a benchmark runs in for an arm (plain: version None, the pinned release's)."""
    if not program.requirements:
        return arm_python
    version = version or pinned_version()
    wanted = "\n".join([f"retracesoftware=={version}", *pins(), *program.requirements]) + "\n"
    tag = hashlib.sha256(wanted.encode()).hexdigest()[:10]
    try:
        return cached_venv(f"pyperformance-{program.name}-{version_field(version)}-{tag}", wanted,
                           f"pyperformance {program.name}'s packages with retracesoftware=={version}", progress)
    except ArmError as error:
        raise CatalogError(str(error)) from None
