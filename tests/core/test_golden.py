"""Every figure the analyzer renders from the reference archives and the test data's runs is the
same as when tests/data/golden/ was made (scripts/capture_golden.py): summary.json whole (each
effect's value, interval and verdict), and summary.txt line by line, the glance included."""

import difflib
import json

import pytest

from golden import GOLDEN, render, sources


@pytest.mark.parametrize("name,source", sources(), ids=[name for name, _ in sources()])
def test_rerendered_archive_is_unchanged(name, source, tmp_path):
    summary_json, summary_txt = render(source, tmp_path)
    expected_json = json.loads((GOLDEN / name / "summary.json").read_text())
    expected_txt = (GOLDEN / name / "summary.txt").read_text()
    diff = list(difflib.unified_diff(expected_txt.splitlines(), summary_txt.splitlines(), "golden", "now", lineterm="", n=1))
    assert not diff, "summary.txt changed:\n" + "\n".join(diff[:60])
    assert summary_json == expected_json
