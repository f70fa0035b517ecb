"""GAN training throughput: the full `generate` epoch (shared Loop, in-memory batches, Adam steps, logs) against
the bare forward+backward passes of the same generator and discriminator on one preloaded batch, side by side."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from visionlab.engine import Loop, TensorBatches
from visionlab.generate.nets import build
from visionlab.generate.steps import StepSettings, make_step

BATCH, STEPS = 128, 10


def _bare(g: torch.nn.Module, d: torch.nn.Module, x: torch.Tensor) -> float:
    """Images/s of the forward and backward passes alone (D on real and fake, G through D)."""

    def once() -> None:
        z = torch.randn(BATCH, 100)
        fake = g(z)
        real_logit, fake_logit = d(x), d(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
        (loss_d + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))).backward()
        logit = d(fake)
        F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit)).backward()

    once()
    start = time.perf_counter()
    for _ in range(STEPS):
        once()
    return STEPS * BATCH / (time.perf_counter() - start)


def _full(g: torch.nn.Module, d: torch.nn.Module, images: torch.Tensor) -> float:
    """Images/s of one epoch through the shared loop, as `generate dcgan` trains."""
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    batches = TensorBatches(images, torch.zeros(len(images), dtype=torch.long), batch_size=BATCH, drop_last=True)
    step = make_step(g, d, opt_g, opt_d, StepSettings(nz=100, g_loss="non-saturating"))
    loop = Loop(1, batches.set_epoch, step, {"G": g, "D": d})
    start = time.perf_counter()
    loop.run()
    return len(batches) * BATCH / (time.perf_counter() - start)


def main() -> None:
    torch.manual_seed(0)
    g, d = build(False, 100, 32, 32, 1)
    images = torch.rand(STEPS * BATCH, 1, 32, 32) * 2 - 1
    _full(g, d, images[: 2 * BATCH])  # warm-up
    bare = _bare(g, d, images[:BATCH])
    full = _full(g, d, images)
    print(f"threads: {torch.get_num_threads()}")
    print(f"bare_forward_backward_images_per_s: {bare:.1f}")
    print(f"generate_training_images_per_s: {full:.1f}")
    print(f"training_over_bare_ratio: {full / bare:.2f}")


if __name__ == "__main__":
    main()
