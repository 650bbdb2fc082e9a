"""The documentation stays true to the code: every option of the driver's and the production
benchmark's --help is documented in docs/, every link resolves, and every file the README names exists."""

import re
from pathlib import Path
import sys

import pytest

from conftest import ROOT, run

DOCS = sorted((ROOT / "docs").glob("*.md"))
#: What a run writes (the README names them as outputs, not as files of the repository).
OUTPUTS = {"summary.txt", "summary.json", "benchmark-action.json", "overhead.png", "instructions.png", "programs.png",
           "run.json", "programs.json", "results/summary.txt", "history.png", "history.json", "report.html"}


def options(command) -> set[str]:
    result = run([sys.executable, *command, "--help"])
    assert result.returncode == 0, result.stderr
    # the option lines of argparse's help (an option's first word on its line), not examples in texts
    return set(re.findall(r"^\s{2}(?:-\w[ ,\w]*, )?(--[a-z][a-z-]+)", result.stdout, re.M)) - {"--help"}


@pytest.mark.parametrize("command", [["-m", "retrace_bench.driver"], [str(ROOT / "production_benchmark.py")],
                                     [str(ROOT / "synthetic_benchmark.py")], [str(ROOT / "apps" / "webapp.py")],
                                     [str(ROOT / "apps" / "asgiapp.py")]], ids=lambda c: c[-1].rsplit("/", 1)[-1])
def test_every_option_is_documented(command):
    text = "\n".join(p.read_text() for p in DOCS)
    missing = sorted(o for o in options(command) if f"`{o}" not in text)
    assert not missing, f"options in --help but not in docs/: {missing}"


def test_every_link_resolves():
    for page in [ROOT / "README.md", *DOCS]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith("http"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_every_file_the_readme_names_exists():
    text = (ROOT / "README.md").read_text()
    named = {m for m in re.findall(r"`([\w./-]+\.(?:py|md|sh|toml|txt|json|png))`", text)} - OUTPUTS
    named |= set(re.findall(r"`(tests/data/archives/[\w.-]+)/?`", text))
    missing = sorted(n for n in named if not (ROOT / n).exists() and not n.startswith(("something_", "myjob")))
    assert not missing, f"the README names files that do not exist: {missing}"


def test_the_readme_is_a_first_visit():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def example_blocks(page):
    """(archive, lines) of each example in `page` that says which reference archive it comes from: the
    first code block after the archive's name."""
    text = page.read_text()
    for found in re.finditer(r"`(tests/data/archives/[\w.-]+)/?`", text):
        block = re.search(r"```\n(.*?)```", text[found.end():], re.S)
        if block and block.start() < 1000:         # the example below the name and its description
            yield found[1], block[1].splitlines()


#: Every page with an example labelled with a reference archive (README.md and docs/).
PAGES_WITH_EXAMPLES = [str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
                       if list(example_blocks(p))]


def test_the_pages_with_examples_are_found():
    assert {"README.md", "docs/methodology.md", "docs/production.md"} <= set(PAGES_WITH_EXAMPLES)


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_each_example_is_what_its_archive_renders_today(page, tmp_path):
    """An example labelled with a reference archive matches that archive as the analyzer renders it now
    (lines shortened with "..." are matched up to it)."""
    import shutil
    examples = list(example_blocks(ROOT / page))
    assert examples, f"{page} has no example from a reference archive"
    for archive, lines in examples:
        copy = tmp_path / archive.replace("/", "_")
        shutil.copytree(ROOT / archive, copy)
        result = run([sys.executable, str(ROOT / "analyze_results.py"), str(copy)])
        assert result.returncode in (0, 1) and (copy / "summary.txt").is_file(), result.stderr   # 1: a run with a failure
        rendered = (copy / "summary.txt").read_text()
        for line in lines:
            shown = line.split("(...)")[0].split("...")[0] if "..." in line else line
            assert shown in rendered, f"{page}: this line is not what {archive} renders today: {line!r}"


# --------------------------------------------------------------------------- every quoted number

GOLDEN = ROOT / "tests" / "data" / "golden"
ARCHIVES = ROOT / "tests" / "data" / "archives"
#: A figure in a page's prose: a number with an optional sign, thousands separators, decimals and unit.
FIGURE = re.compile(r"(?<![\w.])[-+±−]?\d[\d,]*(?:\.\d+)?(?=x\b|%|\s?µs|\s?ms|\s?s\b|\s?MB|\s?KB|\s?B\b|\b)")
#: A number right after one of these is a threshold or a setting, not a figure read from a run.
NOT_A_FIGURE = re.compile(r"(?:under|over|below|above|within|at most|at least|up to|than|to|every|of|-n|-c|-q|"
                          r"--rounds|--target-ci|--max-minutes|--through=|Python|retracesoftware|release|test|tests|"
                          r"round|rounds|process|processes)\s*[(\[`]?$", re.I)


def archive_numbers(name: str) -> set[float]:
    """Every number an archive's rendering holds (its summary as the analyzer renders it today, the
    golden copy, and the text files the run wrote), as absolute values."""
    texts = [p.read_text() for p in (GOLDEN / name).glob("summary.*")]
    texts += [p.read_text(errors="replace") for p in (ARCHIVES / name).glob("*.txt") if p.name != "summary.txt"]
    return {abs(float(m.replace(",", ""))) for text in texts
            for m in re.findall(r"\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?", text) if m.replace(",", "")}


def held(figure: str, numbers: set[float]) -> bool:
    """The archive holds this figure: a number that rounds to it as the page writes it."""
    text = figure.lstrip("+-±−").replace(",", "")
    decimals = len(text.split(".")[1]) if "." in text else 0
    value = float(text)
    return any(round(n, decimals) == value for n in numbers)


def quoted_figures(page: Path):
    """(archive, figure, context) of every figure in a paragraph of `page` that names a reference
    archive (code blocks are the examples test's)."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for paragraph in re.split(r"\n\s*\n", text):
        names = [n for n in re.findall(r"tests/data/archives/([\w.-]+?)/?`", paragraph) if (GOLDEN / n).is_dir()]
        if not names:
            continue
        body = re.sub(r"tests/data/archives/[\w.-]+/?|\d{4}-\d{2}-\d{2}|\d+ min \d+ s|0\.2\.\d+|`[^`]*`", " ", paragraph)
        for found in FIGURE.finditer(body):
            if not NOT_A_FIGURE.search(body[max(0, found.start() - 30):found.start()]):
                yield names, found.group(0), body[max(0, found.start() - 60):found.end() + 20].replace("\n", " ")


@pytest.mark.parametrize("page", sorted(str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]))
def test_every_figure_a_page_quotes_from_an_archive_is_in_it(page):
    """A number in a paragraph that names a reference archive is one that archive holds (as the
    analyzer renders it today, to the digits the page gives): numbers no archive holds are not quoted."""
    numbers_of = {}
    missing = []
    for names, figure, context in quoted_figures(ROOT / page):
        numbers = set().union(*(numbers_of.setdefault(n, archive_numbers(n)) for n in names))
        if not held(figure, numbers):
            missing.append(f"{figure!r} in ...{context}...")
    assert not missing, f"{page}: figures its archives do not hold:\n" + "\n".join(missing)


def test_a_figure_the_archive_does_not_hold_is_found(tmp_path):
    """The check above fails on a made-up figure."""
    page = tmp_path / "page.md"
    page.write_text("The run `tests/data/archives/v0.2.30_2026-11-29_195839/` measured 123,457.9 µs per call.\n")
    found = list(quoted_figures(page))
    assert [f for _, f, _ in found] == ["123,457.9"]
    assert not held("123,457.9", archive_numbers("v0.2.30_2026-11-29_195839"))
