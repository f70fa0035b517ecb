"""The report in a real browser: headless Chromium shows every image, every part, no console error."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from visionlab.report.browser import find_chromium, inspect_report
from visionlab.report.html import write_report

from ..unit.test_report import make_runs

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (Debian package chromium)"),
]


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    make_runs(tmp_path / "runs")
    html = write_report(tmp_path / "runs")
    shot = tmp_path / "report.png"
    seen = inspect_report(html, screenshot=shot)
    assert seen["images"] == 3 and seen["broken"] == []
    assert seen["console_errors"] == []
    assert {"part-transfer", "part-visualize", "part-adapt", "part-generate"} <= set(seen["sections"])
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("VISIONLAB_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "report-test.png")
