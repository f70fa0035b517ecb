"""`adapt dann | source-only | target-only`: train a method over seeds, evaluate, write the table and figures.

The reported numbers are those of the last epoch: no target label takes part in training (except in the
train-on-target upper bound, by definition) or in choosing a model (Ganin et al., JMLR 2016, protocol).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from visionlab.adapt.data import Domains, load_domains
from visionlab.adapt.nets import DANN
from visionlab.adapt.train import TrainSettings, evaluate, train
from visionlab.data.base import TensorImages
from visionlab.engine import select_device
from visionlab.runs import Run

LABELS = {
    "dann": "DANN (GRL)",
    "no-grl": "DANN without GRL",
    "source-only": "source only",
    "target-only": "train on target (upper bound, uses target labels)",
}
QUICK = {"epochs": 2, "source_limit": 256, "target_limit": 256, "tsne": 100, "test_limit": 300}
AUGMENT_NOTE = (
    "--augment auto (the default) is the choice of `adapt select` for the network, made without target labels "
    "(highest IM score on the unlabelled MNIST-M training images): colour for bn, invert for canonical"
)
SELECTION = "last epoch (no target labels used for training or model selection)"


@dataclass
class MethodResult:
    """One method over its seeds: per-seed metrics, epoch logs, the last model."""

    method: str
    per_seed: list[dict[str, float]]
    histories: list[list[dict[str, float]]]
    model: DANN
    seconds: float
    seeds: list[int]


def settings(cfg: Any, method: str, **override: Any) -> TrainSettings:
    """The training settings of `method` from a command config (`--quick` shrinks the epochs)."""
    values = dict(
        method=method,
        arch=cfg.arch,
        epochs=QUICK["epochs"] if cfg.quick else cfg.epochs,
        batch_size=min(cfg.batch_size, 32) if cfg.quick else cfg.batch_size,
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        gamma=cfg.gamma,
        grl_lambda=getattr(cfg, "grl_lambda", None),
        augment=cfg.augment,
        input_norm=cfg.input_norm,
    )
    values.update(override)
    return TrainSettings(**values)


def prepare(cfg: Any, run: Run) -> Domains:
    """Load the domains (smaller under `--quick`) and record in config.json what was used."""
    data = load_domains(cfg.data_root, cfg.target_root)
    src_n = QUICK["source_limit"] if cfg.quick else cfg.source_limit
    tgt_n = QUICK["target_limit"] if cfg.quick else cfg.target_limit
    test_n = QUICK["test_limit"] if cfg.quick else 0
    data = Domains(
        _first(data.source_train, src_n),
        _first(data.source_test, test_n),
        _first(data.target_train, tgt_n),
        _first(data.target_test, test_n),
        data.source_desc,
        data.target_desc,
    )
    run.set_data(
        f"source: {data.source_desc}, {len(data.source_train)} train images used, {len(data.source_test)} test; "
        f"target: {data.target_desc.split(':')[0]}: {len(data.target_train)} train images used unlabelled, "
        f"{len(data.target_test)} test images for evaluation)"
    )
    run.note(selection=SELECTION, seeds=[cfg.seed + i for i in range(cfg.seeds)], augment=AUGMENT_NOTE)
    return data


def _first(split: TensorImages, n: int) -> TensorImages:
    if not n or n >= len(split):
        return split
    perm = torch.randperm(len(split), generator=torch.Generator().manual_seed(0))[:n]
    return split.subset(perm.sort().values)


def train_method(cfg: Any, run: Run, data: Domains, method: str, tag: str = "", **override: Any) -> MethodResult:
    """Train `method` for every seed (checkpoint per seed, so a killed run resumes), evaluate each."""
    s = settings(cfg, method, **override)
    device = select_device(cfg.device)
    per_seed, histories = [], []
    start = time.perf_counter()
    model = None
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        name = f"{tag or method}-seed{seed}.pt"
        model, history = train(data, s, seed, device, run.checkpoints / name)
        per_seed.append(evaluate(model, data, device, s.input_norm))
        histories.append(history)
        print(f"{LABELS[method]}, seed {seed}: target/acc {per_seed[-1]['target/acc']:.4f}", flush=True)
    assert model is not None
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    return MethodResult(method, per_seed, histories, model, time.perf_counter() - start, seeds)


def summarize(result: MethodResult, prefix: str = "") -> dict[str, float]:
    """Per-seed metrics, their means under the plain names, and mean/std of the accuracies."""
    out: dict[str, float] = {}
    keys = list(result.per_seed[0])
    for seed, m in zip(result.seeds, result.per_seed):
        if len(result.per_seed) > 1:
            out.update({f"{prefix}seed{seed}/{k}": v for k, v in m.items()})
    for k in keys:
        values = np.array([m[k] for m in result.per_seed])
        out[f"{prefix}{k}"] = float(values.mean())
        if k.endswith("/acc"):
            out[f"{prefix}{k}_mean"] = float(values.mean())
            out[f"{prefix}{k}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    out[f"{prefix}time/seconds_per_seed"] = result.seconds / len(result.per_seed)
    return out


def run_methods(cfg: Any, run: Run, methods: list[str]) -> dict[str, float]:
    """Train each method; the first one's metrics keep plain names, the others get `<method>/` prefixes."""
    from visionlab.adapt import figures

    data = prepare(cfg, run)
    results = [train_method(cfg, run, data, m) for m in methods]
    metrics: dict[str, float] = {}
    for i, r in enumerate(results):
        metrics.update(summarize(r, "" if i == 0 else f"{r.method.replace('-', '_')}/"))
    if "target-only" in methods:
        run.note(target_labels="target-only: trained with the target training labels (an upper bound, not adaptation)")
    device = select_device(cfg.device)
    figures.write_all(run, data, results, device, cfg)
    return metrics


def run_dann(cfg: Any, run: Run) -> dict[str, float]:
    """`adapt dann` (with `--no-grl`: the domain loss minimized by everyone; `--baselines`: also the baselines)."""
    first = "dann" if cfg.grl else "no-grl"
    methods = [first] + (["no-grl" if cfg.grl else "dann", "source-only"] if cfg.baselines else [])
    return run_methods(cfg, run, methods)


def run_source_only(cfg: Any, run: Run) -> dict[str, float]:
    """`adapt source-only`: the same network trained on the labelled source only."""
    return run_methods(cfg, run, ["source-only"])


def run_target_only(cfg: Any, run: Run) -> dict[str, float]:
    """`adapt target-only`: the upper bound trained on the labelled target training images."""
    return run_methods(cfg, run, ["target-only"])
