"""Attribution and attack throughput against the bare model's forward+backward, on the same batch.

Ratios near 1 mean the batched saliency map and each PGD step cost what one forward/backward of the
batch costs; the per-image loop shows what batching saves.
"""

from __future__ import annotations

import torch

from timing import images_per_second
from visionlab.data.photos import PHOTOS, photo_tensor
from visionlab.visualize import attacks
from visionlab.visualize.attribution import attribute
from visionlab.visualize.nets import gradient_backbone


def main() -> None:
    model = gradient_backbone("efficientnet_lite0", None, torch.device("cpu"))
    prep = model.preprocess()
    x = torch.stack([prep(photo_tensor(n)) for n in PHOTOS] * 2)  # 12 images at 224x224
    n = len(x)
    targets = torch.arange(n) * 37 % 1000
    rows = torch.arange(n)

    def bare() -> None:
        xi = x.clone().requires_grad_(True)
        model(xi)[rows, targets].sum().backward()

    steps = 3
    fb = images_per_second(bare, n)
    sal = images_per_second(lambda: attribute(model, x, targets, "saliency"), n)
    loop = images_per_second(
        lambda: [attribute(model, x[i : i + 1], targets[i : i + 1], "saliency") for i in range(n)], n, repeat=1
    )
    pgd = images_per_second(
        lambda: attacks.pgd(model, x, targets, (targets + 1) % 1000, 2 / 255, 0.5 / 255, steps, early_stop=False),
        n * steps,
        repeat=1,
    )
    print(f"bare_forward_backward_images_per_s: {fb:.2f}")
    print(f"saliency_batched_images_per_s: {sal:.2f}")
    print(f"saliency_per_image_loop_images_per_s: {loop:.2f}")
    print(f"pgd_image_steps_per_s: {pgd:.2f}")
    print(f"saliency_over_bare_ratio: {sal / fb:.2f}")
    print(f"saliency_batched_over_loop_ratio: {sal / loop:.2f}")
    print(f"pgd_step_over_bare_ratio: {pgd / fb:.2f}")


if __name__ == "__main__":
    main()
