"""The `visionlab visualize` commands: config dataclasses and the functions they run.

Nothing heavy is imported here: `--help` and bad options answer at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from visionlab.commands import Command
from visionlab.config import opt, parse_fraction, require
from visionlab.options import BackboneOptions, RunOptions
from visionlab.visualize.sweep import parse_sweep

_METHODS = ("saliency", "smoothgrad", "integrated-gradients", "gradcam")
_ATTACKS = ("naive", "fgsm", "pgd", "cw")
Method = Literal["saliency", "smoothgrad", "integrated-gradients", "gradcam"]


@dataclass
class ImageOptions:
    """Which images a command looks at."""

    images: list[str] = opt(
        ["bundled:all"],
        "image files, folders (with a labels.csv of filename,class_index for "
        "their ImageNet labels), or bundled:NAME / bundled:all",
        positional=True,
        metavar="IMAGE",
    )
    limit: int = opt(0, "use only N images, evenly spread over the list (0: all)", metavar="N")
    size: int = opt(0, "image side in pixels after preprocessing (0: the backbone's input size)", metavar="PX")
    batch_size: int = opt(16, "images per forward/backward pass")

    def validate(self) -> None:
        require(self.limit >= 0, f"--limit must be >= 0, got {self.limit}")
        require(self.size == 0 or 32 <= self.size <= 1024, f"--size must be 0 or between 32 and 1024, got {self.size}")
        require(self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}")


def _check_classes(names: list[str]) -> None:
    from visionlab.visualize.inputs import (
        resolve_class,  # imports torchvision: only when a name is given
    )

    for name in names:
        resolve_class(name)


@dataclass
class SaliencyConfig(RunOptions, BackboneOptions, ImageOptions):
    """Attribution maps (Simonyan 2014 saliency, SmoothGrad, Integrated Gradients, Grad-CAM) of images."""

    QUICK: ClassVar[dict[str, Any]] = {"limit": 2, "size": 128, "samples": 4, "ig_steps": 8}

    method: Method = opt("saliency", "attribution method: saliency = |d score / d pixel| max over channels")
    backbones: list[str] = opt(
        [], "several backbones side by side, e.g. efficientnet_lite0,resnet18 (replaces --backbone)", metavar="A,B"
    )
    target: Literal["predicted", "label"] = opt(
        "predicted", "class each map explains: the prediction, or the known label"
    )
    samples: int = opt(16, "smoothgrad: noisy copies per image")
    noise: float = opt(0.15, "smoothgrad: noise standard deviation in [0, 1] pixel units")
    ig_steps: int = opt(32, "integrated-gradients: points on the path from a black image")

    def validate(self) -> None:
        RunOptions.validate(self)
        ImageOptions.validate(self)
        require(self.samples >= 1 and self.ig_steps >= 2, "--samples must be >= 1 and --ig-steps >= 2")
        require(self.noise >= 0, f"--noise must be >= 0, got {self.noise}")


@dataclass
class AdversarialConfig(RunOptions, BackboneOptions, ImageOptions):
    """Adversarial examples in [0, 1] pixel space: the practical's naive ascent, FGSM, PGD, Carlini-Wagner L2."""

    QUICK: ClassVar[dict[str, Any]] = {"limit": 2, "size": 96, "steps": 3, "examples": 2}

    attack: list[str] = opt(
        ["pgd"],
        "attacks, comma-separated, among naive,fgsm,pgd,cw; metrics attack/* are the "
        "first one's, <attack>/* each one's",
        metavar="A[,B]",
    )
    target: str = opt(
        "random",
        "target class: a name or index, random (a seeded class other than the label), or untargeted",
        metavar="CLASS|random|untargeted",
    )
    eps: float = opt(
        2 / 255, "fgsm/pgd: L-inf radius in [0, 1] pixel units, e.g. 2/255", parse=parse_fraction, metavar="E"
    )
    steps: int = opt(0, "most update steps per image (0: the attack's default: naive 100, pgd 20, cw 50)")
    alpha: float | None = opt(None, "pgd: step size (default: eps/4)", parse=parse_fraction, metavar="A")
    random_start: bool = opt(True, "pgd: start from a uniform random point of the eps-ball")
    step_size: float = opt(0.5, "naive: L2 length of each step in [0, 1] pixel units")
    cw_c: float = opt(1.0, "cw: weight of the misclassification term against the L2 distance")
    cw_lr: float = opt(0.01, "cw: Adam learning rate")
    transfer_to: str | None = opt(None, "also measure how often the examples fool this other backbone", metavar="NAME")
    transfer_weights: str | None = opt(None, "weights of --transfer-to (as --weights)", metavar="PATH|none")
    examples: int = opt(6, "images shown in each attack's figure")

    def validate(self) -> None:
        RunOptions.validate(self)
        ImageOptions.validate(self)
        unknown = [a for a in self.attack if a not in _ATTACKS]
        require(not unknown, f"unknown attack {', '.join(unknown)}", f"choose among {', '.join(_ATTACKS)}")
        require(
            0.0 <= self.eps <= 1.0,
            f"--eps must be in [0, 1] (pixel units), got {self.eps:g}",
            "for two grey levels write 2/255",
        )
        require(self.alpha is None or 0.0 < self.alpha <= 1.0, f"--alpha must be in (0, 1], got {self.alpha}")
        require(
            self.steps >= 0 and self.step_size > 0 and self.cw_c > 0 and self.cw_lr > 0,
            "--steps must be >= 0; --step-size, --cw-c and --cw-lr > 0",
        )
        require(self.examples >= 1, f"--examples must be >= 1, got {self.examples}")
        if self.target not in ("random", "untargeted"):
            _check_classes([self.target])


@dataclass
class ClassModelConfig(RunOptions, BackboneOptions):
    """Class-model visualization (Simonyan 2014; Yosinski 2015's jitter and blur): the image a class scores best."""

    QUICK: ClassVar[dict[str, Any]] = {"iterations": 10, "size": 64, "snapshots": 3}

    classes: list[str] = opt(
        ["tarantula"],
        "ImageNet classes, names or indices, comma-separated (one batch)",
        short="--class",
        metavar="NAME[,NAME]",
    )
    init: str = opt(
        "noise",
        "start image: noise (Gaussian in the normalized space), or an image file / bundled:NAME",
        metavar="noise|IMAGE",
    )
    # Defaults tuned for efficientnet_lite0 (class/prob >= 0.99 with visible structure in 300 steps); the
    # practical's SqueezeNet settings are --iterations 1000 --lr 5 --l2 1e-3 --blur-every 10 --blur-sigma 0.5.
    iterations: int = opt(300, "gradient-ascent steps")
    lr: float = opt(8.0, "L2 length of each step, in the backbone's normalized image units")
    l2: float = opt(1e-4, "weight of the squared L2 norm of the normalized image")
    blur_every: int = opt(5, "Gaussian blur every k steps (0: never)")
    blur_sigma: float = opt(1.0, "the blur's standard deviation in pixels")
    jitter: int = opt(16, "largest random shift in pixels before each step")
    size: int = opt(224, "image side in pixels")
    snapshots: int = opt(6, "columns of the progress grid (images from the start to the end)")
    stretch: bool = opt(
        True,
        "show each image contrast-stretched to fill the range, as the practical's display "
        "did (samples.npz keeps the raw images)",
    )
    sweep: str | None = opt(
        None,
        "vary one setting, every variant in one figure: lr=1,5,9 or l2=, blur_every=, jitter=, iterations=",
        metavar="KEY=V1,V2",
    )

    def validate(self) -> None:
        RunOptions.validate(self)
        require(
            self.iterations >= 1 and self.lr > 0 and self.l2 >= 0, "--iterations must be >= 1, --lr > 0 and --l2 >= 0"
        )
        require(
            self.blur_every >= 0 and self.jitter >= 0 and self.blur_sigma > 0,
            "--blur-every and --jitter must be >= 0, --blur-sigma > 0",
        )
        require(32 <= self.size <= 1024, f"--size must be between 32 and 1024, got {self.size}")
        require(self.snapshots >= 2, f"--snapshots must be >= 2, got {self.snapshots}")
        if self.sweep is not None:
            try:
                parse_sweep(self.sweep)
            except ValueError as err:
                require(False, str(err))
        _check_classes(self.classes)


@dataclass
class SanityConfig(RunOptions, BackboneOptions, ImageOptions):
    """Sanity checks of saliency maps: cascading randomization (Adebayo 2018), deletion/insertion AUC (Petsiuk 2018)."""

    QUICK: ClassVar[dict[str, Any]] = {"limit": 2, "size": 96, "steps": 6}

    method: Method = opt("saliency", "the method whose maps go through the cascading randomization")
    methods: list[str] = opt(
        ["saliency", "gradcam"], "methods scored by deletion/insertion against a random map", metavar="M[,M]"
    )
    steps: int = opt(28, "deletion/insertion: pixels are removed or added in this many equal steps")
    deleted_to: Literal["blur", "black"] = opt(
        "blur",
        "deletion: what removed pixels become: the blurred photo, "
        "or black as Petsiuk et al. (black patches alone fool "
        "efficientnet_lite0, so a random map then wins)",
    )
    blur_sigma: float = opt(10.0, "the blurred photo's Gaussian sigma in pixels (insertion's start, deletion's end)")
    patch: int = opt(
        8, "deletion/insertion: side of the square patches removed together (1: single pixels)", metavar="PX"
    )

    def validate(self) -> None:
        RunOptions.validate(self)
        ImageOptions.validate(self)
        unknown = [m for m in self.methods if m not in _METHODS]
        require(not unknown, f"unknown method {', '.join(unknown)}", f"choose among {', '.join(_METHODS)}")
        require(self.steps >= 2, f"--steps must be >= 2, got {self.steps}")
        require(self.blur_sigma > 0, f"--blur-sigma must be > 0, got {self.blur_sigma}")
        require(self.patch >= 1, f"--patch must be >= 1, got {self.patch}")


COMMANDS: list[Command] = [
    Command("visualize", "saliency", SaliencyConfig, "visionlab.visualize.saliency:run", SaliencyConfig.__doc__ or ""),
    Command(
        "visualize",
        "adversarial",
        AdversarialConfig,
        "visionlab.visualize.adversarial:run",
        AdversarialConfig.__doc__ or "",
    ),
    Command(
        "visualize",
        "class-model",
        ClassModelConfig,
        "visionlab.visualize.class_model:run",
        ClassModelConfig.__doc__ or "",
    ),
    Command("visualize", "sanity", SanityConfig, "visionlab.visualize.sanity:run", SanityConfig.__doc__ or ""),
]

# The demo's steps: (run-folder label, command, config overrides); about 3 minutes on a 2-core CPU
# (measured with one thread per process while other jobs shared the machine).
DEMO: list[tuple[str, str, dict[str, Any]]] = [
    ("saliency", "saliency", {}),
    ("saliency-gradcam", "saliency", {"method": "gradcam"}),
    ("adversarial", "adversarial", {"attack": ["naive", "fgsm", "pgd"]}),
    ("class-model", "class-model", {"classes": ["tarantula", "gorilla"], "iterations": 200, "size": 160}),
    (
        "class-model-blur-sweep",
        "class-model",
        {"classes": ["tarantula"], "sweep": "blur_every=0,5", "iterations": 200, "size": 160},
    ),
    (
        "class-model-from-photo",
        "class-model",
        {"classes": ["tarantula"], "init": "bundled:cat", "iterations": 200, "size": 160},
    ),
    ("sanity", "sanity", {"limit": 4, "steps": 16}),
]
