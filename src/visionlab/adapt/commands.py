"""The `visionlab adapt` commands: config dataclasses and the functions they run.

Nothing heavy is imported here: `--help` and bad options answer at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from visionlab.commands import Command
from visionlab.config import opt, parse_fraction, require
from visionlab.options import ComputeOptions, DataOptions, RunOptions


def _parse_floats(text: str) -> list[float]:
    return [parse_fraction(t) for t in text.split(",") if t.strip()]


# `--augment auto`: what `adapt select` chose per network on MNIST -> MNIST-M (IM score on the unlabelled target
# training images; 10 epochs, seed 0): bn colour (IM 1.59 vs invert 1.45), canonical invert (1.36 vs colour 1.09).
AUTO_AUGMENT = {"bn": "colour", "canonical": "invert"}


@dataclass
class AdaptOptions(RunOptions, ComputeOptions, DataOptions):
    """Data, network and training settings shared by every `adapt` command."""

    QUICK: ClassVar[dict[str, Any]] = {
        "epochs": 2,
        "batch_size": 32,
        "source_limit": 256,
        "target_limit": 256,
        "test_limit": 300,
        "tsne": 100,
    }
    QUICK_KEEPS_ZERO: ClassVar[frozenset[str]] = frozenset({"tsne"})

    target_root: Path | None = opt(
        None,
        "folder of the MNIST-M PNG release (mnist_m_train/, mnist_m_test/, their label files); "
        "default: DATA_ROOT/mnist_m, synthesized there on first use",
        metavar="DIR",
    )
    arch: Literal["bn", "canonical"] = opt(
        "bn", "network: bn (wider, batch norm, dropout) or canonical (Ganin 2016: conv32-conv48, FC100-FC100-10)"
    )
    epochs: int = opt(10, "training epochs (one epoch = one pass over the source training images)")
    batch_size: int = opt(64, "images per domain in each step (the step sees this many source + target images)")
    lr: float = opt(0.01, "initial learning rate mu0 of the annealing mu0 / (1 + 10 p)^0.75 (SGD)")
    momentum: float = opt(0.9, "SGD momentum")
    weight_decay: float = opt(5e-4, "SGD weight decay")
    gamma: float = opt(10.0, "GRL schedule lambda = 2 / (1 + exp(-gamma p)) - 1")
    augment: Literal["auto", "colour", "invert", "affine", "none"] = opt(
        "auto",
        "source augmentation: colour = random colour pairs (incl. inversion), invert = random grey polarity and "
        "contrast, each with a small affine jitter; affine = the jitter only; none; auto = the choice `adapt "
        "select` made for the network without target labels (bn: colour, canonical: invert)",
    )
    input_norm: Literal["image", "global"] = opt(
        "image", "input normalization: image = per-image standardization, global = (x - 0.5) / 0.5"
    )
    seeds: int = opt(1, "train this many seeds (seed, seed+1, ...) and report mean and std")
    tsne: int = opt(600, "points per domain in the t-SNE figure (0: no t-SNE)")
    source_limit: int = opt(0, "use only N source training images (0: all)", metavar="N")
    target_limit: int = opt(0, "use only N (unlabelled) target training images (0: all)", metavar="N")
    test_limit: int = opt(0, "evaluate on only N test images of each domain (0: all)", metavar="N")

    def validate(self) -> None:
        RunOptions.validate(self)
        if self.augment == "auto":
            self.augment = AUTO_AUGMENT[self.arch]
        require(self.seeds >= 1, f"--seeds must be >= 1, got {self.seeds}")
        require(self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}")
        require(self.batch_size >= 2, f"--batch-size must be >= 2, got {self.batch_size}")
        require(self.lr > 0 and 0 <= self.momentum < 1, "--lr must be > 0 and --momentum in [0, 1)")
        require(self.weight_decay >= 0 and self.gamma >= 0, "--weight-decay and --gamma must be >= 0")
        limits = (self.tsne, self.source_limit, self.target_limit, self.test_limit)
        require(min(limits) >= 0, "--tsne and the limits must be >= 0")
        self.check_compute(self.batch_size, self.device)
        require(self.target_root is None or self.target_root.exists(), f"--target-root {self.target_root} not found")


@dataclass
class DannConfig(AdaptOptions):
    """DANN (Ganin 2016): label classifier on the source, domain classifier behind a gradient reversal layer."""

    grl: bool = opt(True, "--no-grl: the same three parts, but the domain loss is minimized by everyone (no reversal)")
    grl_lambda: float | None = opt(None, "a fixed GRL factor instead of the schedule", metavar="L")
    baselines: bool = opt(False, "also train source-only and DANN without GRL (same seeds): one table, one t-SNE")


@dataclass
class SourceOnlyConfig(AdaptOptions):
    """Source-only baseline: the same network trained on labelled source images only (lower bound)."""


@dataclass
class TargetOnlyConfig(AdaptOptions):
    """Train-on-target upper bound: trained WITH the target training labels (by definition not adaptation)."""


@dataclass
class GrlSweepConfig(AdaptOptions):
    """DANN with fixed GRL factors and with the schedule: target accuracy against the factor."""

    lambdas: list[float] = opt(
        [0.0, 0.1, 0.3, 1.0], "fixed GRL factors, comma-separated (the schedule is always added)", parse=_parse_floats
    )
    epochs: int = opt(10, "training epochs of each variant")

    def validate(self) -> None:
        AdaptOptions.validate(self)
        require(all(v >= 0 for v in self.lambdas), "--lambdas must be >= 0")


@dataclass
class PseudoLabelConfig(AdaptOptions):
    """Pseudo-labelling after DANN: confident target predictions become labels, round after round."""

    run: Path | None = opt(
        None, "a finished `adapt dann` run folder to start from (default: train a DANN here first)", metavar="DIR"
    )
    threshold: float = opt(0.9, "softmax confidence a target prediction needs to become a pseudo-label")
    rounds: int = opt(3, "pseudo-labelling rounds")
    round_epochs: int = opt(3, "fine-tuning epochs per round on source + pseudo-labelled target")

    QUICK: ClassVar[dict[str, Any]] = {**AdaptOptions.QUICK, "rounds": 1, "round_epochs": 1}

    def validate(self) -> None:
        AdaptOptions.validate(self)
        require(0 < self.threshold < 1, f"--threshold must be in (0, 1), got {self.threshold}")
        require(self.rounds >= 1 and self.round_epochs >= 1, "--rounds and --round-epochs must be >= 1")
        require(self.seeds == 1, "pseudo-label runs one seed", "run it once per --seed instead of --seeds K")
        require(self.run is None or self.run.is_dir(), f"--run {self.run} is not a folder")


AUGMENTS = ("none", "affine", "invert", "colour")
SELECTABLE = ("dann", "source-only", "no-grl")


def _parse_names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@dataclass
class SelectConfig(AdaptOptions):
    """Choose the source augmentation per method without target labels (IM score on the unlabelled target).

    --augment is not used here: --augments lists the candidates.
    """

    augments: list[str] = opt(
        list(AUGMENTS), "candidate source augmentations, comma-separated", parse=_parse_names, metavar="A,B"
    )
    methods: list[str] = opt(["dann", "source-only"], "methods to choose for, comma-separated", parse=_parse_names)

    def validate(self) -> None:
        AdaptOptions.validate(self)
        bad = [a for a in self.augments if a not in AUGMENTS] + [m for m in self.methods if m not in SELECTABLE]
        require(
            not bad,
            f"unknown augmentation or method: {', '.join(bad)}",
            f"augments: {', '.join(AUGMENTS)}; methods: {', '.join(SELECTABLE)}",
        )
        require(len(self.augments) >= 2, "--augments needs at least two candidates")
        require(len(set(self.augments)) == len(self.augments), "--augments lists a candidate twice")
        require(len(self.methods) >= 1, "--methods needs at least one method")


def _cmd(name: str, config: type, target: str) -> Command:
    return Command("adapt", name, config, f"visionlab.adapt.{target}", config.__doc__ or "")


COMMANDS: list[Command] = [
    _cmd("dann", DannConfig, "methods:run_dann"),
    _cmd("source-only", SourceOnlyConfig, "methods:run_source_only"),
    _cmd("target-only", TargetOnlyConfig, "methods:run_target_only"),
    _cmd("grl-sweep", GrlSweepConfig, "sweep:run"),
    _cmd("pseudo-label", PseudoLabelConfig, "pseudo:run"),
    _cmd("select", SelectConfig, "select:run"),
]

# The demo's steps (bundled MNIST digits -> MNIST-M synthesized under the data root on first use).
# On a machine without MNIST-M the first step synthesizes it under the data root (about 15 s, announced).
DEMO: list[tuple[str, str, dict[str, Any]]] = [
    ("source-only", "source-only", {"epochs": 3, "source_limit": 2000, "target_limit": 2000, "tsne": 300}),
    ("dann", "dann", {"epochs": 3, "source_limit": 2000, "target_limit": 2000, "tsne": 300}),
    ("dann-no-grl", "dann", {"epochs": 3, "source_limit": 2000, "target_limit": 2000, "tsne": 300, "grl": False}),
]
