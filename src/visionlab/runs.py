"""Run folders: what every experiment leaves behind, built beside `--out` and moved into place when done.

A run folder holds
    config.json      the resolved config, the command line, library versions, the data actually used, status
    metrics.json     one flat JSON object, `split/name` -> number
    figures/*.png    the experiment's figures
    samples.npz      generated images, where there are any
    checkpoints/     training state, for resuming

A run works in a hidden sibling `.NAME.partial` (every file written atomically, see `visionlab.files`) and
is renamed to NAME only once it has finished: `--out` holds a finished run or nothing, a failed or killed
run leaves `--out` as it was, and `--force` replaces a finished run only once its replacement has finished.
Running the same command again resumes the partial run from its checkpoints.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from visionlab.errors import UsageError
from visionlab.files import atomic_write_bytes, atomic_write_json, read_json
from visionlab.provenance import compute, versions


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
    """One run: `final` is the folder the user named; `path` is where the run writes while it runs.

    The CLI opens it (`Run.open`); the experiment writes figures and notes into `path`; `finish` moves the
    finished run to `final`.
    """

    def __init__(
        self, final: Path, command: str, config: dict[str, Any], argv: list[str] | None = None, work: Path | None = None
    ) -> None:
        self.final = Path(final)
        self.path = Path(work) if work is not None else self.final
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.command = command
        self.config = config
        self.info: dict[str, Any] = {"data": None}
        self.resumed = False

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path, command: str, config: dict[str, Any], argv: list[str] | None = None, force: bool = False
    ) -> Run:
        """Open `path` for a run of `command` with `config`.

        Raises:
            UsageError: `path` is a file, holds files that are not a run's, holds another command's or another
                config's run (unless `force`), or cannot be written.
        """
        final = Path(path)
        _restore_replaced(final)
        if final.exists() and not final.is_dir():
            raise UsageError(f"--out {final} is a file", "give a folder (new or empty) for --out")
        old = _run_config(final)
        if old is None and final.is_dir() and any(final.iterdir()):
            raise UsageError(f"--out {final} holds files that are not a visionlab run", "choose a new or empty folder")
        if old is not None:
            same = _same(old, command, config)
            if old.get("status") != "done" and same and not force:  # an unfinished run written in place
                run = cls(final, command, config, argv)
                run.resumed = True
                return run
            if not same and not force:
                raise UsageError(
                    f"{final} already holds another run ({old.get('experiment')}, other settings)",
                    "choose another --out, or add --force to replace it once the new run has finished",
                )
        run = cls(final, command, config, argv, work=final.parent / f".{final.name}.partial")
        run._prepare_work(force)
        return run

    def _prepare_work(self, force: bool) -> None:
        """Reuse the partial folder of the same run (resume), or start a new one."""
        work = self.path
        if work.is_dir():
            try:
                prev = _run_config(work)
            except UsageError:
                prev = None  # a torn config.json of our own partial run: nothing to resume from
            has_checkpoints = (work / "checkpoints").is_dir() and any((work / "checkpoints").iterdir())
            if prev is not None and _same(prev, self.command, self.config) and not force:
                self.resumed = has_checkpoints
            elif has_checkpoints and not force:
                raise UsageError(
                    f"{work} holds the checkpoints of an unfinished run with other settings",
                    "run those settings again to resume it, or add --force to discard it",
                )
            else:
                _remove_own(work)  # our own partial folder: nothing in it that a checkpoint would resume
        try:
            self.figures.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(
                f"cannot write the run folder beside {self.final}: {err.strerror}", "choose a writable --out"
            ) from None

    def finished_metrics(self) -> dict[str, Any] | None:
        """The metrics of the finished run in `final`, or None when there is none."""
        old = _run_config(self.final)
        if old and old.get("status") == "done":
            return read_json(self.final / "metrics.json")
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
        """Write metrics.json, mark config.json `done`, then move the run into `final`."""
        clean = clean_metrics(metrics)
        atomic_write_json(self.path / "metrics.json", clean)
        self.info.update(status="done", finished=_now(), seconds=round(seconds, 3))
        self._write_config()
        self._commit()
        return clean

    def fail(self, reason: str, status: str = "failed") -> None:
        """Mark the run as failed (or interrupted), keeping whatever it wrote; `final` stays as it was."""
        self.info.update(status=status, error=reason, finished=_now())
        self._write_config()

    def _commit(self) -> None:
        """Rename the finished partial folder to `final`; a finished run there (`--force`) goes only now."""
        if self.path == self.final:
            return
        if self.final.exists():
            replaced = self.final.parent / f".{self.final.name}.replaced"
            if replaced.exists():
                _remove_own(replaced)  # left by a kill between the two renames below: the older run
            os.replace(self.final, replaced)
            os.replace(self.path, self.final)
            shutil.rmtree(replaced)
        else:
            os.replace(self.path, self.final)
        self.path = self.final

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
                "compute": compute(),
            },
        )


def _run_config(folder: Path) -> dict[str, Any] | None:
    """A folder's run record (config.json), None when there is none.

    Raises:
        UsageError: a config.json that is not valid JSON or not a visionlab run's.
    """
    data = read_json(folder / "config.json")
    if data is not None and not (isinstance(data, dict) and "experiment" in data and "config" in data):
        raise UsageError(f"{folder / 'config.json'} is not a visionlab run's", "choose another --out")
    return data


def _same(old: dict[str, Any], command: str, config: dict[str, Any]) -> bool:
    """Whether a run record is of `command` with the same settings."""
    return old.get("experiment") == command and _comparable(old.get("config", {})) == _comparable(config)


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a config that decides the result (not where it is written or on which device)."""
    return {k: v for k, v in config.items() if k not in {"out", "device", "force"}}


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def default_out(group: str, name: str) -> Path:
    """`runs/<group>-<name>-<time>` under the current folder."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{group}-{name}-{stamp}".replace(" ", "-")


def _remove_own(folder: Path) -> None:
    """Delete a `.NAME.partial` / `.NAME.replaced` folder only when it is a run's (it has a config.json) or holds
    no file at all; a folder of that name that someone else filled is refused, never deleted."""
    if (folder / "config.json").exists() or not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder)
        return
    raise UsageError(
        f"{folder} holds files that are not a visionlab run's", "move or rename that folder, then run again"
    )


def _restore_replaced(final: Path) -> None:
    """Put back a finished run that a kill left in `.NAME.replaced` between the two renames of `Run._commit`.

    With `final` missing, the renamed-away run is the last finished one; with `final` present, the new run
    made it into place and the old one is left for `_commit` to remove.
    """
    replaced = final.parent / f".{final.name}.replaced"
    if replaced.is_dir() and not final.exists():
        os.replace(replaced, final)
