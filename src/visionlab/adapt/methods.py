"""`adapt dann | source-only | target-only`: train a method over seeds, evaluate, write the table and figures.

The reported numbers are those of the last epoch: no target label takes part in training (except in the
train-on-target upper bound, by definition) or in choosing a model (Ganin et al., JMLR 2016, protocol).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from visionlab.adapt import figures
from visionlab.adapt.commands import AUTO_AUGMENT, AdaptOptions, DannConfig, SourceOnlyConfig, TargetOnlyConfig
from visionlab.adapt.data import Domains, load_domains
from visionlab.adapt.labels import LABELS
from visionlab.adapt.train import MethodResult, evaluate, make_job, train
from visionlab.data.base import TensorImages
from visionlab.engine import select_device
from visionlab.runs import Run

AUGMENT_NOTE = (
    "the choice of `adapt select` for this network (what --augment auto, the default, gives), made without target "
    "labels (highest IM score on the unlabelled MNIST-M training images): colour for bn, invert for canonical"
)
SELECTION = "last epoch (no target labels used for training or model selection)"
# `--source-limit` / `--target-limit` / `--test-limit` keep a random subset drawn with this seed (the same
# images for every run and seed, so that methods compare on the same data).
SUBSET_SEED = 0


def prepare(cfg: AdaptOptions, run: Run) -> Domains:
    """Load the domains (the limits of the config applied) and record in config.json what was used."""
    data = load_domains(cfg.data_root, cfg.target_root)
    data = Domains(
        _first(data.source_train, cfg.source_limit),
        _first(data.source_test, cfg.test_limit),
        _first(data.target_train, cfg.target_limit),
        _first(data.target_test, cfg.test_limit),
        data.source_desc,
        data.target_desc,
    )
    run.set_data(
        f"source: {data.source_desc}, {len(data.source_train)} train images used, {len(data.source_test)} test; "
        f"target: {data.target_desc.split(':')[0]}: {len(data.target_train)} train images used unlabelled, "
        f"{len(data.target_test)} test images for evaluation)"
    )
    chosen = cfg.augment == AUTO_AUGMENT[cfg.arch]
    augment = f"{cfg.augment}: {AUGMENT_NOTE}" if chosen else cfg.augment  # a note only where it applies
    run.note(selection=SELECTION, seeds=[cfg.seed + i for i in range(cfg.seeds)], augment=augment)
    if cfg.devices > 1:
        run.note(
            data_parallel=f"{cfg.devices} processes (DDP, Lightning Fabric), each with {cfg.batch_size // cfg.devices}"
            f" images of each {cfg.batch_size}-image batch per domain"
        )
    return data


def _first(split: TensorImages, n: int) -> TensorImages:
    if not n or n >= len(split):
        return split
    perm = torch.randperm(len(split), generator=torch.Generator().manual_seed(SUBSET_SEED))[:n]
    return split.subset(perm.sort().values)


def train_method(
    cfg: AdaptOptions,
    run: Run,
    data: Domains,
    method: str,
    tag: str = "",
    augment: str | None = None,
    grl_lambda: float | None = None,
) -> MethodResult:
    """Train `method` for every seed (checkpoint per seed, so a killed run resumes), evaluate each."""
    device = select_device(cfg.device)
    per_seed, histories = [], []
    start = time.perf_counter()
    model = None
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    for seed in seeds:
        job = make_job(cfg, method, seed, run.checkpoints / f"{tag or method}-seed{seed}.pt", augment, grl_lambda)
        trained = train(cfg, job, data)
        model = trained.model
        assert model is not None
        per_seed.append(evaluate(model, data, device, cfg.input_norm))
        histories.append(trained.history)
        print(f"{LABELS[method]}, seed {seed}: target/acc {per_seed[-1]['target/acc']:.4f}", flush=True)
    assert model is not None
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


def run_methods(cfg: AdaptOptions, run: Run, methods: list[str], grl_lambda: float | None = None) -> dict[str, float]:
    """Train each method; the first one's metrics keep plain names, the others get `<method>/` prefixes."""
    data = prepare(cfg, run)
    results = [train_method(cfg, run, data, m, grl_lambda=grl_lambda) for m in methods]
    metrics: dict[str, float] = {}
    for i, r in enumerate(results):
        metrics.update(summarize(r, "" if i == 0 else f"{r.method.replace('-', '_')}/"))
    if "target-only" in methods:
        run.note(target_labels="target-only: trained with the target training labels (an upper bound, not adaptation)")
    figures.write_all(run, data, results, select_device(cfg.device), cfg)
    return metrics


def run_dann(cfg: DannConfig, run: Run) -> dict[str, float]:
    """`adapt dann` (with `--no-grl`: the domain loss minimized by everyone; `--baselines`: also the baselines)."""
    first = "dann" if cfg.grl else "no-grl"
    methods = [first] + (["no-grl" if cfg.grl else "dann", "source-only"] if cfg.baselines else [])
    return run_methods(cfg, run, methods, cfg.grl_lambda)


def run_source_only(cfg: SourceOnlyConfig, run: Run) -> dict[str, float]:
    """`adapt source-only`: the same network trained on labelled source images only."""
    return run_methods(cfg, run, ["source-only"])


def run_target_only(cfg: TargetOnlyConfig, run: Run) -> dict[str, float]:
    """`adapt target-only`: the upper bound trained on the labelled target training images."""
    return run_methods(cfg, run, ["target-only"])
