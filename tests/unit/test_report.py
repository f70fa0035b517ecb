"""The HTML report: every run folder becomes a card with its figures, metrics, data and config."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from visionlab.report.html import collect_runs, write_report
from visionlab.runs import Run


def make_runs(root: Path) -> None:
    """Three finished runs in two parts, and one failed run, each with a figure."""
    for exp, metric in [
        ("transfer svm", {"test/acc": 0.93}),
        ("adapt dann", {"target/acc": 0.74}),
        ("adapt source-only", {"target/acc": 0.55}),
    ]:
        run = Run.open(root / exp.replace(" ", "-"), exp, {"seed": 0}, exp.split())
        run.start()
        run.set_data("mnist (bundled 5,000-digit subset: 4,000 train / 1,000 test)")
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, 1])
        run.save_figure(fig, "curve")
        run.finish(metric, 1.0)
    broken = Run.open(root / "generate-dcgan", "generate dcgan", {}, [])
    broken.start()
    broken.fail("training diverged at epoch 2")


def test_report_holds_every_run(tmp_path: Path) -> None:
    make_runs(tmp_path)
    runs = collect_runs(tmp_path)
    assert [r.experiment for r in runs] == ["transfer svm", "adapt dann", "adapt source-only", "generate dcgan"]
    html = write_report(tmp_path).read_text()
    for part in ("transfer", "visualize", "adapt", "generate"):
        assert f'id="part-{part}"' in html
    assert html.count("data:image/png;base64,") == 3
    assert "0.93" in html and "bundled 5,000-digit subset" in html
    assert "training diverged at epoch 2" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from the network


def test_report_of_an_empty_folder_exits_3(cli, tmp_path: Path) -> None:
    result = cli("report", tmp_path)
    assert result.code == 3 and "no run folders" in result.err


def test_report_command_writes_the_file(cli, tmp_path: Path) -> None:
    make_runs(tmp_path / "runs")
    result = cli("report", tmp_path / "runs", "-o", tmp_path / "out.html")
    assert result.code == 0 and (tmp_path / "out.html").exists()
