"""DANN training throughput, side by side in one process.

1. One step: the full step (augmentation, schedules, GRL, both heads) against the bare forward + backward of the
   same network on the same in-memory tensors (20 steps of 64 + 64 images).
2. A full-MNIST epoch (issue 16, item 5): one epoch of the shared `Loop` over 60,000 source and 5,000 target
   images held on the compute device (`PairedBatches`, 937 steps of 64 + 64, the step `adapt dann` trains with)
   against the bare forward + backward + SGD of the same network on one preloaded, normalized device batch for
   the same number of steps. The bare passes are timed before and after the epoch and averaged (a shared CPU
   drifts). The images are random bytes of MNIST's sizes: pixel values do not change the time.

`python benchmarks/bench_adapt.py --epoch-steps 100` times the first 100 steps of the epoch instead of all of it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from itertools import islice

import torch
import torch.nn.functional as F

from timing import images_per_second
from visionlab.adapt.data import normalize
from visionlab.adapt.nets import DANN
from visionlab.adapt.step import StepSpec, make_step
from visionlab.engine import Loop, PairedBatches, TensorBatches, device_generator, select_device

# Full MNIST's training images (the source) and the MNIST-M training images used as the target.
SOURCE_IMAGES, TARGET_IMAGES = 60_000, 5_000
# Each protocol network with the augmentation it trains with in docs/results/adapt.md.
NETWORKS = {"canonical": "none", "bn": "colour"}


def _images(n: int, seed: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return x.to(device), torch.randint(0, 10, (n,), generator=g).to(device)


def step_ratio(arch: str = "bn", batch: int = 64, steps: int = 20) -> None:
    """Part 1: the full step against the bare passes, on the CPU."""
    xs, ys = _images(batch * steps, 0)
    xt, yt = _images(batch * steps, 1)
    model = DANN(arch).to(memory_format=torch.channels_last)  # as in training
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = make_step(model, opt, StepSpec("dann"))
    pairs = PairedBatches(
        TensorBatches(xs, ys, batch_size=batch, drop_last=True),
        TensorBatches(xt, yt, batch_size=batch, drop_last=True),
    )

    def full() -> None:
        for i, b in enumerate(pairs):
            step(b, i / steps)

    x = (torch.cat([xs[:batch], xt[:batch]]).float() / 255 - 0.5) / 0.5
    x = x.contiguous(memory_format=torch.channels_last)
    domain = torch.cat([torch.zeros(batch), torch.ones(batch)])

    def bare() -> None:
        for _ in range(steps):
            logits, dlogits, _ = model(x, 1.0)
            loss = F.cross_entropy(logits[:batch], ys[:batch]) + F.binary_cross_entropy_with_logits(dlogits, domain)
            opt.zero_grad()
            loss.backward()
            opt.step()

    n = 2 * batch * steps
    r_bare, r_full = images_per_second(bare, n), images_per_second(full, n)
    print(f"{arch}_bare_forward_backward_images_per_s: {r_bare:.1f}")
    print(f"{arch}_dann_step_images_per_s: {r_full:.1f}")
    print(f"{arch}_dann_over_bare_ratio: {r_full / r_bare:.2f}")


class _First:
    """The first `n` batches of each epoch of `batches` (a partial epoch, with a length for the loop)."""

    def __init__(self, batches: PairedBatches, n: int) -> None:
        self.batches, self.n = batches, min(n, len(batches)) if n else len(batches)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        return islice(iter(self.batches), self.n)


def _bare_seconds(model: DANN, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """Seconds of `steps` bare forward + backward + SGD steps on one device batch (x: source then target)."""
    n = len(y)
    domain = torch.cat([torch.zeros(n, device=x.device), torch.ones(len(x) - n, device=x.device)])
    start = time.perf_counter()
    loss = torch.zeros((), device=x.device)
    for _ in range(steps):
        logits, dlogits, _ = model(x, 1.0)
        loss = F.cross_entropy(logits[:n], y) + F.binary_cross_entropy_with_logits(dlogits, domain)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    float(loss.detach())  # wait for the device
    return time.perf_counter() - start


def epoch_ratio(arch: str, device: torch.device, epoch_steps: int = 0, batch: int = 64) -> None:
    """Part 2: a full-MNIST DANN epoch through the shared loop against the bare passes of the same network."""
    torch.manual_seed(0)
    xs, ys = _images(SOURCE_IMAGES, 0, device)
    xt, yt = _images(TARGET_IMAGES, 1, device)
    model = DANN(arch).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    pairs = PairedBatches(
        TensorBatches(xs, ys, batch_size=batch, seed=0, drop_last=True),
        TensorBatches(xt, yt, batch_size=batch, seed=1, drop_last=True),
    )
    epoch = _First(pairs, epoch_steps)
    step = make_step(model, opt, StepSpec("dann", NETWORKS[arch]), generator=device_generator(device, 0))
    x = normalize(torch.cat([xs[:batch], xt[:batch]])).contiguous(memory_format=torch.channels_last)
    _bare_seconds(model, opt, x, ys[:batch], 5)  # warm-up of both
    Loop(1, lambda e: _First(pairs, 5), step, {"model": model}).run()
    before = _bare_seconds(model, opt, x, ys[:batch], len(epoch))
    full = Loop(1, lambda e: epoch, step, {"model": model, "optimizer": opt}).run().seconds
    after = _bare_seconds(model, opt, x, ys[:batch], len(epoch))
    bare = (before + after) / 2
    images = 2 * batch * len(epoch)
    print(f"{arch}_epoch_steps: {len(epoch)} (of {len(pairs)}), device {device}")
    print(f"{arch}_epoch_seconds: {full:.1f}")
    print(f"{arch}_bare_seconds_same_steps: {bare:.1f} (before {before:.1f}, after {after:.1f})")
    print(f"{arch}_epoch_images_per_s: {images / full:.1f}")
    print(f"{arch}_epoch_over_bare_ratio: {bare / full:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--epoch-steps", type=int, default=0, help="time only the first N steps (0: the epoch)")
    parser.add_argument("--archs", default="canonical,bn", help="networks of the epoch comparison")
    parser.add_argument("--no-step", action="store_true", help="skip part 1")
    args = parser.parse_args()
    print(f"threads: {torch.get_num_threads()}")
    if not args.no_step:
        for name in ("bn", "canonical"):
            step_ratio(name)
    device = select_device(args.device)
    for name in [a.strip() for a in args.archs.split(",") if a.strip()]:
        epoch_ratio(name, device, args.epoch_steps)


if __name__ == "__main__":
    main()
