"""`transfer finetune`: a pretrained backbone with a new head for the target classes (Yosinski et al. 2014).

The last layer is replaced by a fresh `nn.Linear` for the dataset's classes. `--freeze` trains that head
only (the pretrained layers stay fixed and in eval mode, the "frozen features + new last layer" setting);
otherwise every layer trains, the pretrained ones at a smaller learning rate. `--augment` applies, to the
training images only: random resized crop, horizontal flip, rotation up to 15 degrees, random perspective
0.2 and colour jitter 0.2 (torchvision transforms v2). 80/20 train/validation split of the training
split by seed; the model of the last epoch is tested (no model selection on test labels).
Images are decoded once, resized, and kept in memory; each epoch only crops/augments them (in DataLoader
workers). `--precision` and `--devices N` run the training through Lightning Fabric (`engine.launch`):
mixed precision by autocast, N data-parallel processes each with its share of every global batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionlab.data import ImageData
from visionlab.data.base import stratified_split
from visionlab.engine import count_parameters, launch
from visionlab.models import Backbone, load_backbone
from visionlab.report.figures import curves
from visionlab.runs import Run
from visionlab.transfer.commands import FinetuneConfig, TrainRun
from visionlab.transfer.images import Decoded, decode_all
from visionlab.transfer.targets import load_target
from visionlab.transfer.training import FitJob, FitResult, fit, freeze_body

AUGMENTATION = "random resized crop, horizontal flip, rotation 15, perspective 0.2, colour jitter 0.2 (train only)"


@dataclass
class Trained:
    """What the protocol gives for one backbone: the fit, the image side, the split sizes, counts."""

    fit: FitResult
    size: int
    sizes: dict[str, int]
    skipped: int
    params: int
    trainable: int

    @property
    def s_per_epoch(self) -> float:
        return sum(h["epoch_s"] for h in self.fit.history) / len(self.fit.history)

    @property
    def images_per_s(self) -> float:
        """Training images per second (forward + backward + step; validation not counted)."""
        return self.sizes["train"] / self.s_per_epoch


def split_train_val(decoded: Decoded, share: float, seed: int) -> tuple[Decoded, Decoded]:
    """Stratified train/validation split of the training split by seed (`share` for validation)."""
    tr, va = stratified_split(decoded.labels.tolist(), 1.0 - share, seed)
    return decoded.subset(tr), decoded.subset(va)


def train_and_test(cfg: TrainRun, backbone: Backbone, data: ImageData, checkpoint: Path, name: str) -> Trained:
    """The protocol of `finetune` and `compare`: new head, train, validate every epoch, test the last model.

    Images are decoded once here; the training runs in `cfg.devices` processes (`engine.launch`, Lightning
    Fabric at `cfg.precision`), and rank 0's small result comes back.
    """
    size = backbone.spec.finetune_size(cfg.size)
    train_all = decode_all(data.train, size, cfg.crop, cfg.workers, "decode train")
    test = decode_all(data.test, size, cfg.crop, cfg.workers, "decode test")  # type: ignore[arg-type]
    train, val = split_train_val(train_all, cfg.val_share, cfg.seed)
    head = backbone.spec.new_head(backbone.net, len(data.classes))
    if cfg.freeze:
        freeze_body(backbone, head)
    job = FitJob(cfg, backbone, train, val, test, size, checkpoint, name)
    result = launch(fit, job, device=cfg.device, precision=cfg.precision, devices=cfg.devices)
    return Trained(
        result,
        size,
        {"train": len(train.labels), "val": len(val.labels), "test": len(test.labels)},
        train_all.skipped + test.skipped,
        count_parameters(backbone),
        count_parameters(backbone, trainable_only=True),
    )


def compute_note(cfg: TrainRun) -> dict[str, Any]:
    """What config.json records about precision and data parallelism."""
    if cfg.devices == 1:
        return {"precision": cfg.precision}
    return {
        "precision": cfg.precision,
        "data_parallel": f"{cfg.devices} processes (DDP through Lightning Fabric), each with its share "
        f"of every {cfg.batch_size}-image batch",
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


def run(cfg: FinetuneConfig, run: Run) -> dict[str, float]:
    """Fine-tune, draw the curves, test the last epoch's model."""
    backbone = load_backbone(cfg.backbone, cfg.weights)
    data = load_target(cfg, cfg.seed, run)
    result = train_and_test(cfg, backbone, data, run.checkpoints / f"{cfg.backbone}.pt", cfg.backbone)
    mode = "frozen body, new head only" if cfg.freeze else "all layers"
    run.note(
        weights=backbone.weights,
        image_size=result.size,
        trained=mode,
        augmentation=AUGMENTATION if cfg.augment else "none",
        split=result.sizes,
        model_selection="the last epoch's model is tested (no selection on validation or test labels)",
        skipped_images=result.skipped + int(data.notes.get("unreadable_skipped", 0)),
        **compute_note(cfg),
    )
    history = result.fit.history
    last = history[-1]
    aug = ", augmented" if cfg.augment else ""
    title = f"{cfg.backbone} fine-tuned ({mode}{aug}): test acc {result.fit.test_acc:.3f}"
    run.save_figure(curves_figure(history, title), "curves")
    return {
        "test/acc": result.fit.test_acc,
        "test/loss": result.fit.test_loss,
        "val/acc": last["val/acc"],
        "val/loss": last["val/loss"],
        "train/acc": last["train/acc"],
        "train/loss": last["train/loss"],
        "time/s_per_epoch": result.s_per_epoch,
        "model/params": float(result.params),
        "model/trainable_params": float(result.trainable),
        "data/skipped_images": float(result.skipped),
    }
