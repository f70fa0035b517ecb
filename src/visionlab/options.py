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


def _cap(value: Any, cap: Any, zero_is_off: bool = False) -> Any:
    """`value` under the budget `cap`.

    A number is held to at most `cap`, and an unset one (0 or None: "all" or "the default") becomes `cap`,
    except where 0 switches something off (`zero_is_off`): that 0 stays. A list, a string or a flag is
    replaced by `cap` (a quick run sweeps the short list).
    """
    if zero_is_off and value == 0:
        return value
    if value is None or isinstance(cap, (bool, str, list, tuple)) or isinstance(value, str):
        return cap
    if value == 0:
        return cap
    return min(value, cap)


@dataclass
class RunOptions:
    """Options every experiment command has.

    `QUICK` (a class attribute of each command's config) is the tiny budget of `--quick`: field -> cap.
    `budgeted()` applies it once, where a run starts; the run's config.json records the capped values.
    """

    QUICK: ClassVar[dict[str, Any]] = {}
    # Fields of QUICK where 0 is a real value that switches something off (e.g. --tsne 0): kept as 0.
    QUICK_KEEPS_ZERO: ClassVar[frozenset[str]] = frozenset()

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
        return dataclasses.replace(
            self, **{k: _cap(getattr(self, k), v, k in self.QUICK_KEEPS_ZERO) for k, v in self.QUICK.items()}
        )


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

    def check_compute(self, batch_size: int, device: str = "auto") -> None:
        """Validate `devices` against the global batch it must split, and `precision` against `device`.

        `--device auto` is checked where the device is picked (`engine.make_fabric`).
        """
        require(self.devices >= 1, f"--devices must be >= 1, got {self.devices}")
        require(
            not (self.precision == "16-mixed" and device in ("cpu", "mps")),
            f"--precision 16-mixed needs a CUDA GPU, not --device {device}",
            "use --precision bf16-mixed or 32-true",
        )
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
