"""A run folder as one Python object: what `visionlab.run(...)` and `visionlab.load(path)` return.

A `Result` reads what a run left (see `visionlab.runs`): config.json (the resolved config, the data used,
the command line), metrics.json, figures/, checkpoints/ and samples.npz. In Jupyter it shows itself as the
HTML report's card: the figures inlined, the metrics, the data and the configuration.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visionlab.errors import MissingDataError, UsageError
from visionlab.files import read_json
from visionlab.report.html import load_run, render_card

_IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass(frozen=True)
class Figure:
    """One figure file of a run; Jupyter shows it as the image (`open(fig)` and `str(fig)` give the file)."""

    path: Path

    def __fspath__(self) -> str:
        return str(self.path)

    def _repr_png_(self) -> bytes | None:
        return self.path.read_bytes() if self.path.suffix.lower() == ".png" else None

    def _repr_html_(self) -> str | None:
        if self.path.suffix.lower() == ".png":
            return None
        data = base64.b64encode(self.path.read_bytes()).decode()
        return f'<img src="data:{_IMAGE_TYPES[self.path.suffix.lower()]};base64,{data}" alt="{self.path.stem}">'


@dataclass
class Result:
    """What one run left behind.

    Attributes:
        path: the run folder.
        command: the command that made it, e.g. `"transfer svm"`.
        metrics: metric name (`split/name`) -> number (None where it was not finite).
        config: the resolved configuration, as recorded in config.json (budget applied, data root resolved).
        data: the data actually used, e.g. `"mnist (bundled 5,000-digit subset ...)"`.
        seconds: how long the run took when it ran.
        reused: True when `visionlab.run` found this finished run in its folder and did not compute it again.
        status: `done`, or `failed` / `interrupted` / `running` for a run that did not finish.
        command_line: the `visionlab ...` command line that makes the same run.
        figures: figure name (file name without extension) -> file.
        checkpoints: checkpoint name (path under checkpoints/) -> file.
        samples: the arrays of samples.npz (generated or optimized images), empty when there is none.
    """

    path: Path
    command: str
    metrics: dict[str, float | None]
    config: dict[str, Any] = field(repr=False)
    data: str | None = None
    seconds: float | None = None
    reused: bool = False
    status: str = "done"
    command_line: str = field(default="", repr=False)
    figures: dict[str, Path] = field(default_factory=dict, repr=False)
    checkpoints: dict[str, Path] = field(default_factory=dict, repr=False)
    samples: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def figure(self, name: str) -> Figure:
        """The figure `name` (see `figures`), displayed as an image in Jupyter.

        Raises:
            UsageError: the run has no figure of that name (the message lists the ones it has).
        """
        if name not in self.figures:
            raise UsageError(f"{self.path} has no figure {name!r}", f"figures: {', '.join(self.figures) or 'none'}")
        return Figure(self.figures[name])

    def generator(self) -> Any:
        """The trained generator of a `generate dcgan` or `generate cgan` run, in eval mode, on the CPU.

        Sample with `g(torch.randn(n, g.nz))` (a CGAN also takes one-hot labels of `g.n_classes` classes);
        images come out in [-1, 1].

        Raises:
            MissingDataError: the run holds no trained generator.
        """
        from visionlab.generate.interpolate import load_generator  # imports torch: only when asked

        generator, _ = load_generator(self.path)
        return generator

    def _repr_html_(self) -> str:
        record = load_run(self.path, self.path.parent)
        if record is None:  # the folder changed since it was loaded
            return f"<p>visionlab run {self.command}: no run in {self.path} any more</p>"
        return render_card(record, reused=self.reused)


def load(path: str | Path) -> Result:
    """Open a run folder written by `visionlab.run` or by a `visionlab` command.

    Raises:
        MissingDataError: `path` is not a visionlab run folder.
        UsageError: its config.json or metrics.json is not valid JSON.
    """
    folder = Path(path)
    record = read_json(folder / "config.json")
    if not (isinstance(record, dict) and "experiment" in record and "config" in record):
        raise MissingDataError(
            f"{folder} is not a visionlab run folder (no run config.json)",
            "give a folder written by visionlab.run or a visionlab command",
        )
    return Result(
        path=folder,
        command=str(record["experiment"]),
        metrics=read_json(folder / "metrics.json") or {},
        config=dict(record["config"]),
        data=record.get("data"),
        seconds=record.get("seconds"),
        status=str(record.get("status", "unknown")),
        command_line=str(record.get("command_line", "")),
        figures=_files(folder / "figures", lambda p: p.suffix.lower() in _IMAGE_TYPES, lambda p: p.stem),
        checkpoints=_files(folder / "checkpoints", Path.is_file, lambda p: str(p.relative_to(folder / "checkpoints"))),
        samples=_samples(folder / "samples.npz"),
    )


def _files(folder: Path, keep: Callable[[Path], bool], name: Callable[[Path], str]) -> dict[str, Path]:
    """The files under `folder` that `keep` accepts, by `name`, in sorted order."""
    if not folder.is_dir():
        return {}
    return {name(p): p for p in sorted(folder.rglob("*")) if p.is_file() and keep(p)}


def _samples(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}
