"""`adapt pseudo-label`: self-training after DANN (as in Lee 2013's pseudo-labels, on top of Ganin et al. 2016).

Each round predicts the unlabelled target training images, keeps those whose softmax confidence
reaches `--threshold` as pseudo-labels, and fine-tunes on source labels + pseudo-labels (the DANN
domain loss stays, with lambda 1). Target labels are read only to score each round: test accuracy and
the share of pseudo-labels that are right.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from visionlab.adapt.commands import PseudoLabelConfig
from visionlab.adapt.data import Domains, normalize
from visionlab.adapt.methods import prepare, train_method
from visionlab.adapt.nets import DANN
from visionlab.adapt.step import StepSpec
from visionlab.adapt.train import Job, evaluate, train
from visionlab.data.base import TensorImages
from visionlab.engine import eval_mode, load_checkpoint, predict_chunks, select_device
from visionlab.errors import MissingDataError, UsageError
from visionlab.runs import Run, read_json

# Round r fine-tunes with seed `--seed + r`; its target (pseudo-label) batches are ordered with that seed + this.
PSEUDO_ORDER_OFFSET = 1


def predict(model: DANN, images: torch.Tensor, device: torch.device, norm: str) -> torch.Tensor:
    """Softmax probabilities (N, 10) in eval mode, on the host (they are thresholded and counted there)."""
    with eval_mode(model):
        return predict_chunks(lambda x: model(normalize(x, norm))[0].softmax(1), images, device=device).cpu()


def start_model(cfg: PseudoLabelConfig, run: Run, data: Domains) -> tuple[DANN, PseudoLabelConfig]:
    """The DANN to start from and the config it was trained with: `--run DIR`'s checkpoint (its arch and
    normalization), or one trained here."""
    if cfg.run is None:
        return train_method(cfg, run, data, "dann").model, cfg
    old = read_json(cfg.run / "config.json") or {}
    if old.get("experiment") != "adapt dann" or old.get("status") != "done":
        raise UsageError(f"--run {cfg.run} is not a finished `adapt dann` run", "give a folder written by adapt dann")
    conf = old["config"]
    if not conf.get("grl", True):
        raise UsageError(f"--run {cfg.run} is a --no-grl run", "start from a DANN run with the GRL")
    ckpt = cfg.run / "checkpoints" / f"dann-seed{conf['seed']}.pt"
    if not ckpt.exists():
        raise MissingDataError(f"checkpoint missing: {ckpt}", "run `adapt dann` again into that folder")
    cfg = dataclasses.replace(cfg, arch=conf["arch"], input_norm=conf["input_norm"])
    model = DANN(cfg.arch).to(select_device(cfg.device), memory_format=torch.channels_last)
    model.load_state_dict(load_checkpoint(ckpt)["state"]["model"])
    run.note(started_from=f"adapt dann run, seed {conf['seed']}, arch {cfg.arch}")
    return model, cfg


def round_job(cfg: PseudoLabelConfig, model: DANN, r: int, run: Run, pseudo: int) -> Job:
    """Round `r`'s fine-tuning: source labels + pseudo-labels, the domain loss through the GRL with lambda 1,
    the learning rate where DANN's schedule ended; starts from `model`'s weights."""
    spec = StepSpec("pseudo", cfg.augment, cfg.input_norm, cfg.lr, cfg.gamma, grl_lambda=1.0, fixed_p=1.0)
    seed = cfg.seed + r
    return Job(
        spec,
        cfg.arch,
        cfg.round_epochs,
        cfg.batch_size,
        cfg.momentum,
        cfg.weight_decay,
        seed,
        seed + PSEUDO_ORDER_OFFSET,
        run.checkpoints / f"pseudo-round{r}.pt",
        f"pseudo-label round {r}",
        curves=False,
        init={k: v.detach().cpu() for k, v in model.state_dict().items()},
        target_batch=min(cfg.batch_size, pseudo),
    )


def run(cfg: PseudoLabelConfig, run: Run) -> dict[str, float]:
    """Rounds of pseudo-labelling; metrics per round: test accuracy, pseudo-label count and share right."""
    data = prepare(cfg, run)
    device = select_device(cfg.device)
    model, cfg = start_model(cfg, run, data)
    metrics: dict[str, float] = {f"round0/{k}": v for k, v in evaluate(model, data, device, cfg.input_norm).items()}
    for r in range(1, cfg.rounds + 1):
        probs = predict(model, data.target_train.images, device, cfg.input_norm)
        conf, labels = probs.max(1)
        keep = conf >= cfg.threshold
        right = (labels[keep] == data.target_train.labels[keep]).float()
        count = int(keep.sum())
        metrics[f"round{r}/pseudo/count"] = count
        metrics[f"round{r}/pseudo/fraction"] = float(keep.float().mean())
        metrics[f"round{r}/pseudo/share_right"] = float(right.mean()) if len(right) else float("nan")
        if count < 2:
            print(f"round {r}: fewer than 2 target predictions reach {cfg.threshold}; stopping", flush=True)
            break
        pseudo = TensorImages(data.target_train.images[keep], labels[keep])
        model = train(cfg, round_job(cfg, model, r, run, count), data, pseudo).model
        assert model is not None
        metrics.update({f"round{r}/{k}": v for k, v in evaluate(model, data, device, cfg.input_norm).items()})
        print(
            f"round {r}: {count} pseudo-labels, {metrics[f'round{r}/pseudo/share_right']:.3f} right; "
            f"target/acc {metrics[f'round{r}/target/acc']:.4f}",
            flush=True,
        )
    last = max(int(k.split("/")[0][5:]) for k in metrics if k.endswith("/target/acc"))
    metrics.update(
        {
            "target/acc": metrics[f"round{last}/target/acc"],
            "source/acc": metrics[f"round{last}/source/acc"],
            "target/acc_start": metrics["round0/target/acc"],
        }
    )
    run.note(target_labels="read only to score each round (test accuracy, share of pseudo-labels right)")
    run.save_figure(rounds_figure(metrics, last), "pseudo_label_rounds")
    return metrics


def rounds_figure(metrics: dict[str, float], last: int) -> Any:
    """Target test accuracy and pseudo-label quality per round."""
    from visionlab.report.figures import curves

    xs = list(range(last + 1))
    series = {
        "target test accuracy": [metrics[f"round{r}/target/acc"] for r in xs],
        "pseudo-labels right (share)": [float("nan")]
        + [metrics.get(f"round{r}/pseudo/share_right", float("nan")) for r in xs[1:]],
        "target train images pseudo-labelled": [float("nan")]
        + [metrics.get(f"round{r}/pseudo/fraction", float("nan")) for r in xs[1:]],
    }
    return curves(series, xlabel="round (0: the DANN start)", ylabel="", title="pseudo-labelling", x=xs)
