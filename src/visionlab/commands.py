"""The command registry: every `visionlab` command, its config dataclass and the function it runs.

Config classes live beside the registry and import nothing heavy, so `--help` and bad options answer
at once; the function behind a command (`module:function`) is imported only when it runs.
Experiment commands run `function(cfg, run) -> metrics` inside a run folder; tool commands run
`function(cfg) -> exit code` and print.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from visionlab.config import opt, require
from visionlab.options import BackboneOptions, DataOptions

GROUPS = {
    "transfer": "transfer learning: frozen CNN features + SVM, cut and C sweeps, fine-tuning, backbone comparison",
    "visualize": "network visualization: saliency maps, adversarial examples, class-model visualization, sanity checks",
    "adapt": "domain adaptation: DANN with a gradient-reversal layer on MNIST -> MNIST-M, baselines, sweeps",
    "generate": "generative models: DCGAN and conditional GAN, sweeps, interpolation, sample metrics",
    "data": "the dataset catalog: list what is here, prepare what is missing",
    "models": "the backbone catalog: list backbones, fetch ImageNet weights",
}

# Modules that register the commands of each experiment group (imported lazily by the CLI).
GROUP_MODULES = {
    "transfer": "visionlab.transfer.commands",
    "visualize": "visionlab.visualize.commands",
    "adapt": "visionlab.adapt.commands",
    "generate": "visionlab.generate.commands",
}


@dataclass(frozen=True)
class Command:
    """One command: `visionlab [group] name`."""

    group: str | None
    name: str
    config: type
    target: str  # "module:function"
    help: str
    experiment: bool = True

    @property
    def label(self) -> str:
        return f"{self.group} {self.name}" if self.group else self.name

    def function(self) -> Callable[..., Any]:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


# --- tool commands ---------------------------------------------------------------------------------


@dataclass
class ClassifyConfig(BackboneOptions):
    """Classify images with an ImageNet-pretrained backbone."""

    images: list[str] = opt(
        [],
        "image files, or bundled:NAME / bundled:all for the photos that ship with the toolkit",
        positional=True,
        required=True,
        metavar="IMAGE",
    )
    top: int = opt(5, "how many classes to show per image")
    json: bool = opt(False, "print one JSON object per image instead of a table")
    device: Literal["auto", "cpu", "cuda", "mps"] = opt("auto", "where to compute: auto picks cuda, then mps, then cpu")

    def validate(self) -> None:
        require(1 <= self.top <= 1000, f"--top must be between 1 and 1000, got {self.top}")


@dataclass
class DataListConfig:
    """List the datasets and whether they are here."""

    data_root: Path | None = opt(None, "data root (default: $VISIONLAB_DATA, else ~/.cache/visionlab)", metavar="DIR")


@dataclass
class DataPrepareConfig:
    """Download (or build) a dataset into the data root."""

    name: str = opt("", "dataset name (see `visionlab data list`)", positional=True, metavar="NAME")
    data_root: Path | None = opt(None, "data root (default: $VISIONLAB_DATA, else ~/.cache/visionlab)", metavar="DIR")
    synthesize: bool = opt(False, "mnist_m: build it from MNIST and colour photo patches (Ganin 2015)")
    backgrounds: Path | None = opt(
        None, "mnist_m --synthesize: folder of background photos (BSDS500); default: bundled photos", metavar="DIR"
    )
    seed: int = opt(0, "seed of the synthesized data")

    def validate(self) -> None:
        require(bool(self.name), "data prepare needs a dataset NAME", "see `visionlab data list`")


@dataclass
class ModelsListConfig:
    """List the backbones, their input sizes, cut points and whether their weights are here."""

    cuts: bool = opt(False, "also list every named cut point")


@dataclass
class ModelsPrepareConfig:
    """Download a torchvision backbone's ImageNet weights into torch's cache (needs the network once)."""

    name: str = opt("", "backbone name", positional=True, metavar="NAME")

    def validate(self) -> None:
        require(bool(self.name), "models prepare needs a backbone NAME", "see `visionlab models list`")


@dataclass
class DemoConfig(DataOptions):
    """Run a short version of every part offline and write one HTML report."""

    out: Path = opt(Path("runs/demo"), "folder for the demo's runs and report.html", metavar="DIR")
    device: Literal["auto", "cpu", "cuda", "mps"] = opt("auto", "where to compute: auto picks cuda, then mps, then cpu")
    force: bool = opt(False, "run every step again even if its finished run is there")


@dataclass
class ReportConfig:
    """Write one HTML report from run folders."""

    runs_dir: Path = opt(
        Path("runs"), "folder holding run folders (searched recursively)", positional=True, metavar="RUNS_DIR"
    )
    output: Path | None = opt(None, "the HTML file (default: RUNS_DIR/report.html)", short="-o", metavar="FILE")


TOOLS: list[Command] = [
    Command(None, "demo", DemoConfig, "visionlab.demo:main", DemoConfig.__doc__ or "", experiment=False),
    Command(None, "report", ReportConfig, "visionlab.report.html:main", ReportConfig.__doc__ or "", experiment=False),
    Command(
        None, "classify", ClassifyConfig, "visionlab.classify:main", ClassifyConfig.__doc__ or "", experiment=False
    ),
    Command(
        "data", "list", DataListConfig, "visionlab.tools:data_list", DataListConfig.__doc__ or "", experiment=False
    ),
    Command(
        "data",
        "prepare",
        DataPrepareConfig,
        "visionlab.tools:data_prepare",
        DataPrepareConfig.__doc__ or "",
        experiment=False,
    ),
    Command(
        "models",
        "list",
        ModelsListConfig,
        "visionlab.tools:models_list",
        ModelsListConfig.__doc__ or "",
        experiment=False,
    ),
    Command(
        "models",
        "prepare",
        ModelsPrepareConfig,
        "visionlab.tools:models_prepare",
        ModelsPrepareConfig.__doc__ or "",
        experiment=False,
    ),
]


def all_commands() -> list[Command]:
    """Every registered command: the tools, then each experiment group's."""
    commands = list(TOOLS)
    for module in GROUP_MODULES.values():
        commands += importlib.import_module(module).COMMANDS
    return commands
