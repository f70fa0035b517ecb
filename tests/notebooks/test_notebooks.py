"""The practicals' notebooks (docs/notebooks) run top to bottom in a Jupyter kernel, on the tiny budget.

The kernel is `python3` of the running interpreter; it imports the visionlab under test (PYTHONPATH), and the
notebooks read VISIONLAB_NOTEBOOK_QUICK=1 (tiny budgets) and VISIONLAB_NOTEBOOK_OUT (their run folders). A cell
that raises fails the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbclient import NotebookClient

import visionlab

pytestmark = pytest.mark.notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "notebooks"
NAMES = ["transfer", "visualize", "adapt", "generate"]
CARD = 'class="visionlab-card"'
WIDGET = "application/vnd.jupyter.widget-view+json"


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebooks_are_their_script_without_outputs() -> None:
    build = _build_script()
    assert sorted(build.NOTEBOOKS) == sorted(NAMES)
    for name in NAMES:
        text = (NOTEBOOKS / f"{name}.ipynb").read_text()
        assert text.rstrip("\n") == nbformat.writes(build.build(name)).rstrip("\n"), "run docs/notebooks/build.py"
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        for before, cell in zip(nb.cells, nb.cells[1:]):
            if cell.cell_type == "code":
                assert before.cell_type == "markdown" and before.source, f"{name}: {cell.source[:40]!r}"
                assert cell.outputs == [] and cell.execution_count is None


def _kernel_env(out: Path) -> dict[str, str]:
    """This process's environment, the visionlab under test first on the path, the notebooks' two settings."""
    src = str(Path(visionlab.__file__).resolve().parents[1])
    env = {**os.environ, "VISIONLAB_NOTEBOOK_QUICK": "1", "VISIONLAB_NOTEBOOK_OUT": str(out)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    env.pop("VISIONLAB_PROGRESS", None)  # progress bars as a user gets them: on in a notebook
    return env


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    out = tmp_path / "runs"
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=_kernel_env(out))  # raises CellExecutionError, naming the cell, if one raises

    runs = sorted(p.parent for p in (out / name).rglob("config.json"))
    assert runs, f"{name}: no run folder under VISIONLAB_NOTEBOOK_OUT"
    for folder in runs:
        record = json.loads((folder / "config.json").read_text())
        assert record["status"] == "done" and record["config"]["quick"] is True, folder
    cards = {}  # run folder name -> the card a cell showed
    for out_ in _outputs(nb):
        html = out_.get("data", {}).get("text/html", "")
        if CARD in html:
            cards[html.split("folder <code>", 1)[1].split("</code>", 1)[0]] = html
    assert len(cards) >= 3, f"{name}: only {len(cards)} run cards shown"
    for folder in runs:  # each card shows its run's figures and every metric
        if folder.name in cards:
            card = cards[folder.name]
            assert card.count("data:image/png;base64,") == len(list((folder / "figures").glob("*.png")))
            metrics = json.loads((folder / "metrics.json").read_text())
            assert all(f"<span>{key}</span>" in card for key in metrics)
    _check_displays(nb)


def _check_displays(nb: nbformat.NotebookNode) -> None:
    """Training shows a progress bar (a widget, or tqdm's text without ipywidgets); images show only where asked."""
    progress = [
        o for o in _outputs(nb) if WIDGET in o.get("data", {}) or (o.get("name") == "stderr" and "it/s]" in o["text"])
    ]
    assert progress, "no progress bar shown"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        asked = "plt." in cell.source or ".figure(" in cell.source
        assert bool(images) == asked, f"{cell.id}: {len(images)} images shown, asked: {asked}"
