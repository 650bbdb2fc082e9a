"""Arms: the ways of running a benchmark process that a run compares.

    plain             the suite's Python, no Retrace variable set
    retrace           recorded by the pinned retracesoftware (requirements.txt), the spec's way:
                      RETRACE=1 RETRACE_RECORDING_PATH=<private path> python script
    retrace==X.Y.Z    recorded by another release, in its own cached virtualenv

Every comparison the suite reports is between arms of one run, interleaved over rounds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import facts

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?(\.post[0-9]+|\.dev[0-9]+)?$")
PLAIN, RETRACE = "plain", "retrace"


class ArmError(Exception):
    """An arm that cannot be set up; the message says why."""


@dataclass(frozen=True)
class Arm:
    label: str                  # unique within a run: plain, retrace, retrace==0.2.29, plain#2
    kind: str                   # plain or retrace
    python: str                 # the interpreter its processes run
    version: str | None = None  # the retracesoftware release, for recorded arms

    @property
    def recorded(self) -> bool:
        return self.kind == RETRACE

    @property
    def file_label(self) -> str:
        """Its raw text outputs' suffix: the spec's baseline / retrace for the default arms."""
        if self.label == PLAIN:
            return "baseline"
        if self.label == RETRACE:
            return "retrace"
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.label).strip("-")

    def env(self, base: dict, recording: Path | None = None) -> dict:
        """The environment of one of its processes: no Retrace or suite variable, except the
        spec's recording variables for a recorded arm."""
        env = {k: v for k, v in base.items()
               if k not in facts.RETRACE_VARIABLES and k not in facts.SUITE_VARIABLES}
        env["RETRACE_NO_VENV_BOOTSTRAP"] = "1"
        if self.recorded:
            if recording is None:
                raise ValueError("a recorded arm needs a recording path")
            env.update(RETRACE="1", RETRACE_RECORDING_PATH=str(recording))
        return env

    def to_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "version": self.version}


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    match = re.search(r"^retracesoftware==(\S+)", requirements.read_text(), re.M)
    if not match:
        raise ArmError(f"{requirements}: no retracesoftware==X.Y.Z pin")
    return match.group(1)


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retrace-benchmarks"


def version_python(version: str, progress=print) -> str:
    """The interpreter of a virtualenv with that retracesoftware release (and the rest of
    requirements.txt), created on first use under the cache directory and reused after. A
    release that does not install leaves nothing behind."""
    if not VERSION_RE.match(version):
        raise ArmError(f"not a version: {version!r} (expected e.g. 0.2.29)")
    if version == pinned_version():
        return sys.executable
    venv = cache_dir() / f"venv-{version}"
    wanted = re.sub(r"^retracesoftware==.*$", f"retracesoftware=={version}", REQUIREMENTS.read_text(),
                    flags=re.M)
    stamp = venv / ".installed-requirements.txt"
    python = venv / "bin" / "python"
    if python.exists() and stamp.is_file() and stamp.read_text() == wanted:
        return str(python)
    progress(f"[setup] virtualenv for retracesoftware=={version} in {venv} (once) ...")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    requirements = venv.parent / f".requirements-{version}.txt"
    try:
        requirements.write_text(wanted)
        for step in ([sys.executable, "-m", "venv", str(venv)],
                     [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)]):
            result = subprocess.run(step, capture_output=True, text=True, timeout=1800)
            if result.returncode != 0:
                said = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
                raise ArmError(f"retracesoftware=={version} did not install: "
                               f"{said[-1] if said else 'exit status ' + str(result.returncode)}")
        stamp.write_text(wanted)
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    finally:
        requirements.unlink(missing_ok=True)
    return str(python)


def make_arms(versions: list[str] | None = None, plain_copies: int = 1, progress=print) -> list[Arm]:
    """plain, then one recorded arm per version (the pinned release when none is given).
    A label used twice gets #2, #3: two identical arms are an A/A comparison."""
    arms = [Arm(PLAIN, PLAIN, sys.executable)]
    arms += [Arm(f"{PLAIN}#{i}", PLAIN, sys.executable) for i in range(2, plain_copies + 1)]
    if versions is None:
        return arms + [Arm(RETRACE, RETRACE, sys.executable, pinned_version())]
    seen: dict[str, int] = {}
    for version in versions:
        python = version_python(version, progress)
        label = f"{RETRACE}=={version}"
        seen[label] = seen.get(label, 0) + 1
        arms.append(Arm(label if seen[label] == 1 else f"{label}#{seen[label]}", RETRACE, python, version))
    return arms


def rotation(arms: list, round_number: int) -> list:
    """Round r's order: the arms rotated by r - 1, so over len(arms) rounds each arm takes each
    position once."""
    shift = (round_number - 1) % len(arms)
    return arms[shift:] + arms[:shift]
