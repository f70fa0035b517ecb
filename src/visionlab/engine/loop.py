"""The one shared training loop: epochs of `step` calls with a progress bar, NaN checks, checkpoints, resume.

Training loops stay explicit (a GAN alternates D and G, DANN mixes domains): each method writes a
`step(batch, p) -> logs` function that takes tensors and returns tensors (no host sync inside), and
`Loop` runs the epochs around it: it averages the logs on the device, reads them out once per epoch,
stops on NaN/inf, saves a checkpoint after every epoch and resumes from the last one.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from visionlab.engine.checkpoints import load_checkpoint, save_checkpoint
from visionlab.errors import DivergenceError


def _in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel (progress bars then render as notebook widgets)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()  # type: ignore[attr-defined]
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def progress(iterable: Iterable, desc: str, total: int | None = None, leave: bool = False, **kw: Any) -> Any:
    """A progress bar (tqdm.auto: a widget in Jupyter, text on a terminal's stderr).

    Off when stderr is not a terminal and we are not in a notebook, unless VISIONLAB_PROGRESS=1 (0 turns it off).
    """
    from tqdm.auto import tqdm

    env = os.environ.get("VISIONLAB_PROGRESS")
    disable = (not sys.stderr.isatty() and not _in_notebook()) if env is None else env == "0"
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=disable, dynamic_ncols=True, **kw)


@dataclass
class LoopResult:
    """What `Loop.run` did.

    Attributes:
        history: one dict of mean logs per epoch, the whole run (earlier epochs from the checkpoint).
        start_epoch: epochs that were already done when this call started (0: a fresh start).
        seconds: time spent training in this call.
        steps: steps taken in this call (0 when the checkpoint already held every epoch).
    """

    history: list[dict[str, float]]
    start_epoch: int = 0
    seconds: float = 0.0
    steps: int = 0

    @property
    def already_finished(self) -> bool:
        """Whether the checkpoint already held every epoch (nothing was trained now)."""
        return self.steps == 0 and bool(self.history)


@dataclass
class Loop:
    """The shared training loop.

    Attributes:
        epochs: how many epochs in all (a resumed run does only the rest).
        batches: `batches(epoch)` gives that epoch's iterable of batches (with a length).
        step: `step(batch, p)` trains on one batch; `p` in [0, 1) is the training progress (for
            schedules such as DANN's); returns a dict of scalar logs (tensors or floats).
        state: the objects to checkpoint, name -> module or optimizer (anything with state_dict()).
        checkpoint: the checkpoint file, or None for no checkpointing.
        end_epoch: `end_epoch(epoch, logs)` returns more logs for the epoch (validation, figures).
        desc: the progress bar's label.
        is_main: whether this process writes checkpoints and prints (rank 0 under DDP).
        reduce: `reduce(means)` combines one epoch's mean logs across processes (DDP); every process
            calls it, so every process sees the same logs and stops together on NaN/inf.
    """

    epochs: int
    batches: Callable[[int], Iterable]
    step: Callable[[Any, float], dict[str, Any]]
    state: dict[str, Any]
    checkpoint: Path | None = None
    end_epoch: Callable[[int, dict[str, float]], dict[str, float]] | None = None
    desc: str = "train"
    is_main: bool = True
    reduce: Callable[[dict[str, float]], dict[str, float]] | None = None

    def resume(self) -> tuple[int, list[dict[str, float]]]:
        """Load the checkpoint if there is one: (first epoch to run, history so far)."""
        if self.checkpoint is None or not Path(self.checkpoint).exists():
            return 0, []
        ckpt = load_checkpoint(self.checkpoint)
        for name, obj in self.state.items():
            obj.load_state_dict(ckpt["state"][name])
        torch.set_rng_state(ckpt["rng"])
        if "cuda_rng" in ckpt and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        return int(ckpt["epoch"]), list(ckpt["history"])

    def run(self) -> LoopResult:
        """Train the remaining epochs.

        Raises:
            DivergenceError: a log became NaN or infinite; the last good checkpoint stays.
        """
        start, history = self.resume()
        if start and self.is_main:
            if start >= self.epochs:
                print(f"{self.desc}: already trained ({start} epochs in {self.checkpoint}); not training again")
            else:
                print(f"{self.desc}: resuming after epoch {start} of {self.epochs} ({self.checkpoint})", flush=True)
        began, steps = time.perf_counter(), 0
        for epoch in range(start, self.epochs):
            logs, n = self._epoch(epoch)
            steps += n
            if self.end_epoch is not None:
                logs.update(self.end_epoch(epoch, logs))
            logs["epoch"] = epoch + 1
            history.append(logs)
            if self.checkpoint is not None and self.is_main:
                self._save(epoch + 1, history)
        return LoopResult(history, start, time.perf_counter() - began, steps)

    def _save(self, epoch: int, history: list[dict[str, float]]) -> None:
        ckpt: dict[str, Any] = {
            "epoch": epoch,
            "history": history,
            "rng": torch.get_rng_state(),
            "state": {name: obj.state_dict() for name, obj in self.state.items()},
        }
        if torch.cuda.is_available():
            ckpt["cuda_rng"] = torch.cuda.get_rng_state_all()
        save_checkpoint(self.checkpoint, ckpt)  # type: ignore[arg-type]

    def _epoch(self, epoch: int) -> tuple[dict[str, float], int]:
        batches = self.batches(epoch)
        n = len(batches)  # type: ignore[arg-type]
        sums: dict[str, Any] = {}
        bar = progress(batches, f"{self.desc} {epoch + 1}/{self.epochs}", total=n)
        for i, batch in enumerate(bar):
            logs = self.step(batch, (epoch * n + i) / max(1, self.epochs * n))
            for key, value in logs.items():  # summed on the device: no host sync per step
                value = value.detach().float() if torch.is_tensor(value) else float(value)
                sums[key] = sums.get(key, 0.0) + value
        means = {k: float(v) / max(1, n) for k, v in sums.items()}
        if self.reduce is not None:
            means = self.reduce(means)
        bad = {k: v for k, v in means.items() if not math.isfinite(v)}
        if bad:
            where = (
                f"; the last good checkpoint is {self.checkpoint}"
                if self.checkpoint and Path(self.checkpoint).exists()
                else ""
            )
            raise DivergenceError(
                f"training diverged at epoch {epoch + 1}: {', '.join(f'{k}={v}' for k, v in bad.items())}{where}",
                "lower the learning rate or change the settings, then run again",
            )
        return means, n
