"""`adapt pseudo-label`: self-training after DANN (as in Lee 2013's pseudo-labels, on top of Ganin et al. 2016).

Each round predicts the unlabelled target training images, keeps those whose softmax confidence
reaches `--threshold` as pseudo-labels, and fine-tunes on source labels + pseudo-labels (the DANN
domain loss stays, with lambda 1). Target labels are read only to score each round: test accuracy and
the share of pseudo-labels that are right.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from visionlab.adapt.data import Domains, augment_source, normalize
from visionlab.adapt.grl import lr_schedule
from visionlab.adapt.methods import prepare, settings, train_method
from visionlab.adapt.nets import DANN
from visionlab.adapt.train import TrainSettings, evaluate
from visionlab.engine import Loop, TensorBatches, load_checkpoint, select_device
from visionlab.errors import MissingDataError, UsageError
from visionlab.runs import Run, read_json


@torch.no_grad()
def predict(model: DANN, images: torch.Tensor, device: torch.device, norm: str) -> torch.Tensor:
    """Softmax probabilities (N, 10) in eval mode."""
    model.eval()
    out = [
        model(normalize(images[i : i + 500].to(device), norm))[0].softmax(1).cpu() for i in range(0, len(images), 500)
    ]
    model.train()
    return torch.cat(out)


def start_model(cfg: Any, run: Run, data: Domains, device: torch.device) -> tuple[DANN, TrainSettings]:
    """The DANN to start from: `--run DIR`'s checkpoint (its arch and normalization), or one trained here."""
    if cfg.run is None:
        result = train_method(cfg, run, data, "dann")
        return result.model, settings(cfg, "dann")
    old = read_json(cfg.run / "config.json") or {}
    if old.get("experiment") != "adapt dann" or old.get("status") != "done":
        raise UsageError(f"--run {cfg.run} is not a finished `adapt dann` run", "give a folder written by adapt dann")
    conf = old["config"]
    if not conf.get("grl", True):
        raise UsageError(f"--run {cfg.run} is a --no-grl run", "start from a DANN run with the GRL")
    ckpt = cfg.run / "checkpoints" / f"dann-seed{conf['seed']}.pt"
    if not ckpt.exists():
        raise MissingDataError(f"checkpoint missing: {ckpt}", "run `adapt dann` again into that folder")
    s = settings(cfg, "dann", arch=conf["arch"], input_norm=conf["input_norm"])
    model = DANN(s.arch).to(device, memory_format=torch.channels_last)
    model.load_state_dict(load_checkpoint(ckpt)["state"]["model"])
    run.note(started_from=f"adapt dann run, seed {conf['seed']}, arch {s.arch}")
    return model, s


def fine_tune(
    model: DANN,
    data: Domains,
    xt: torch.Tensor,
    yt: torch.Tensor,
    s: TrainSettings,
    epochs: int,
    device: torch.device,
    checkpoint: Any,
    seed: int,
) -> None:
    """Train on source labels + pseudo-labels (plus the domain loss through the GRL, lambda 1)."""
    lr = lr_schedule(1.0, s.lr)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=s.momentum, weight_decay=s.weight_decay)
    source = TensorBatches(
        data.source_train.images, data.source_train.labels, batch_size=s.batch_size, seed=seed, drop_last=True
    )
    target = TensorBatches(xt, yt, batch_size=min(s.batch_size, len(xt)), seed=seed + 1, drop_last=True)

    def step(batch: tuple[torch.Tensor, ...], p: float) -> dict[str, Any]:
        xs, ys = batch[0][0].to(device), batch[0][1].to(device)
        x_t, y_t = batch[1][0].to(device), batch[1][1].to(device)
        src = augment_source(xs, s.augment)
        x = torch.cat([normalize(src, s.input_norm), normalize(x_t, s.input_norm)])
        logits, dlogits, _ = model(x.contiguous(memory_format=torch.channels_last), 1.0)
        n = len(xs)
        domain = torch.cat([torch.zeros(n), torch.ones(len(x_t))]).to(device)
        loss = F.cross_entropy(logits, torch.cat([ys, y_t])) + F.binary_cross_entropy_with_logits(dlogits, domain)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"train/loss": loss.detach()}

    def batches(epoch: int) -> Any:
        return _Zip(source.set_epoch(epoch), target.set_epoch(epoch))

    loop = Loop(epochs, batches, step, {"model": model, "optimizer": opt}, checkpoint, desc="pseudo-label")
    loop.run()


class _Zip:
    """Source batches zipped with cycled target batches; as long as the source."""

    def __init__(self, a: TensorBatches, b: TensorBatches) -> None:
        self.a, self.b = a, b

    def __len__(self) -> int:
        return len(self.a)

    def __iter__(self) -> Any:
        it = iter(self.b)
        for x in self.a:
            y = next(it, None)
            if y is None:
                it = iter(self.b)
                y = next(it)
            yield x, y


def run(cfg: Any, run: Run) -> dict[str, float]:
    """Rounds of pseudo-labelling; metrics per round: test accuracy, pseudo-label count and share right."""
    data = prepare(cfg, run)
    device = select_device(cfg.device)
    model, s = start_model(cfg, run, data, device)
    rounds = 1 if cfg.quick else cfg.rounds
    epochs = 1 if cfg.quick else cfg.round_epochs
    metrics: dict[str, float] = {f"round0/{k}": v for k, v in evaluate(model, data, device, s.input_norm).items()}
    for r in range(1, rounds + 1):
        probs = predict(model, data.target_train.images, device, s.input_norm)
        conf, labels = probs.max(1)
        keep = conf >= cfg.threshold
        right = (labels[keep] == data.target_train.labels[keep]).float()
        metrics[f"round{r}/pseudo/count"] = int(keep.sum())
        metrics[f"round{r}/pseudo/fraction"] = float(keep.float().mean())
        metrics[f"round{r}/pseudo/share_right"] = float(right.mean()) if len(right) else float("nan")
        if int(keep.sum()) < 2:
            print(f"round {r}: fewer than 2 target predictions reach {cfg.threshold}; stopping", flush=True)
            break
        fine_tune(
            model,
            data,
            data.target_train.images[keep],
            labels[keep],
            s,
            epochs,
            device,
            run.checkpoints / f"pseudo-round{r}.pt",
            cfg.seed + r,
        )
        metrics.update({f"round{r}/{k}": v for k, v in evaluate(model, data, device, s.input_norm).items()})
        print(
            f"round {r}: {int(keep.sum())} pseudo-labels, {metrics[f'round{r}/pseudo/share_right']:.3f} right; "
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
