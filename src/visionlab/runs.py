"""Run folders: what every experiment leaves behind, written so that a crash never leaves half a file.

A run folder holds
    config.json      the resolved config, the command line, library versions, the data actually used, status
    metrics.json     one flat JSON object, `split/name` -> number
    figures/*.png    the experiment's figures
    samples.npz      generated images, where there are any
    checkpoints/     training state, for resuming

Every file is written to a temporary name in the same folder, flushed, then renamed over the target
(`os.replace` is atomic on POSIX and Windows): a reader sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import os
import platform
import shlex
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from visionlab.errors import UsageError

_VERSIONED = (
    "visionlab",
    "torch",
    "torchvision",
    "timm",
    "numpy",
    "scikit-learn",
    "captum",
    "torchattacks",
    "torch-fidelity",
    "lightning-fabric",
    "matplotlib",
)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode())


def read_json(path: Path) -> Any:
    """Read a JSON file; a missing file gives None."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that decide the numbers."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def clean_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Check that metrics are flat `name -> number`; non-finite numbers become null."""
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"metric name must be a string, got {key!r}")
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"metric {key!r} must be a number, got {value!r}")
        out[key] = float(value) if math.isfinite(value) else None
    return out


class Run:
    """One run folder. The CLI opens it; the experiment writes figures and notes into it."""

    def __init__(self, path: Path, command: str, config: dict[str, Any], argv: list[str] | None = None) -> None:
        self.path = Path(path)
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.figures = self.path / "figures"
        self.checkpoints = self.path / "checkpoints"
        self.command = command
        self.config = config
        self.info: dict[str, Any] = {"data": None}

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path, command: str, config: dict[str, Any], argv: list[str] | None = None, force: bool = False
    ) -> Run:
        """Open `path` for a run of `command` with `config`.

        A folder that holds another command's or another config's run is refused (exit 2) unless `force`;
        one that holds an unfinished run of the same config is reused (its checkpoints resume).
        """
        run = cls(path, command, config, argv)
        old = read_json(run.path / "config.json")
        if old is not None and not force:
            same = old.get("experiment") == command and _comparable(old.get("config", {})) == _comparable(config)
            if not same:
                raise UsageError(
                    f"{run.path} already holds another run ({old.get('experiment')})",
                    "choose another --out, or add --force to overwrite it",
                )
        if force and run.checkpoints.exists():
            for f in run.checkpoints.iterdir():
                f.unlink()
        run.path.mkdir(parents=True, exist_ok=True)
        run.figures.mkdir(exist_ok=True)
        return run

    def finished_metrics(self) -> dict[str, Any] | None:
        """The metrics of this folder's finished run, or None when it has not finished."""
        old = read_json(self.path / "config.json")
        if old and old.get("status") == "done":
            return read_json(self.path / "metrics.json")
        return None

    # -- writing ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Write config.json with status `running`."""
        self.info.update(status="running", started=_now())
        self._write_config()

    def set_data(self, description: str) -> None:
        """Record the data actually used, e.g. `mnist (bundled 5,000-digit subset)`."""
        self.info["data"] = description
        self._write_config()

    def note(self, **items: Any) -> None:
        """Record facts about the run in config.json (model selection rule, skipped files...)."""
        self.info.setdefault("notes", {}).update(items)
        self._write_config()

    def finish(self, metrics: dict[str, Any], seconds: float) -> dict[str, float | None]:
        """Write metrics.json, then mark config.json `done`."""
        clean = clean_metrics(metrics)
        atomic_write_json(self.path / "metrics.json", clean)
        self.info.update(status="done", finished=_now(), seconds=round(seconds, 3))
        self._write_config()
        return clean

    def fail(self, reason: str) -> None:
        """Mark the run as failed, keeping whatever it wrote."""
        self.info.update(status="failed", error=reason, finished=_now())
        self._write_config()

    def save_figure(self, fig: Any, name: str, dpi: int = 110) -> Path:
        """Save a matplotlib figure as figures/<name>.png (atomically) and close it."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        target = self.figures / f"{name}.png"
        atomic_write_bytes(target, buf.getvalue())
        return target

    def save_bytes(self, relpath: str, data: bytes) -> Path:
        """Save any file (a GIF, a CSV) under the run folder, atomically."""
        target = self.path / relpath
        atomic_write_bytes(target, data)
        return target

    def save_npz(self, name: str = "samples.npz", **arrays: np.ndarray) -> Path:
        """Save arrays as a compressed .npz, atomically."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return self.save_bytes(name, buf.getvalue())

    def _write_config(self) -> None:
        atomic_write_json(
            self.path / "config.json",
            {
                "experiment": self.command,
                "command_line": shlex.join(["visionlab", *self.argv]),
                "config": self.config,
                **self.info,
                "versions": versions(),
            },
        )


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a config that decides the result (not where it is written or on which device)."""
    return {k: v for k, v in config.items() if k not in {"out", "device", "force"}}


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def default_out(group: str, name: str) -> Path:
    """`runs/<group>-<name>-<time>` under the current folder."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{group}-{name}-{stamp}".replace(" ", "-")
