"""Classification throughput: `classify` (preprocess + forward) against the bare model's forward, same batch."""

from __future__ import annotations

import torch

from timing import images_per_second
from visionlab.classify import classify
from visionlab.data.photos import PHOTOS, photo_tensor
from visionlab.models import load_backbone


def main() -> None:
    torch.set_num_threads(torch.get_num_threads())
    backbone = load_backbone("efficientnet_lite0")
    images = [photo_tensor(n) for n in PHOTOS] * 3
    prep = backbone.preprocess()
    batch = torch.stack([prep(i) for i in images])
    with torch.inference_mode():
        bare = images_per_second(lambda: backbone(batch), len(images))
    full = images_per_second(lambda: classify(backbone, images, 5), len(images))
    print(f"bare_forward_images_per_s: {bare:.1f}")
    print(f"classify_images_per_s: {full:.1f}")
    print(f"classify_over_bare_ratio: {full / bare:.2f}")


if __name__ == "__main__":
    main()
