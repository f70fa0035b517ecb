"""GAN training throughput at full size: one `generate dcgan` epoch over the MNIST training digits (shared Loop,
in-memory batches on the device, Adam steps, the moving average of G, logs) against the bare forward+backward
passes of the same generator and discriminator on device batches, measured side by side: the epoch runs in
`CHUNKS` consecutive slices of the data, each followed by as many bare steps, so that a shared machine's
changing load hits both alike.

The complete MNIST (60,000 digits) comes from `$VISIONLAB_TEST_DATA/mnist` or `--data-root DIR`; without it the
bundled 5,000 digits. `--limit N` trains the epoch on N digits (a seeded subset) on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from visionlab.engine import Loop, TensorBatches, select_device
from visionlab.generate.data import load_gan_data
from visionlab.generate.ema import EmaGenerator, averaging
from visionlab.generate.nets import build
from visionlab.generate.steps import StepSettings, make_step

BATCH, CHUNKS, NZ = 128, 10, 100


def _bare(g: torch.nn.Module, d: torch.nn.Module, x: torch.Tensor, steps: int) -> float:
    """Seconds of `steps` forward and backward passes alone (D on real and fake, G through D), z on the device."""

    def once() -> None:
        fake = g(torch.randn(BATCH, NZ, device=x.device))
        real_logit, fake_logit = d(x), d(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
        (loss_d + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))).backward()
        logit = d(fake)
        F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit)).backward()

    _sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        once()
    _sync(x.device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _epoch(g: torch.nn.Module, d: torch.nn.Module, images: torch.Tensor) -> tuple[float, float, int]:
    """(training seconds, bare seconds, steps): one epoch as `generate dcgan --ema` trains, in `CHUNKS` slices
    through the shared loop, each slice followed by as many bare steps."""
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    step = make_step(g, d, opt_g, opt_d, StepSettings(nz=NZ, g_loss="non-saturating"))
    step = averaging(step, EmaGenerator(g, 0.999), g)
    labels = torch.zeros(len(images), dtype=torch.long, device=images.device)
    train_s = bare_s = 0.0
    steps = 0
    for part in torch.arange(len(images), device=images.device).chunk(CHUNKS):
        batches = TensorBatches(images[part], labels[part], batch_size=BATCH, drop_last=True)
        _sync(images.device)
        start = time.perf_counter()
        Loop(1, batches.set_epoch, step, {"G": g, "D": d}).run()  # reads its logs out once, at the slice's end
        _sync(images.device)
        train_s += time.perf_counter() - start
        bare_s += _bare(g, d, images[part[:BATCH]], len(batches))
        steps += len(batches)
    return train_s, bare_s, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = os.environ.get("VISIONLAB_TEST_DATA")
    default_root = Path(shared) / "mnist" if shared and (Path(shared) / "mnist").exists() else None
    parser.add_argument("--data-root", type=Path, default=default_root)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = select_device(args.device)
    data = load_gan_data("mnist", args.data_root, limit=args.limit)
    images = data.train.to(device)
    torch.manual_seed(0)
    g, d = build(False, NZ, 32, 32, 1)
    g, d = g.to(device), d.to(device)
    _bare(g, d, images[:BATCH], 2)  # warm-up
    train_s, bare_s, steps = _epoch(g, d, images)
    print(f"device: {device}, threads: {torch.get_num_threads()}")
    print(f"epoch_images: {steps * BATCH} ({data.description})")
    print(f"bare_forward_backward_images_per_s: {steps * BATCH / bare_s:.1f}")
    print(f"generate_epoch_images_per_s: {steps * BATCH / train_s:.1f}")
    print(f"epoch_over_bare_ratio: {bare_s / train_s:.2f}")


if __name__ == "__main__":
    main()
