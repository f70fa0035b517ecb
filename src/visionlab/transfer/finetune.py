"""`transfer finetune`: a pretrained backbone with a new head for the target classes (Yosinski et al. 2014).

The last layer is replaced by a fresh `nn.Linear` for the dataset's classes. `--freeze` trains that head
only (the pretrained layers stay fixed and in eval mode, the "frozen features + new last layer" setting);
otherwise every layer trains, the pretrained ones at a smaller learning rate. `--augment` applies, to the
training images only: random resized crop, horizontal flip, rotation up to 15 degrees, random perspective
0.2 and colour jitter 0.2 (torchvision transforms v2). 80/20 train/validation split of the training
split by seed; the model of the last epoch is tested (no model selection on test labels).
Images are decoded once, resized, and kept in memory; each epoch only crops/augments them.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from visionlab.data.base import stratified_split
from visionlab.engine import Loop, count_parameters, progress, select_device
from visionlab.models import load_backbone
from visionlab.report.figures import curves
from visionlab.transfer.images import Decoded, decode_all, eval_transform, train_transform
from visionlab.transfer.targets import apply_quick, input_size, load_target

AUGMENTATION = "random resized crop, horizontal flip, rotation 15, perspective 0.2, colour jitter 0.2 (train only)"


def replace_head(backbone: nn.Module, n_classes: int) -> nn.Module:
    """Put a new `nn.Linear(in_features, n_classes)` where the backbone's last layer was (a 1x1 convolution
    for SqueezeNet's convolutional classifier); returns it."""
    net = backbone.net
    if hasattr(net, "aux_logits"):  # Inception v3: train the main head only
        net.aux_logits, net.AuxLogits = False, None
    parent_name, _, leaf = backbone.spec.head.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    old = getattr(parent, leaf)
    if isinstance(old, nn.Conv2d):
        head: nn.Module = nn.Conv2d(old.in_channels, n_classes, 1)
    else:
        head = nn.Linear(old.in_features, n_classes)
    setattr(parent, leaf, head)
    return head


def freeze_body(backbone: nn.Module, head: nn.Module) -> None:
    """Only the head keeps requires_grad; batch-norm statistics of the body stay fixed too (see `set_train`)."""
    for p in backbone.parameters():
        p.requires_grad_(False)
    for p in head.parameters():
        p.requires_grad_(True)


def set_train(backbone: nn.Module, head: nn.Module, frozen: bool) -> None:
    """Training mode: the whole net, or with a frozen body only the head."""
    backbone.train(not frozen)
    head.train()


def optimizer(backbone: nn.Module, head: nn.Module, cfg: Any) -> torch.optim.Optimizer:
    """AdamW (Loshchilov & Hutter 2019): the head at `lr`, the pretrained layers at `lr_backbone`."""
    head_ids = {id(p) for p in head.parameters()}
    body = [p for p in backbone.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": list(head.parameters()), "lr": cfg.lr}]
    if body:
        groups.append({"params": body, "lr": cfg.lr_backbone})
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


class Batches:
    """Shuffled mini-batches of decoded images, transformed per image (augmentation) then stacked."""

    def __init__(self, data: Decoded, transform: Any, batch_size: int, shuffle: bool, seed: int = 0) -> None:
        self.data, self.transform, self.batch_size, self.shuffle, self.seed = data, transform, batch_size, shuffle, seed
        self.epoch = 0

    def __len__(self) -> int:
        return -(-len(self.data.images) // self.batch_size)

    def __iter__(self):  # noqa: ANN204 - yields (images, labels)
        n = len(self.data.images)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        for i in range(0, n, self.batch_size):
            idx = order[i : i + self.batch_size].tolist()
            x = torch.stack([self.transform(self.data.images[j]) for j in idx])
            yield x.contiguous(memory_format=torch.channels_last), self.data.labels[idx]


@torch.inference_mode()
def evaluate(model: nn.Module, batches: Batches, device: torch.device, desc: str = "eval") -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over `batches`."""
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in progress(batches, desc, total=len(batches)):
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    return loss / max(1, n), correct / max(1, n)


def split_train_val(decoded: Decoded, share: float, seed: int) -> tuple[Decoded, Decoded]:
    """Stratified train/validation split of the training split by seed (`share` for validation)."""
    tr, va = stratified_split(decoded.labels.tolist(), 1.0 - share, seed)
    return decoded.subset(tr), decoded.subset(va)


def train_and_test(cfg: Any, backbone: nn.Module, data: Any, run: Any, name: str) -> dict[str, Any]:
    """The protocol of `finetune` and `compare`: new head, train, validate every epoch, test the last model.

    Returns history (per-epoch logs), test accuracy and loss, seconds per epoch, parameter counts.
    """
    device = select_device(cfg.device)
    size = input_size(cfg, backbone.spec)
    if backbone.spec.name == "inception_v3" and cfg.size:
        size = max(75, round(cfg.size * 299 / 224))  # Inception's own input ratio
    train_all = decode_all(data.train, size, cfg.crop, cfg.workers, "decode train")
    test = decode_all(data.test, size, cfg.crop, cfg.workers, "decode test")
    train, val = split_train_val(train_all, cfg.val_share, cfg.seed)
    head = replace_head(backbone, len(data.classes))
    if cfg.freeze:
        freeze_body(backbone, head)
    model = backbone.to(device).to(memory_format=torch.channels_last)
    opt = optimizer(backbone, head, cfg)
    tf_train = train_transform(size, cfg.crop, cfg.augment, backbone.spec)
    tf_eval = eval_transform(size, cfg.crop)
    timer: dict[str, float] = {}

    def batches(epoch: int) -> Batches:
        set_train(backbone, head, cfg.freeze)
        timer["start"] = time.perf_counter()
        b = Batches(train, tf_train, cfg.batch_size, shuffle=True, seed=cfg.seed)
        b.epoch = epoch
        return b

    def step(batch: tuple[torch.Tensor, torch.Tensor], _: float) -> dict[str, Any]:
        x, y = batch[0].to(device), batch[1].to(device)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"train/loss": loss.detach(), "train/acc": (logits.argmax(1) == y).float().mean()}

    def end_epoch(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        seconds = time.perf_counter() - timer["start"]
        vl, va = evaluate(model, Batches(val, tf_eval, cfg.batch_size, shuffle=False), device, "validate")
        print(f"{name} epoch {epoch + 1}: train acc {logs['train/acc']:.3f}, val acc {va:.3f} ({seconds:.0f} s)")
        return {"val/loss": vl, "val/acc": va, "epoch_s": seconds}

    safe = name.replace("/", "_")
    loop = Loop(cfg.epochs, batches, step, {"model": model, "optimizer": opt}, run.checkpoints / f"{safe}.pt",
                end_epoch, desc=f"train {name}")  # fmt: skip
    history = loop.run().history
    test_loss, test_acc = evaluate(model, Batches(test, tf_eval, cfg.batch_size, shuffle=False), device, "test")
    return {
        "history": history,
        "test_acc": test_acc,
        "test_loss": test_loss,
        "s_per_epoch": sum(h["epoch_s"] for h in history) / len(history),
        "params": count_parameters(model),
        "trainable": count_parameters(model, trainable_only=True),
        "size": size,
        "sizes": {"train": len(train.labels), "val": len(val.labels), "test": len(test.labels)},
        "skipped": train_all.skipped + test.skipped,
    }


def curves_figure(history: list[dict[str, float]], title: str) -> Any:
    """Two panels: train/val loss and train/val accuracy per epoch."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    curves({k: [h[f"{k}/loss"] for h in history] for k in ("train", "val")}, ylabel="cross-entropy", ax=left)
    curves({k: [h[f"{k}/acc"] for h in history] for k in ("train", "val")}, ylabel="accuracy", ax=right)
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def run(cfg: Any, run: Any) -> dict[str, float]:
    """Fine-tune, draw the curves, test the last epoch's model."""
    cfg = apply_quick(cfg, run)
    backbone = load_backbone(cfg.backbone, cfg.weights)
    data = load_target(cfg, run)
    result = train_and_test(cfg, backbone, data, run, cfg.backbone)
    mode = "frozen body, new head only" if cfg.freeze else "all layers"
    run.note(
        weights=backbone.weights,
        image_size=result["size"],
        trained=mode,
        augmentation=AUGMENTATION if cfg.augment else "none",
        split=result["sizes"],
        model_selection="the last epoch's model is tested (no selection on validation or test labels)",
        skipped_images=result["skipped"] + int(data.notes.get("unreadable_skipped", 0)),
    )
    last = result["history"][-1]
    aug = ", augmented" if cfg.augment else ""
    title = f"{cfg.backbone} fine-tuned ({mode}{aug}): test acc {result['test_acc']:.3f}"
    run.save_figure(curves_figure(result["history"], title), "curves")
    return {
        "test/acc": result["test_acc"],
        "test/loss": result["test_loss"],
        "val/acc": last["val/acc"],
        "val/loss": last["val/loss"],
        "train/acc": last["train/acc"],
        "train/loss": last["train/loss"],
        "time/s_per_epoch": result["s_per_epoch"],
        "model/params": float(result["params"]),
        "model/trainable_params": float(result["trainable"]),
        "data/skipped_images": float(result["skipped"]),
    }
