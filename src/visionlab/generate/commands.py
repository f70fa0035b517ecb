"""The `visionlab generate` commands: config dataclasses and the functions they run.

Nothing heavy is imported here: `--help` and bad options answer at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from visionlab.commands import Command
from visionlab.config import opt, require
from visionlab.generate.params import SWEEP_KEYS, parse_param
from visionlab.options import ComputeOptions, DataOptions, RunOptions

# --quick for the GAN commands: at most 2 epochs of at most 384 images, a 1-epoch digit classifier,
# KID over 10 subsets with kernel matrices of at most 1500 rows.
GAN_QUICK: dict[str, Any] = {
    "epochs": 2, "limit": 384, "classifier_epochs": 1, "check_epochs": 1, "kid_subsets": 10, "kid_rows": 1500,
}  # fmt: skip


@dataclass
class ClassifierOptions:
    """The classifier that reads MNIST / Fashion-MNIST samples (trained once per setting, then read from the cache)."""

    classifier_epochs: int = opt(8, "epochs of the classifier that measures MNIST / Fashion-MNIST samples", metavar="N")

    def validate(self) -> None:
        require(self.classifier_epochs >= 1, f"--classifier-epochs must be >= 1, got {self.classifier_epochs}")


@dataclass
class GanOptions(DataOptions, ClassifierOptions):
    """The GAN's data, networks and optimisation (defaults: the practical's DCGAN settings)."""

    data: Literal["mnist", "fashion_mnist", "cifar10", "celeba", "folder"] = opt(
        "mnist", "training images, resized to 32x32 (mnist offline: the bundled 5,000 digits)"
    )
    limit: int = opt(0, "use at most N training images, a seeded random subset (0: all)", metavar="N")
    nz: int = opt(100, "size of the noise vector z")
    ngf: int = opt(32, "feature maps of the generator's last block (x2, x4 before it)")
    ndf: int = opt(32, "feature maps of the discriminator's first block (x2, x4 after it)")
    init: Literal["paper", "default"] = opt("paper", "weights: paper = N(0, 0.02) (Radford 2015), default = PyTorch's")
    g_loss: Literal["non-saturating", "minimax"] = opt(
        "non-saturating", "generator loss: -log D(G(z)), or the original minimax log(1 - D(G(z)))"
    )
    epochs: int = opt(50, "passes over the training images (bundled MNIST: 31 steps of 128 each)")
    batch_size: int = opt(128, "images per step")
    lr: float = opt(2e-4, "Adam learning rate of G, and of D unless --lr-d is given")
    lr_d: float = opt(
        0.0,
        "Adam learning rate of D alone (two time-scale update rule, Heusel 2017: e.g. --lr 1e-4 --lr-d 4e-4); 0: --lr",
        metavar="LR",
    )
    beta1: float = opt(0.5, "Adam beta1 of both networks")
    real_label: float = opt(
        1.0, "D's target for real images (0.9: one-sided label smoothing, Salimans 2016; fakes stay 0)", metavar="T"
    )
    ema: float = opt(
        0.0,
        "decay of the moving average of G's weights that samples, frames and generator.pt come from "
        "(Yazici 2019; warmed up over the first steps; 0: the last G itself, which did as well at 3 epochs on MNIST)",
        metavar="D",
    )
    every: int = opt(0, "sample grid from the fixed noise every k epochs (0: about 6 frames in all)", metavar="K")
    samples: int = opt(1000, "generated images kept in samples.npz and measured")
    workers: int = opt(2, "DataLoader workers that decode file datasets (celeba, folder) once")
    kid_subsets: int = opt(50, "KID: random subsets of up to 1000 features the mean is taken over", metavar="N")
    kid_rows: int = opt(5000, "KID: each feature set capped at N seeded rows for the kernel matrices", metavar="N")
    check_epochs: int = opt(
        3, "epochs of the independent digit classifier that cross-checks the samples' digits (0: none)", metavar="N"
    )

    def validate(self) -> None:
        require(self.nz >= 1, f"--nz must be >= 1, got {self.nz}", "the generator needs a noise vector")
        require(self.ngf >= 1 and self.ndf >= 1, f"--ngf and --ndf must be >= 1, got {self.ngf} and {self.ndf}")
        require(self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}")
        require(self.batch_size >= 2, f"--batch-size must be >= 2 (batch norm), got {self.batch_size}")
        require(self.lr > 0 and 0 <= self.beta1 < 1, "--lr must be > 0 and --beta1 in [0, 1)")
        require(self.lr_d >= 0, f"--lr-d must be >= 0, got {self.lr_d}", "0 gives D the learning rate --lr")
        require(0.5 < self.real_label <= 1, f"--real-label must be in (0.5, 1], got {self.real_label}", "0.9 or 1")
        require(0 <= self.ema < 1, f"--ema must be in [0, 1), got {self.ema}", "0.999 averages about 1000 steps")
        require(self.limit >= 0 and self.every >= 0 and self.workers >= 0, "--limit, --every, --workers must be >= 0")
        require(self.samples >= 10, f"--samples must be >= 10, got {self.samples}")
        require(self.kid_subsets >= 1 and self.kid_rows >= 2, "--kid-subsets must be >= 1 and --kid-rows >= 2")
        require(self.check_epochs >= 0, f"--check-epochs must be >= 0, got {self.check_epochs}")
        ClassifierOptions.validate(self)
        require(self.data != "folder" or self.data_root is not None, "--data folder needs --data-root DIR")


@dataclass
class CoverageOptions:
    """Options of the DCGAN against a G that drops digits (mode coverage); all off by default."""

    mbstd: int = opt(
        0, "minibatch-std feature in D (Karras 2018): group size, e.g. 4 (0: off); divides the batch", metavar="G"
    )
    pack: int = opt(1, "PacGAN (Lin 2018): D judges P images at once, stacked along channels (1: off)", metavar="P")
    d_norm: Literal["batch", "spectral"] = opt(
        "batch",
        "D's normalization: batch = batch norm (the practical's), spectral = every convolution divided by its "
        "largest singular value, no batch norm (SN-GAN, Miyato 2018)",
    )
    mode_seeking: float = opt(
        0.0,
        "weight of a diversity term for G (MSGAN, Mao 2019, unconditional as in DSGAN, Yang 2019): "
        "1 / (|G(z1) - G(z2)| / |z1 - z2|); 0: off; one more G pass per step",
        metavar="L",
    )
    info_codes: int = opt(
        0,
        "InfoGAN (Chen 2016): a categorical code of K values in G's noise and a Q head on D that must read it "
        "back from the image, label-free; e.g. 10 (0: off); not with --pack",
        metavar="K",
    )
    feature_matching: float = opt(
        0.0,
        "weight of feature matching for G (Salimans 2016): the squared gap between the batch means of D's last "
        "features on real and generated images, added to G's loss; 0: off",
        metavar="L",
    )
    relativistic: bool = opt(
        False,
        "train D and G on the relativistic average losses (RaSGAN, Jolicoeur-Martineau 2018): D judges how much "
        "more real a real image looks than the average generated one; replaces --g-loss",
    )
    r1: float = opt(
        0.0,
        "R1 gradient penalty (Mescheder 2018): GAMMA / 2 x the mean squared norm of the gradient of D's output "
        "with respect to each real image, added to D's loss; 0: off; e.g. 1",
        metavar="GAMMA",
    )

    def check_coverage(self, batch_size: int, devices: int, nz: list[int], g_losses: list[str]) -> None:
        """Minibatch std and packing group the images of one process's batch: its size must split into them;
        an InfoGAN code takes K of the noise's entries (`nz`: every noise size the command trains); the
        relativistic losses replace G's loss (`g_losses`: every G loss the command trains)."""
        share = batch_size // devices
        require(self.r1 >= 0, f"--r1 must be >= 0, got {self.r1}", "0 turns the penalty off")
        require(
            not self.relativistic or set(g_losses) == {"non-saturating"},
            "--relativistic brings its own G loss",
            "leave --g-loss at non-saturating (and out of --param)",
        )
        require(self.info_codes == 0 or self.info_codes >= 2, f"--info-codes must be 0 or >= 2, got {self.info_codes}")
        require(
            self.info_codes < min(nz),
            f"--info-codes {self.info_codes} needs a noise larger than the code, got --nz {min(nz)}",
            "raise --nz or lower --info-codes",
        )
        require(
            self.info_codes == 0 or self.pack == 1,
            "--info-codes reads the code of each image, --pack judges images in groups",
            "use one of them",
        )
        require(self.mbstd == 0 or self.mbstd >= 2, f"--mbstd must be 0 or >= 2, got {self.mbstd}")
        require(self.pack >= 1, f"--pack must be >= 1, got {self.pack}")
        require(self.mode_seeking >= 0, f"--mode-seeking must be >= 0, got {self.mode_seeking}")
        require(self.feature_matching >= 0, f"--feature-matching must be >= 0, got {self.feature_matching}")
        for name, group in (("--mbstd", self.mbstd), ("--pack", self.pack)):
            require(
                group == 0 or share % group == 0,
                f"{name} {group} does not divide the batch of {share} images per process",
                f"make --batch-size a multiple of {name} x --devices",
            )
        require(
            self.mbstd == 0 or (share // self.pack) % self.mbstd == 0,
            f"--mbstd {self.mbstd} does not divide the {share // self.pack} packed inputs per batch",
            "pick --mbstd and --pack whose product divides the batch",
        )


@dataclass
class DcganConfig(RunOptions, ComputeOptions, GanOptions, CoverageOptions):
    """DCGAN (Radford 2015) at 32x32: fixed-noise sample grids, loss and D(x)/D(G(z)) curves, sample metrics."""

    QUICK: ClassVar[dict[str, Any]] = GAN_QUICK
    QUICK_KEEPS_ZERO: ClassVar[frozenset[str]] = frozenset({"check_epochs"})

    def validate(self) -> None:
        RunOptions.validate(self)
        GanOptions.validate(self)
        self.check_compute(self.batch_size, self.device)
        self.check_coverage(self.batch_size, self.devices, [self.nz], [self.g_loss])


@dataclass
class CganConfig(RunOptions, ComputeOptions, GanOptions):
    """Conditional GAN (Mirza 2014): G with separate noise and label branches, a matching-aware projection D;
    one grid row per class."""

    QUICK: ClassVar[dict[str, Any]] = GAN_QUICK
    QUICK_KEEPS_ZERO: ClassVar[frozenset[str]] = frozenset({"check_epochs"})

    attribute: int = opt(31, "celeba: the attribute to condition on (31: Smiling)")
    d_cond: Literal["concat", "projection"] = opt(
        "projection",
        "how D reads the label: projection = psi(phi(x)) + <embed(y), phi(x)> (Miyato 2018; on full MNIST "
        "at 3 epochs: 0.997 of the samples read as their label, FD 12.4, against 0.965 and 30.2 with concat), "
        "concat = label planes beside the image (the practical's)",
    )
    mismatch: float = opt(
        0.5,
        "matching-aware D (Reed 2016): weight w of real images with a wrong label among D's negatives, "
        "(1 - w) on generated ones (0: plain CGAN)",
        metavar="W",
    )
    mode_seeking: float = opt(
        1.0,
        "weight of MSGAN's mode-seeking term for G (Mao 2019): 1 / (|G(z1,y) - G(z2,y)| / |z1 - z2|); "
        "0: off; one more G pass per step",
        metavar="L",
    )

    def validate(self) -> None:
        RunOptions.validate(self)
        GanOptions.validate(self)
        self.check_compute(self.batch_size, self.device)
        require(self.mode_seeking >= 0, f"--mode-seeking must be >= 0, got {self.mode_seeking}")
        require(0 <= self.mismatch < 1, f"--mismatch must be in [0, 1), got {self.mismatch}")
        require(0 <= self.attribute < 40, f"--attribute must be in [0, 39], got {self.attribute}")


@dataclass
class InterpolateConfig(RunOptions, DataOptions, ClassifierOptions):
    """Linear interpolation between two noise vectors (and, for a CGAN, two labels) of a trained run."""

    QUICK: ClassVar[dict[str, Any]] = {"classifier_epochs": 1}

    run: Path | None = opt(None, "a finished `generate dcgan` or `generate cgan` run folder", metavar="DIR")
    steps: int = opt(10, "images per strip, from alpha = 0 to 1")
    pairs: int = opt(4, "strips, one pair of noise vectors each")

    def validate(self) -> None:
        RunOptions.validate(self)
        ClassifierOptions.validate(self)
        require(self.run is not None, "generate interpolate needs --run DIR", "a finished dcgan or cgan run folder")
        require(self.steps >= 2 and self.pairs >= 1, "--steps must be >= 2 and --pairs >= 1")


@dataclass
class SweepConfig(RunOptions, ComputeOptions, GanOptions, CoverageOptions):
    """Train one DCGAN per value of a setting; every variant's samples and curves in one figure, with metrics."""

    QUICK: ClassVar[dict[str, Any]] = GAN_QUICK
    QUICK_KEEPS_ZERO: ClassVar[frozenset[str]] = frozenset({"check_epochs"})

    param: str = opt(
        "ngf_ndf=256/8,8/256,32/32",
        "the setting and its values: ngf_ndf=256/8,8/256 | init=paper,default | "
        "g_loss=non-saturating,minimax | nz=2,10,100,1000 | lr=... | epochs=...",
        metavar="KEY=V1,V2",
    )

    def validate(self) -> None:
        RunOptions.validate(self)
        GanOptions.validate(self)
        self.check_compute(self.batch_size, self.device)
        try:
            key, variants = parse_param(self.param)
        except ValueError as err:
            require(False, str(err), f"keys: {', '.join(SWEEP_KEYS)}")
        sizes = [fields["nz"] for _, fields in variants] if key == "nz" else [self.nz]
        losses = [fields["g_loss"] for _, fields in variants] if key == "g_loss" else [self.g_loss]
        self.check_coverage(self.batch_size, self.devices, sizes, losses)


COMMANDS: list[Command] = [
    Command("generate", "dcgan", DcganConfig, "visionlab.generate.train:run_dcgan", DcganConfig.__doc__ or ""),
    Command("generate", "cgan", CganConfig, "visionlab.generate.train:run_cgan", CganConfig.__doc__ or ""),
    Command(
        "generate",
        "interpolate",
        InterpolateConfig,
        "visionlab.generate.interpolate:run",
        InterpolateConfig.__doc__ or "",
    ),
    Command("generate", "sweep", SweepConfig, "visionlab.generate.sweep:run", SweepConfig.__doc__ or ""),
]

# The demo's steps: (run-folder label, command, config overrides); about 3 minutes on a 2-core CPU.
DEMO: list[tuple[str, str, dict[str, Any]]] = [
    ("dcgan", "dcgan", {"epochs": 8}),
    ("cgan", "cgan", {"epochs": 6}),
    ("interpolate-dcgan", "interpolate", {"run": "{demo}/generate-dcgan"}),
    ("interpolate-cgan", "interpolate", {"run": "{demo}/generate-cgan"}),
]
