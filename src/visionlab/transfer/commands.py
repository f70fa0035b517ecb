"""The `visionlab transfer` commands: config dataclasses and the functions they run.

Nothing heavy is imported here: `--help` and bad options answer at once.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from visionlab.commands import Command
from visionlab.config import opt, parse_csv, parse_fraction, require
from visionlab.options import BackboneOptions, ComputeOptions, DataOptions, RunOptions
from visionlab.transfer.select import NORMS

# `--quick`: at most 10 images per class and split, 96-pixel images (see RunOptions.budgeted).
_QUICK_DATA: dict[str, Any] = {"per_class": 10, "size": 96}
_LITES = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
_COMPARE = ["alexnet", "vgg16", "vgg19", "resnet50", "resnet152", "inception_v3", "efficientnet_lite0"]


def _parse_cs(text: str) -> list[float]:
    """`1e-4,1e-2,1` -> floats."""
    return [parse_fraction(t) for t in text.split(",") if t.strip()]


def _parse_sizes(text: str) -> list[int]:
    """`224,288` -> ints."""
    try:
        return [int(t) for t in parse_csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole pixel sizes such as 224,288, got {text!r}") from None


@dataclass
class TargetOptions(DataOptions):
    """The target image set and how its images reach the backbone."""

    data: str = opt(
        "auto",
        "dataset: auto (scene15 under the data root, else the bundled MNIST digits), scene15, folder, mnist, "
        "fashion_mnist, cifar10, mnist_m",
        metavar="NAME",
    )
    size: int = opt(0, "image side fed to the backbone in pixels (0: its input size, e.g. 224)", metavar="PX")
    crop: Literal["center", "full"] = opt(
        "center", "center: resize the short side to size*256/224 and crop the centre; full: squash the whole image"
    )
    per_class: int = opt(0, "use at most N training and N test images per class, chosen by seed (0: all)", metavar="N")
    batch_size: int = opt(32, "images per forward pass")
    workers: int = opt(1, "DataLoader worker processes decoding images beside the forward pass (0: none)")

    def validate(self) -> None:
        require(self.size == 0 or 32 <= self.size <= 1024, f"--size must be 0 or between 32 and 1024, got {self.size}")
        require(self.per_class >= 0, f"--per-class must be >= 0, got {self.per_class}")
        require(self.batch_size >= 1 and self.workers >= 0, "--batch-size must be >= 1 and --workers >= 0")


@dataclass
class FeatureOptions(TargetOptions):
    """Frozen-feature extraction (cached on disk by content)."""

    flip: bool = opt(False, "average each image's features with its mirror image's (no labels involved)")
    cache: bool = opt(
        True, "reuse and store features under $VISIONLAB_CACHE/features (never in the data root), keyed by content"
    )


@dataclass
class FeatureRun(RunOptions, BackboneOptions, FeatureOptions):
    """What every frozen-feature command has: a run, a backbone, a target set and its features."""

    QUICK: ClassVar[dict[str, Any]] = {**_QUICK_DATA, "folds": 3}

    def validate(self) -> None:
        RunOptions.validate(self)
        FeatureOptions.validate(self)


@dataclass
class SvmConfig(FeatureRun):
    """Frozen CNN features at one cut point -> linear SVM; C and the normalization chosen by 5-fold CV on train."""

    cut: str | None = opt(None, "cut point of the features (default: the penultimate layer; relu7 for VGG16)")
    cs: list[float] = opt(
        [1e-3, 1e-2, 1e-1, 1.0, 10.0], "C values searched by cross-validation", parse=_parse_cs, metavar="C,C"
    )
    norms: list[str] = opt(
        ["l2", "standardize"], "normalizations searched by CV: l2, standardize (then unit length), none"
    )
    folds: int = opt(5, "cross-validation folds on the training split")
    jobs: int = opt(2, "parallel SVM fits")

    def validate(self) -> None:
        FeatureRun.validate(self)
        _check_svm(self.cs, self.norms, self.folds, self.jobs)


def _check_svm(cs: list[float], norms: list[str], folds: int, jobs: int) -> None:
    require(bool(cs) and all(c > 0 for c in cs), "C values must be > 0", "e.g. --cs 1e-4,1e-2,1")
    bad = [n for n in norms if n not in ("l2", "standardize", "none")]
    require(not bad, f"unknown normalization {', '.join(bad)}", "choose among l2, standardize, none")
    require(folds >= 2 and jobs >= 1, "--folds must be >= 2 and --jobs >= 1")


@dataclass
class CutSweepConfig(FeatureRun):
    """Test accuracy of a linear SVM for every (feature cut x head cut) pair, from one pass over the images."""

    QUICK: ClassVar[dict[str, Any]] = {**_QUICK_DATA, "cs": [10.0], "folds": 2}  # one C, 2 folds per cell

    body_cuts: list[str] = opt([], "feature (body) cuts, rows of the heatmap (default: all)", metavar="A,B")
    head_cuts: list[str] = opt([], "head cuts, columns of the heatmap (default: all)", metavar="A,B")
    cs: list[float] = opt([1e-1, 1.0, 10.0], "C values searched per cell", parse=_parse_cs, metavar="C,C")
    norm: str = opt(
        "l2", "normalization of each cut's vectors: l2 (unit length), sqrt (signed square root, then unit length)"
    )
    folds: int = opt(3, "cross-validation folds per cell (training split only)")
    jobs: int = opt(2, "parallel SVM fits (one cell each)")

    def validate(self) -> None:
        FeatureRun.validate(self)
        _check_svm(self.cs, [], self.folds, self.jobs)
        require(
            self.norm not in ("standardize", "none"),
            f"cut-sweep no longer takes --norm {self.norm}: its cells are fitted on per-cut linear kernels, which "
            "admit a per-image normalization of each cut only",
            "use --norm l2 (each cut to unit length, as before) or --norm sqrt",
        )
        require(self.norm in NORMS, f"unknown normalization {self.norm}", "choose among l2, sqrt")


@dataclass
class CSweepConfig(FeatureRun):
    """Mean 5-fold CV accuracy and mean fit time of a linear SVM per C (all fits in parallel)."""

    cut: str | None = opt(None, "cut point of the features (default: the penultimate layer)")
    cs: list[float] = opt([1e-4, 1e-3, 1e-2, 1e-1, 1.0], "the C grid (log scale)", parse=_parse_cs, metavar="C,C")
    norm: Literal["l2", "standardize", "none"] = opt("l2", "feature normalization in the pipeline (svm --norms)")
    folds: int = opt(5, "cross-validation folds on the training split")
    jobs: int = opt(2, "parallel SVM fits")

    def validate(self) -> None:
        FeatureRun.validate(self)
        _check_svm(self.cs, [self.norm], self.folds, self.jobs)


@dataclass
class EnsembleConfig(RunOptions, TargetOptions):
    """Blocks of frozen features (several backbones x cuts) side by side -> linear SVM; the blocks, the crop
    view, flip averaging, C and the normalization all chosen by CV on the training split, the test split read once."""

    QUICK: ClassVar[dict[str, Any]] = {
        **_QUICK_DATA, "sizes": [], "cs": [1.0], "norms": ["l2"], "folds": 2, "max_blocks": 2,
    }  # fmt: skip

    backbones: list[str] = opt(
        _LITES, "candidate backbones (ImageNet weights), each at its own input size", metavar="A,B"
    )
    sizes: list[int] = opt(
        [],
        "candidate image sides, given for a 224-pixel backbone and scaled to each one's input size: every "
        "backbone x size is a source of blocks for the CV choice (default: --size alone)",
        parse=_parse_sizes,
        metavar="PX,PX",
    )
    cuts: list[str] = opt(["block4", "block5", "block6", "pool"], "candidate cuts of every backbone", metavar="A,B")
    crop: Literal["cv", "center", "five", "full"] = opt(  # type: ignore[assignment]
        "cv",
        "image view: center (centre crop), five (mean of the 4 corner and the centre crops), full (squashed), "
        "or cv (CV picks center or five)",
    )
    flip: Literal["cv", "on", "off"] = opt(
        "cv", "flip averaging of the features: chosen by CV (cv: both are tried), always (on) or never (off)"
    )
    cs: list[float] = opt([0.1, 0.3, 1.0, 3.0, 10.0], "C values searched by CV", parse=_parse_cs, metavar="C,C")
    norms: list[str] = opt(
        ["l2", "sqrt"], "block normalizations searched by CV: l2 (unit length), sqrt (signed square root, then l2)"
    )
    folds: int = opt(5, "cross-validation folds on the training split")
    max_blocks: int = opt(4, "at most this many blocks side by side")
    min_gain: float = opt(0.002, "a block joins only if it adds at least this much CV accuracy", metavar="ACC")
    jobs: int = opt(2, "parallel SVM fits")
    cache: bool = opt(
        True, "reuse and store features under $VISIONLAB_CACHE/features (never in the data root), keyed by content"
    )

    def validate(self) -> None:
        RunOptions.validate(self)
        TargetOptions.validate(self)
        _check_svm(self.cs, [], self.folds, self.jobs)
        bad = [n for n in self.norms if n not in NORMS]
        require(bool(self.norms) and not bad, f"unknown normalization {', '.join(bad)}", "choose among l2, sqrt")
        require(bool(self.backbones) and bool(self.cuts), "give at least one backbone and one cut")
        require(self.max_blocks >= 1, f"--max-blocks must be >= 1, got {self.max_blocks}")
        bad_sizes = [s for s in self.sizes if not 32 <= s <= 1024]
        require(not bad_sizes, f"--sizes must lie between 32 and 1024, got {bad_sizes[0] if bad_sizes else ''}")
        require(len(set(self.sizes)) == len(self.sizes), "--sizes lists a size twice")
        require(0 <= self.min_gain < 1, f"--min-gain must be in [0, 1), got {self.min_gain}")


@dataclass
class TrainOptions(TargetOptions):
    """The fine-tuning protocol shared by `finetune` and `compare`."""

    epochs: int = opt(3, "training epochs (80% of the training split; 20% held out for validation)")
    lr: float = opt(1e-3, "AdamW learning rate of the new head")
    lr_backbone: float = opt(1e-4, "AdamW learning rate of the pretrained layers (unused with --freeze)")
    weight_decay: float = opt(1e-4, "AdamW weight decay")
    augment: bool = opt(
        False, "training-set augmentation: flip, rotation 15, random resized crop, colour jitter 0.2, perspective 0.2"
    )
    freeze: bool = opt(False, "train only the new head; the pretrained layers stay fixed (and in eval mode)")
    val_share: float = opt(0.2, "share of the training split held out for validation, by seed")

    def validate(self) -> None:
        TargetOptions.validate(self)
        require(self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}")
        require(self.lr > 0 and self.lr_backbone > 0 and self.weight_decay >= 0, "learning rates must be > 0")
        require(0.05 <= self.val_share <= 0.5, f"--val-share must be in [0.05, 0.5], got {self.val_share}")


@dataclass
class TrainRun(RunOptions, ComputeOptions, TrainOptions):
    """What both training commands have: a run, its precision and processes, the fine-tuning protocol."""

    QUICK: ClassVar[dict[str, Any]] = {**_QUICK_DATA, "epochs": 1}

    def validate(self) -> None:
        RunOptions.validate(self)
        TrainOptions.validate(self)
        self.check_compute(self.batch_size, self.device)


@dataclass
class FinetuneConfig(TrainRun, BackboneOptions):
    """Fine-tune a pretrained backbone with a new head for the dataset's classes (resumable, curves, test acc)."""


@dataclass
class CompareConfig(TrainRun):
    """The fine-tuning protocol on several backbones: one table and one figure (curves, test acc, s/epoch, params)."""

    backbones: list[str] = opt(_COMPARE, "backbones to compare (Inception v3 at 299x299)", metavar="A,B")
    weights: str | None = opt(
        None, "'none' trains every backbone from random init (said in the table); default ImageNet", metavar="none"
    )

    def validate(self) -> None:
        TrainRun.validate(self)
        require(self.weights in (None, "none"), "compare takes --weights none or nothing", "one file cannot fit all")


@dataclass
class InspectConfig(RunOptions, BackboneOptions):
    """Parameter count per layer group, the fully connected share, and the output size of a backbone."""


@dataclass
class ActivationsConfig(RunOptions, BackboneOptions):
    """The first convolution layer's activation maps for one image, as a grid."""

    image: str = opt("bundled:cat", "an image file or bundled:NAME", positional=True, metavar="IMAGE")
    cut: str | None = opt(None, "cut point whose maps to show (default: the first conv layer)")
    maps: int = opt(64, "show at most this many channels")

    def validate(self) -> None:
        RunOptions.validate(self)
        require(self.maps >= 1, f"--maps must be >= 1, got {self.maps}")


def _cmd(name: str, config: type, target: str) -> Command:
    return Command("transfer", name, config, f"visionlab.transfer.{target}:run", config.__doc__ or "")


COMMANDS: list[Command] = [
    _cmd("inspect", InspectConfig, "inspection"),
    _cmd("activations", ActivationsConfig, "activations"),
    _cmd("svm", SvmConfig, "svm"),
    _cmd("cut-sweep", CutSweepConfig, "cut_sweep"),
    _cmd("c-sweep", CSweepConfig, "c_sweep"),
    _cmd("ensemble", EnsembleConfig, "ensemble"),
    _cmd("finetune", FinetuneConfig, "finetune"),
    _cmd("compare", CompareConfig, "compare"),
]

# The demo's steps on the offline default (bundled MNIST digits as the target set, EfficientNet-Lite0):
# 300 + 300 digits at 112 px for the SVM commands, a frozen 3-epoch fine-tune at 96 px. About 2.5 minutes on
# a 2-core CPU shared with other jobs (see the part's report).
_SMALL: dict[str, Any] = {"per_class": 30, "size": 112}
DEMO: list[tuple[str, str, dict[str, Any]]] = [
    ("inspect", "inspect", {}),
    ("activations", "activations", {}),
    ("svm", "svm", dict(_SMALL)),
    ("cut-sweep", "cut-sweep", {**_SMALL, "body_cuts": ["block1", "block3", "block5", "head"], "cs": [1.0]}),
    ("c-sweep", "c-sweep", dict(_SMALL)),
    ("finetune-frozen", "finetune", {"per_class": 20, "size": 96, "epochs": 3, "freeze": True, "lr": 1e-2}),
]
