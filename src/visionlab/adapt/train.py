"""One training run of a method (DANN, DANN without GRL, source-only, target-only) with `engine.Loop`.

DANN (Ganin et al., JMLR 2016, Algorithm 1): each step takes half a batch of labelled source images and
half a batch of unlabelled target images; the label loss uses the source half, the domain loss both
halves, and the GRL factor follows `2 / (1 + exp(-gamma p)) - 1` while the learning rate anneals as
`lr0 / (1 + alpha p) ** beta`. The other methods run through the same loop and step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from visionlab.adapt.data import Domains, augment_source, normalize
from visionlab.adapt.grl import lambda_schedule, lr_schedule
from visionlab.adapt.nets import DANN
from visionlab.engine import Loop, TensorBatches, seed_everything

METHODS = ("dann", "no-grl", "source-only", "target-only")


@dataclass
class TrainSettings:
    """What one training run needs (a subset of the command's config)."""

    method: str = "dann"
    arch: str = "bn"
    epochs: int = 30
    batch_size: int = 64  # per domain: each step sees batch_size source + batch_size target images
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    gamma: float = 10.0
    grl_lambda: float | None = None  # a fixed GRL factor instead of the schedule
    augment: str = "colour"  # colour | invert | affine | none
    input_norm: str = "image"
    eval_every: int = 1  # evaluate on 1,000 target test images every k epochs for the curves (0: never)


class PairedBatches:
    """Source batches paired with target batches; an epoch is one pass over the source."""

    def __init__(self, source: TensorBatches, target: TensorBatches, epoch: int) -> None:
        self.source, self.target, self.epoch = source, target, epoch

    def __len__(self) -> int:
        return len(self.source)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        self.source.set_epoch(self.epoch)
        rounds = 0
        target = iter(self.target.set_epoch(self.epoch * 1000))
        for xs, ys in self.source:
            try:
                xt, yt = next(target)
            except StopIteration:
                rounds += 1
                target = iter(self.target.set_epoch(self.epoch * 1000 + rounds))
                xt, yt = next(target)
            yield xs, ys, xt, yt


def make_step(model: DANN, opt: torch.optim.Optimizer, s: TrainSettings, device: torch.device):
    """The loop's `step(batch, p)` for method `s.method`."""

    def step(batch: tuple[torch.Tensor, ...], p: float) -> dict[str, Any]:
        xs, ys, xt, yt = (t.to(device) for t in batch)
        for group in opt.param_groups:
            group["lr"] = lr_schedule(p, s.lr)
        lam = s.grl_lambda if s.grl_lambda is not None else lambda_schedule(p, s.gamma)
        src = augment_source(xs, s.augment)
        x = torch.cat([normalize(src, s.input_norm), normalize(xt, s.input_norm)])
        x = x.contiguous(memory_format=torch.channels_last)
        coeff = {"dann": lam, "no-grl": -lam}.get(s.method, 0.0)
        logits, dlogits, _ = model(x, coeff)
        n = len(xs)
        domain = torch.cat([torch.zeros(n), torch.ones(len(xt))]).to(device)
        d_loss = F.binary_cross_entropy_with_logits(dlogits, domain)
        if s.method == "target-only":
            c_loss = F.cross_entropy(logits[n:], yt)
            acc = (logits[n:].argmax(1) == yt).float().mean()
        else:
            c_loss = F.cross_entropy(logits[:n], ys)
            acc = (logits[:n].argmax(1) == ys).float().mean()
        opt.zero_grad(set_to_none=True)
        (c_loss + d_loss).backward()
        opt.step()
        d_acc = ((dlogits > 0).float() == domain).float().mean()
        return {
            "train/class_loss": c_loss.detach(),
            "train/acc": acc.detach(),
            "train/domain_loss": d_loss.detach(),
            "train/domain_acc": d_acc.detach(),
            "train/lambda": lam,
            "train/lr": opt.param_groups[0]["lr"],
        }

    return step


@torch.no_grad()
def evaluate(model: DANN, data: Domains, device: torch.device, norm: str, limit: int = 0) -> dict[str, float]:
    """Label accuracy and domain-classifier accuracy/loss on the source and target test splits."""
    model.eval()
    out: dict[str, float] = {}
    for name, split, label in (("source", data.source_test, 0.0), ("target", data.target_test, 1.0)):
        images, labels = split.images, split.labels
        if limit:
            images, labels = images[:limit], labels[:limit]
        correct = d_correct = 0
        d_loss = 0.0
        for i in range(0, len(images), 500):
            x = normalize(images[i : i + 500].to(device), norm)
            logits, dlogits, _ = model(x)
            correct += int((logits.argmax(1).cpu() == labels[i : i + 500]).sum())
            d_correct += int(((dlogits > 0).float() == label).sum())
            d_loss += float(
                F.binary_cross_entropy_with_logits(dlogits, torch.full_like(dlogits, label), reduction="sum")
            )
        out[f"{name}/acc"] = correct / len(images)
        out[f"{name}/domain_acc"] = d_correct / len(images)
        out[f"{name}/domain_loss"] = d_loss / len(images)
    model.train()
    return out


def train(
    data: Domains, s: TrainSettings, seed: int, device: torch.device, checkpoint: Path | None
) -> tuple[DANN, list[dict[str, float]]]:
    """Train `s.method` with seed `seed`; resumes from `checkpoint`. Returns the model and the epoch logs."""
    seed_everything(seed)
    model = DANN(s.arch).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
    source = TensorBatches(
        data.source_train.images, data.source_train.labels, batch_size=s.batch_size, seed=seed, drop_last=True
    )
    target = TensorBatches(
        data.target_train.images, data.target_train.labels, batch_size=s.batch_size, seed=seed + 7919, drop_last=True
    )

    def end_epoch(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        if not s.eval_every or (epoch + 1) % s.eval_every:
            return {}
        quick = evaluate(model, data, device, s.input_norm, limit=1000)
        print(
            f"{s.method} seed {seed} epoch {epoch + 1}/{s.epochs}: label loss {logs['train/class_loss']:.3f}, "
            f"domain loss {logs['train/domain_loss']:.3f}, source/acc {quick['source/acc']:.3f}, "
            f"target/acc {quick['target/acc']:.3f} (first 1,000 test images, display only)",
            flush=True,
        )
        return {f"curve/{k}": v for k, v in quick.items() if k.endswith("acc")}

    loop = Loop(
        s.epochs,
        lambda e: PairedBatches(source, target, e),
        make_step(model, opt, s, device),
        {"model": model, "optimizer": opt},
        checkpoint,
        end_epoch,
        desc=f"{s.method} seed {seed}",
    )
    return model, loop.run().history
