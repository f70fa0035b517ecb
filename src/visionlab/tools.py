"""The catalog commands: `visionlab data list|prepare` and `visionlab models list|prepare`."""

from __future__ import annotations

from visionlab.commands import DataListConfig, DataPrepareConfig, ModelsListConfig, ModelsPrepareConfig
from visionlab.data import DATASETS, default_root
from visionlab.data.catalog import prepare


def data_list(cfg: DataListConfig) -> int:
    """Print every dataset, what it is, and whether it is under the data root."""
    print(f"data root: {default_root(cfg.data_root)}")
    width = max(len(n) for n in DATASETS)
    for entry in DATASETS.values():
        print(f"  {entry.name:<{width}}  {entry.summary}\n  {'':<{width}}  -> {entry.status(cfg.data_root)}")
    return 0


def data_prepare(cfg: DataPrepareConfig) -> int:
    """Download or build one dataset."""
    print(prepare(cfg.name, cfg.data_root, synthesize=cfg.synthesize, backgrounds=cfg.backgrounds, seed=cfg.seed))
    return 0


def models_list(cfg: ModelsListConfig) -> int:
    """Print every backbone with its input size, default cut and whether its ImageNet weights are here."""
    from visionlab.models import SPECS

    width = max(len(n) for n in SPECS)
    for spec in SPECS.values():
        here = "weights here" if spec.weights_file() else f"weights missing: `visionlab models prepare {spec.name}`"
        print(
            f"  {spec.name:<{width}}  {spec.input_size}px  {spec.summary}\n  {'':<{width}}  -> {here}; "
            f"features at {spec.penultimate!r}"
        )
        if cfg.cuts:
            print(f"  {'':<{width}}     body cuts: {', '.join(spec.body_cuts)}")
            print(f"  {'':<{width}}     head cuts: {', '.join(spec.head_cuts)}")
    return 0


def models_prepare(cfg: ModelsPrepareConfig) -> int:
    """Fetch a backbone's ImageNet weights into torch's cache."""
    from visionlab.models.backbones import download_weights

    print(f"{cfg.name}: weights in {download_weights(cfg.name)}")
    return 0
