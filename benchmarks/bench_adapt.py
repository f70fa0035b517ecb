"""DANN training throughput: the full step (batching, augmentation, schedules, GRL, both heads) against the
bare forward + backward of the same network on the same in-memory tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from timing import images_per_second
from visionlab.adapt.nets import DANN
from visionlab.adapt.step import StepSpec, make_step
from visionlab.engine import PairedBatches, TensorBatches


def _images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n,))


def main(arch: str = "bn", batch: int = 64, steps: int = 20) -> None:
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


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    for name in ("bn", "canonical"):
        main(name)
