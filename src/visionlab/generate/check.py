"""An independent digit classifier that cross-checks what the evaluation classifier reads from samples.

A conditional GAN is only as good as its label accuracy says if the classifier that reads the labels is not
fooled the same way as the one the metrics use. This second classifier shares nothing with the evaluation
classifier of `metrics.py` but the training digits: another architecture (LeNet-5's two 5x5 valid
convolutions, LeCun et al. 1998, here with batch norm, a 500-unit layer and dropout), another seed, another
augmentation (a random affine warp per image: rotation, scale, shift) and its own cache file.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from visionlab.engine import (
    Loop,
    TensorBatches,
    device_generator,
    eval_mode,
    load_checkpoint,
    predict_chunks,
    save_checkpoint,
)
from visionlab.generate.data import to_float

# The check classifier's seed (weights, batch order, warps): not the evaluation classifier's seed 0.
CHECK_SEED = 1009
# The random warp of each training image: rotation up to 10 degrees, scale 0.9-1.1, shift up to 2 of 32 pixels.
MAX_DEGREES, MAX_SCALE, MAX_SHIFT = 10.0, 0.1, 2 / 16

Step = Callable[[tuple[torch.Tensor, torch.Tensor], float], dict[str, torch.Tensor]]


class CheckClassifier(nn.Module):
    """LeNet-5-style CNN for 1x32x32 digits in [-1, 1]: 5x5 conv (20) -> 5x5 conv (50) -> 500 -> 10."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 20, 5, bias=False), nn.BatchNorm2d(20), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(20, 50, 5, bias=False), nn.BatchNorm2d(50), nn.ReLU(), nn.MaxPool2d(2),  # 10 -> 5
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(50 * 25, 500), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(500, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def random_warps(n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 2, 3) affine matrices for `F.affine_grid`: random rotation, scale and shift, drawn on `device`."""
    u = torch.rand(n, 4, device=device, generator=generator) * 2 - 1  # uniform in [-1, 1)
    angle = u[:, 0] * math.radians(MAX_DEGREES)
    scale = 1 + u[:, 1] * MAX_SCALE
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    row0 = torch.stack([cos, -sin, u[:, 2] * MAX_SHIFT], dim=1)
    row1 = torch.stack([sin, cos, u[:, 3] * MAX_SHIFT], dim=1)
    return torch.stack([row0, row1], dim=1)


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] warped by `theta`; outside the image is background (-1)."""
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images + 1, grid, align_corners=False, padding_mode="zeros") - 1


def check_step(model: nn.Module, opt: torch.optim.Optimizer, generator: torch.Generator | None) -> Step:
    """The check classifier's training step: warp the batch on its device, cross-entropy, Adam."""

    def step(batch: tuple[torch.Tensor, torch.Tensor], progress: float) -> dict[str, torch.Tensor]:
        x, y = batch
        loss = F.cross_entropy(model(warp(x, random_warps(len(x), x.device, generator))), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    return step


@dataclass
class Check:
    """The trained check classifier and its accuracy on the real test digits."""

    model: CheckClassifier
    test_acc: float

    def predict(self, images: torch.Tensor, chunk: int = 500) -> torch.Tensor:
        """The digit (N,) read from uint8 images (N, 1, 32, 32), on the model's device."""
        device = next(self.model.parameters()).device
        with eval_mode(self.model):
            return predict_chunks(lambda x: self.model(to_float(x)).argmax(1), images, chunk, device=device)


def check_classifier(
    train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor, cache: Path,
    epochs: int, device: torch.device | None = None,
) -> Check:  # fmt: skip
    """The check classifier trained on uint8 `train` (N, 1, 32, 32), cached on disk by its training set and epochs."""
    device = device or torch.device("cpu")
    key = hashlib.sha1(train.numpy().tobytes() + labels.numpy().tobytes()).hexdigest()[:12]
    path = Path(cache) / f"check-lenet-{key}-e{epochs}-s{CHECK_SEED}.pt"
    # Its own seeded stream for the weights and dropout, and the caller's random state left as it was.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(CHECK_SEED)
        model = CheckClassifier()
        if path.exists():
            ckpt = load_checkpoint(path)
            model.load_state_dict(ckpt["state"])
            return Check(model.eval().to(device), float(ckpt["test_acc"]))
        _fit(model.to(device), to_float(train.to(device)), labels.to(device), epochs)
    check = Check(model.eval(), 0.0)
    check.test_acc = float((check.predict(test) == test_labels.to(device)).float().mean())
    save_checkpoint(path, {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "test_acc": check.test_acc})
    return check


def _fit(model: CheckClassifier, x: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    """Adam (1e-3, cosine to 0) on batches of 128 on the shared loop, each image warped at random each time."""
    batches = TensorBatches(x, y, batch_size=128, seed=CHECK_SEED)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(batches))
    step = check_step(model, opt, device_generator(x.device, CHECK_SEED))

    def step_and_schedule(batch: tuple[torch.Tensor, torch.Tensor], progress: float) -> dict[str, torch.Tensor]:
        logs = step(batch, progress)
        sched.step()
        return logs

    model.train()
    Loop(epochs=epochs, batches=batches.set_epoch, step=step_and_schedule, state={}, desc="check classifier").run()


def check_metrics(check: Check, samples: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
    """What the check classifier reads from uint8 samples: label accuracy (conditional) and the smallest and
    largest digit shares; numbers read out here, once."""
    predicted = check.predict(samples)
    shares = torch.bincount(predicted, minlength=10).float() / len(predicted)
    out = {"check/test_acc": check.test_acc}
    if labels is not None:
        out["samples/label_acc_check"] = float((predicted == labels.to(predicted.device)).float().mean())
    low, high = shares.aminmax()
    out.update({"samples/class_min_share_check": float(low), "samples/class_max_share_check": float(high)})
    return out
