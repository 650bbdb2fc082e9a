"""The results directory: one run at a time (the lock), a run's own archive directory, and the
latest files published from it, replacing or removing only what the suite wrote (its manifest).
Every output file is written whole or not at all."""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from retrace_bench import facts
from retrace_bench.rounds import RunError, say

ROOT = Path(__file__).resolve().parent.parent


class ResultsLock:
    """One run at a time per results directory."""

    def __init__(self, results: Path):
        self.path = results / ".lock"
        self.file = None

    def __enter__(self):
        try:
            self.file = open(self.path, "a+")
        except OSError as error:
            raise RunError(f"cannot write results to {self.path.parent}/: {error.strerror or error}") from None
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "?"
            self.file.close()
            raise RunError(f"another run is using {self.path.parent}/ (pid {holder}); wait for it "
                              "to finish or give this one its own --results DIR") from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(str(os.getpid()))
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()


def new_run_dir(results: Path, tag: str) -> Path:
    """archive/<tag>_<time>.partial, renamed when the run completes. Under the results lock, so an
    existing .partial is an interrupted run's: removed now (it was kept until the next run)."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S")
    archive = results / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    stale = sorted(archive.glob("*.partial"))
    for old in stale:
        shutil.rmtree(old, ignore_errors=True)
    if stale:
        say(f"[setup] removed {len(stale)} incomplete run(s) from {archive}/")
    path = archive / f"{tag}_{stamp}.partial"
    suffix = 1
    while path.exists() or path.with_name(path.name.removesuffix(".partial")).exists():   # two runs in a second
        suffix += 1
        path = archive / f"{tag}_{stamp}-{suffix}.partial"
    path.mkdir()
    return path


LATEST_PATTERNS = ("*.txt", "*.json", "*.png", "*.html")
#: The list of the latest files (and the pyperf directory) the suite wrote in a results directory:
#: a later run replaces or removes those, and nothing else.
MANIFEST = ".retrace-bench-manifest.json"
#: What a results directory the suite may use can hold besides its manifest's files: a fresh
#: clone's results/ (archive/, .gitkeep) and the lock.
OWN_ENTRIES = frozenset({"archive", ".gitkeep", ".lock", MANIFEST, facts.HISTORY_CACHE_DIRECTORY})


def claim_results_dir(results: Path) -> None:
    """Make `results` the suite's, or refuse it: a new or empty directory, or one the suite already
    writes to (it has the manifest, or an archive/ of earlier runs). A directory holding anything
    else is the user's: refused, so that no run replaces or removes a file it did not write."""
    if results.exists() and not results.is_dir():
        raise RunError(f"{results}: is a file, not a results directory")
    try:
        results.mkdir(parents=True, exist_ok=True)
        entries = set(os.listdir(results))
    except OSError as error:
        raise RunError(f"cannot write results to {results}/: {error.strerror or error}") from None
    if MANIFEST in entries:
        return
    if (results / "archive").is_dir():
        # Written by a version of the suite without a manifest: its latest files are the ones it
        # writes (the patterns, the pyperf export), whatever else is there stays untouched.
        ours = {p.name for pattern in LATEST_PATTERNS for p in results.glob(pattern) if p.is_file()}
        write_manifest(results, ours | ({facts.PYPERF_EXPORT_DIRECTORY} & entries))
        return
    foreign = sorted(entries - OWN_ENTRIES)
    if foreign:
        raise RunError(f"{results}/ holds files this suite did not write ({', '.join(foreign[:3])}"
                          f"{', ...' if len(foreign) > 3 else ''}): give --results a new or empty directory")
    write_manifest(results, [])


def read_manifest(results: Path) -> set[str]:
    """The latest files an earlier run wrote here (none for a directory without a manifest)."""
    try:
        names = json.loads((results / MANIFEST).read_text())
    except (OSError, ValueError):
        return set()
    return {n for n in names if isinstance(n, str) and "/" not in n and n not in ("", ".", "..")} \
        if isinstance(names, list) else set()


def write_manifest(results: Path, names) -> None:
    tmp = results / f".{MANIFEST}.new"
    tmp.write_text(json.dumps(sorted(names)) + "\n")
    os.replace(tmp, results / MANIFEST)


def publish(run_dir: Path, results: Path) -> Path:
    """The completed run becomes the archive and results/'s latest files, each replaced by a
    rename. The previous run's latest files that this one did not make are removed: only those the
    manifest lists, so a file the suite did not write is never touched."""
    EXPORT_DIRECTORY = facts.PYPERF_EXPORT_DIRECTORY
    previous = read_manifest(results)
    new = {p.name for pattern in LATEST_PATTERNS for p in run_dir.glob(pattern)}
    if (run_dir / EXPORT_DIRECTORY).is_dir():
        new.add(EXPORT_DIRECTORY)
    strangers = sorted(n for n in new if n not in previous and os.path.lexists(results / n))
    if strangers:
        raise RunError(f"{results / strangers[0]} was not written by this suite and is left as it is; "
                          f"this run's results are in {run_dir}/")
    final = run_dir.with_name(run_dir.name.removesuffix(".partial"))
    run_dir.rename(final)
    write_manifest(results, previous | new)        # listed before written: a crash leaves no stranger
    for name in sorted(new):
        tmp = results / f".{name}.new"
        if name == EXPORT_DIRECTORY:            # the pyperf export is a directory: replaced whole
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(final / name, tmp)
            if (results / name).is_dir() and name in previous:
                shutil.rmtree(results / name)
        else:
            shutil.copy2(final / name, tmp)
        os.replace(tmp, results / name)
    for name in sorted(previous - new):
        old = results / name
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    write_manifest(results, new)
    return final



def write_atomically(path: Path, text: str) -> None:
    """Write `path` whole or not at all (the previous file stays until the new one is complete). An
    error names `path` (a full disk, a directory in its place), never the temporary file."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)        # like every other output file (mkstemp makes it 0600)
        os.replace(tmp, path)
    except OSError as error:
        os.unlink(tmp)
        raise OSError(error.errno, error.strerror, str(path)) from None
    except BaseException:
        os.unlink(tmp)
        raise


def suite_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
