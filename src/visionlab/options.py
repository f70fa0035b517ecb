"""The option groups that commands share: a run, its data, its backbone, its compute (precision, DDP).

Each group is a dataclass of `opt(...)` fields; a command's config inherits the groups it needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from visionlab.config import opt, require

Self = TypeVar("Self", bound="RunOptions")


def _cap(value: Any, cap: Any) -> Any:
    """`value` held to at most `cap`; an unset value (0, None: "all" or "the default") becomes `cap`."""
    if value in (0, None) or isinstance(cap, bool) or isinstance(value, str):
        return cap
    return min(value, cap)


@dataclass
class RunOptions:
    """Options every experiment command has.

    `QUICK` (a class attribute of each command's config) is the tiny budget of `--quick`: field -> cap.
    `budgeted()` applies it once, where a run starts; the run's config.json records the capped values.
    """

    QUICK: ClassVar[dict[str, Any]] = {}

    out: Path | None = opt(
        None,
        "run folder for config.json, metrics.json and figures/ (default: runs/<group>-<command>-<time>)",
        metavar="DIR",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = opt("auto", "where to compute: auto picks cuda, then mps, then cpu")
    seed: int = opt(0, "random seed; the same seed gives the same metrics on the CPU")
    quick: bool = opt(False, "tiny budget: for tests and the demo")
    force: bool = opt(False, "run again even if --out holds a finished run (it is replaced once the new one finishes)")

    def validate(self) -> None:
        require(self.seed >= 0, f"--seed must be >= 0, got {self.seed}")

    def budgeted(self: Self) -> Self:
        """This config under its budget: with `--quick`, every `QUICK` field capped (0 or None becomes the cap)."""
        if not self.quick:
            return self
        return dataclasses.replace(self, **{k: _cap(getattr(self, k), v) for k, v in self.QUICK.items()})


@dataclass
class ComputeOptions:
    """Precision and data parallelism of a training command (through Lightning Fabric)."""

    precision: Literal["32-true", "16-mixed", "bf16-mixed"] = opt(
        "32-true",
        "training precision: 32-true; bf16-mixed (autocast to bfloat16: recent GPUs and the CPU); "
        "16-mixed (float16 with loss scaling: CUDA GPUs)",
    )
    devices: int = opt(
        1,
        "data-parallel training processes (DDP through Lightning Fabric): one per GPU with --device cuda, "
        "CPU processes otherwise; --batch-size stays the global batch, split evenly among them",
        metavar="N",
    )

    def check_compute(self, batch_size: int) -> None:
        """Validate `devices` against the global batch it must split."""
        require(self.devices >= 1, f"--devices must be >= 1, got {self.devices}")
        require(
            batch_size % self.devices == 0 and batch_size // self.devices >= 2,
            f"--batch-size {batch_size} does not split into {self.devices} batches of at least 2",
            "make --batch-size a multiple of --devices",
        )


@dataclass
class DataOptions:
    """Where the data of an experiment comes from."""

    data_root: Path | None = opt(None, "data root (default: $VISIONLAB_DATA, else ~/.cache/visionlab)", metavar="DIR")
    download: bool = opt(False, "download the dataset into the data root if it is missing")


@dataclass
class BackboneOptions:
    """Which pretrained network to use."""

    backbone: str = opt("efficientnet_lite0", "backbone name (see `visionlab models list`)")
    weights: str | None = opt(
        None,
        "weights: a state-dict file, 'none' for random init; default: ImageNet weights (bundled or cached)",
        metavar="PATH|none",
    )
