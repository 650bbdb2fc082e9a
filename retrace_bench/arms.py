"""Arms: the ways of running a benchmark process that a run compares.

    plain             the suite's Python, no Retrace variable set
    ddtrace, newrelic, otel, sentry, elastic
                      the production app under an APM agent (retrace_bench/agents.py)
    retrace           recorded by the pinned retracesoftware (requirements.txt), the spec's way:
                      RETRACE=1 RETRACE_RECORDING_PATH=<private path> python script
    retrace==X.Y.Z    recorded by another release, in its own cached virtualenv

Every comparison the suite reports is between arms of one run, interleaved over rounds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from retrace_bench import facts
from retrace_bench.agents import AGENTS, ALL_ARMS, APP_PACKAGES

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?(\.post[0-9]+|\.dev[0-9]+)?$")
PLAIN, RETRACE, AGENT = "plain", "retrace", "agent"


class ArmError(Exception):
    """An arm that cannot be set up; the message says why."""


@dataclass(frozen=True)
class Arm:
    label: str                  # unique within a run: plain, retrace, retrace==0.2.29, plain#2
    kind: str                   # plain or retrace
    python: str                 # the interpreter its processes run
    version: str | None = None  # the retracesoftware release, for recorded arms
    agent: str | None = None    # the APM agent (retrace_bench.agents), for agent arms
    extra_env: tuple = ()       # (name, value) pairs set in its processes (self-check only)

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
        env[facts.HOOK_DISABLE_VARIABLE] = "1"
        if self.recorded:
            if recording is None:
                raise ValueError("a recorded arm needs a recording path")
            env.update(RETRACE="1", RETRACE_RECORDING_PATH=str(recording))
        env.update(self.extra_env)
        return env

    def to_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "version": self.version, "agent": self.agent}


def recorded_labels(labels: list[str]) -> list[str]:
    """The labels of the recorded arms (retrace, retrace==X.Y.Z), in order: the first is the baseline."""
    return [label for label in labels if label == RETRACE or label.startswith(f"{RETRACE}==")]


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    match = re.search(r"^retracesoftware==(\S+)", requirements.read_text(), re.M)
    if not match:
        raise ArmError(f"{requirements}: no retracesoftware==X.Y.Z pin")
    return match.group(1)


def cache_dir() -> Path:
    """Where releases' virtualenvs and the Callgrind extension are cached: $XDG_CACHE_HOME, or
    ~/.cache. A relative XDG_CACHE_HOME is ignored, as the XDG specification says (the driver runs
    from the clone, so it would be a folder there)."""
    configured = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(configured) if os.path.isabs(configured) else Path.home() / ".cache"
    return base / "retrace-benchmarks"


def cached_venv(name: str, requirements: str, what: str, progress=print) -> str:
    """The interpreter of a virtualenv under the cache directory with exactly these requirements,
    created on first use and reused after. Its directory's name carries a digest of the requirements
    and of the base interpreter, so that no run rebuilds an environment another run is using; a lock
    per environment lets one run build it while a second one waits; the stamp, written last, marks it
    complete, so a build cut short (or one that failed) is removed and redone, never used."""
    digest = hashlib.sha256(f"{sys.executable}\n{requirements}".encode()).hexdigest()[:10]
    venv = cache_dir() / f"{name}-{digest}"
    stamp = venv / ".installed-requirements.txt"
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    # One lock for every build in the cache (builds are rare; a lock file per environment stayed
    # behind for each release that failed to install).
    with open(venv.parent / ".build.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"[setup] waiting for another run that is building {venv} ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.is_file() and stamp.read_text() == requirements:
            return str(python)
        progress(f"[setup] virtualenv for {what} in {venv} (once) ...")
        shutil.rmtree(venv, ignore_errors=True)
        requirements_file = venv.parent / f".requirements-{venv.name}.txt"
        # pip's temporary files (its cacert.pem, build folders) in a private folder, removed however the build ends.
        work = Path(tempfile.mkdtemp(prefix="retrace-bench-setup."))
        try:
            requirements_file.write_text(requirements)
            for step in ([sys.executable, "-m", "venv", str(venv)],
                         [str(python), "-m", "pip", "install", "-q", "-r", str(requirements_file)]):
                result = subprocess.run(step, capture_output=True, text=True, timeout=1800,
                                        env={**os.environ, "TMPDIR": str(work)})
                if result.returncode != 0:
                    said = [line for line in (result.stderr or result.stdout).splitlines()
                            if line.strip() and not line.startswith("WARNING: Location")]
                    raise ArmError(f"{what} did not install: "
                                   f"{said[-1] if said else 'exit status ' + str(result.returncode)}")
            stamp.write_text(requirements)
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        finally:
            requirements_file.unlink(missing_ok=True)
            shutil.rmtree(work, ignore_errors=True)
    return str(python)


def version_python(version: str, progress=print, own_venv: bool = False) -> str:
    """The interpreter of a virtualenv with that retracesoftware release and the rest of
    requirements.txt (the pinned release is this suite's own .venv, unless `own_venv`: releases
    compared with each other each run from a cached virtualenv of the same shape, so that they
    differ in the release only, not in where their interpreter lives)."""
    if not VERSION_RE.match(version):
        raise ArmError(f"not a version: {version!r} (expected e.g. 0.2.29)")
    if version == pinned_version() and not own_venv:
        return sys.executable
    wanted = re.sub(r"^retracesoftware==.*$", f"retracesoftware=={version}", REQUIREMENTS.read_text(),
                    flags=re.M)
    return cached_venv(f"venv-{version_field(version)}", wanted, f"retracesoftware=={version}", progress)


def version_field(version: str) -> str:
    """A release's version as its virtualenvs' names carry it: in one width for every release
    (facts.VERSION_NAME_WIDTH), so that no release's paths are longer than another's."""
    return version.ljust(facts.VERSION_NAME_WIDTH, "_")


def app_pins(requirements: Path = REQUIREMENTS) -> list[str]:
    """requirements.txt's pins of the shipped apps' packages."""
    return [line.strip() for line in requirements.read_text().splitlines()
            if line.split("==")[0].strip().lower() in APP_PACKAGES]


def agent_arm(name: str, progress=print) -> Arm:
    agent = AGENTS[name]
    if agent.unavailable:
        raise ArmError(f"{name}: {agent.unavailable}")
    pins = app_pins()
    python = cached_venv(agent.venv_name(pins), agent.requirements(pins), f"the {agent.title} agent", progress)
    return Arm(name, AGENT, python, agent=name)


def parse_arm_list(text: str) -> list[str]:
    """--arms: comma-separated labels (plain, retrace, retrace==X.Y.Z, an agent) or `all`;
    plain first; a repeated label is an A/A copy."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        names = list(ALL_ARMS)
    if not names:
        raise ArmError("--arms: no arm named")
    for name in names:
        if name not in (PLAIN, RETRACE) and name not in AGENTS and not name.startswith(f"{RETRACE}=="):
            raise ArmError(f"--arms: unknown arm {name!r} (known: {', '.join(ALL_ARMS)}, retrace==X.Y.Z, all)")
    if names[0] != PLAIN:
        raise ArmError("--arms: the first arm must be plain (every arm is compared with it)")
    return names


def make_named_arms(names: list[str], progress=print) -> tuple[list[Arm], dict[str, str]]:
    """Arms for the labels of parse_arm_list, and the agents that cannot run here with why."""
    arms, unavailable, seen = [], {}, {}
    for name in names:
        if name in AGENTS and AGENTS[name].unavailable:
            unavailable[name] = AGENTS[name].unavailable
            continue
        if name == PLAIN:
            arm = Arm(PLAIN, PLAIN, sys.executable)
        elif name == RETRACE:
            arm = Arm(RETRACE, RETRACE, sys.executable, pinned_version())
        elif name.startswith(f"{RETRACE}=="):
            version = name.split("==", 1)[1]
            compared = len({n for n in names if n.startswith(f"{RETRACE}==")}) > 1
            arm = Arm(name, RETRACE, version_python(version, progress, own_venv=compared), version)
        else:
            arm = agent_arm(name, progress)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            arm = Arm(f"{name}#{seen[name]}", arm.kind, arm.python, arm.version, arm.agent)
        arms.append(arm)
    return arms, unavailable


def make_arms(versions: list[str] | None = None, plain_copies: int = 1, progress=print) -> list[Arm]:
    """plain, then one recorded arm per version (the pinned release when none is given).
    A label used twice gets #2, #3: two identical arms are an A/A comparison."""
    arms = [Arm(PLAIN, PLAIN, sys.executable)]
    arms += [Arm(f"{PLAIN}#{i}", PLAIN, sys.executable) for i in range(2, plain_copies + 1)]
    if versions is None:
        return arms + [Arm(RETRACE, RETRACE, sys.executable, pinned_version())]
    seen: dict[str, int] = {}
    compared = len(set(versions)) > 1
    for version in versions:
        python = version_python(version, progress, own_venv=compared)
        label = f"{RETRACE}=={version}"
        seen[label] = seen.get(label, 0) + 1
        arms.append(Arm(label if seen[label] == 1 else f"{label}#{seen[label]}", RETRACE, python, version))
    return arms


def design_period(arm_count: int) -> int:
    """Rounds of one complete Williams design: arm_count when even, twice that when odd."""
    return arm_count if arm_count % 2 == 0 else 2 * arm_count


def rotation(arms: list, round_number: int) -> list:
    """Round r's order, from a Williams design: over design_period(len(arms)) rounds each arm takes
    each position equally often AND follows each other arm equally often, so that what a process
    leaves behind (a warm or busy machine) falls on every arm alike. A plain cyclic rotation gives
    each arm the same predecessor every round: measured, a short recorded program that always ran
    after a plain one took ~0.06 s (12%) longer than its identical twin that always ran after a
    recorded one, and the self-check's program A/A failed."""
    n = len(arms)
    first, low, high = [0], 1, n - 1          # 0, 1, n-1, 2, n-2, ...
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    k = (round_number - 1) % design_period(n)
    order = [(x + k % n) % n for x in first]
    if k >= n:                                 # odd n: the second half is the mirror image
        order.reverse()
    return [arms[i] for i in order]


def balanced_rounds(rounds: int, arm_count: int, carry_over: bool = True) -> int:
    """`rounds` rounded up to a whole number of Williams designs (design_period), so that each arm
    takes each position, and follows each other arm, equally often; with carry_over False (the
    production benchmark, whose processes are servers running many seconds each) only to a multiple
    of the arm count, which balances the positions."""
    period = design_period(arm_count) if carry_over else max(arm_count, 1)
    return -(-rounds // period) * period


def comparison_pairs(arms: list[dict]) -> list[tuple[str, str, str]]:
    """(A, B, kind): every other arm against the first plain arm; every later recorded arm
    against the first one, the baseline (--versions BASE,NEW,...); a second plain arm is an A/A."""
    plain = [a["label"] for a in arms if a["kind"] == "plain"]
    recorded = [a["label"] for a in arms if a["kind"] == "retrace"]
    pairs = []
    if plain:
        pairs += [(plain[0], other, "aa") for other in plain[1:]]
        pairs += [(plain[0], arm, "overhead") for arm in recorded]
    pairs += [(recorded[0], b, "versions") for b in recorded[1:]]
    return pairs


#: Run in an arm's interpreter with the environment its processes get: the release of the
#: retracesoftware it imports (the package metadata beside the imported package, so a PYTHONPATH
#: carrying another copy is seen), a tab, and where it lives.
RELEASE_PROBE = r"""
import importlib.util, sys
from importlib import metadata
from pathlib import Path
spec = importlib.util.find_spec("retracesoftware")
if spec is None:
    print("none\t-"); sys.exit()
where = Path(next(iter(spec.submodule_search_locations))) if spec.submodule_search_locations else Path(spec.origin)
names = [d for d in metadata.distributions(path=[str(where.parent)])
         if (d.metadata["Name"] or "").lower().replace("_", "-") == "retracesoftware"]
print((names[0].version if names else "unknown") + "\t" + str(where))
"""


def check_releases(arms: list[Arm], base_env: dict | None = None) -> None:
    """Each arm with a release runs the release it is labelled with, read from its own interpreter in
    the environment its processes get (a user's PYTHONPATH may carry another retracesoftware):
    a mismatch is an error before anything is measured."""
    for arm in (a for a in arms if a.version):
        env = Arm("probe", "plain", arm.python, extra_env=arm.extra_env).env(base_env or os.environ)
        try:
            done = subprocess.run([arm.python, "-c", RELEASE_PROBE], env=env, capture_output=True, text=True,
                                  timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ArmError(f"arm {arm.label}: cannot ask its interpreter which release it imports: {error}") from None
        version, _, where = (done.stdout.strip().splitlines() or ["?"])[-1].partition("\t")
        if done.returncode != 0 or version != arm.version:
            python_path = env.get("PYTHONPATH")
            raise ArmError(f"arm {arm.label} is labelled retracesoftware {arm.version}, but its interpreter imports "
                           f"{version if done.returncode == 0 else 'nothing (it failed)'}"
                           + (f" from {where}" if where and where != "-" else "")
                           + (f" (your PYTHONPATH={python_path!r} comes first: unset it, or remove that copy)"
                              if python_path else ""))
