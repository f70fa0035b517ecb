"""`visionlab classify`: ImageNet labels for image files, the first end-to-end path through the toolkit."""

from __future__ import annotations

import json
from typing import Any

import torch

from visionlab.commands import ClassifyConfig
from visionlab.data.photos import expand_images, load_image_arg
from visionlab.engine import select_device
from visionlab.models import Backbone, load_backbone


@torch.inference_mode()
def classify(
    backbone: Backbone, images: list[torch.Tensor], top: int = 5, device: torch.device | None = None
) -> list[list[dict[str, Any]]]:
    """Top-k ImageNet classes per uint8 (C, H, W) image, in one batched forward pass.

    Returns:
        For each image, `top` dicts {class_index, label, prob}, most probable first.
    """
    device = device or torch.device("cpu")
    prep = backbone.preprocess()
    batch = torch.stack([prep(img) for img in images]).to(device)
    probs = backbone.to(device)(batch).softmax(dim=1)
    values, indices = probs.topk(top, dim=1)
    names = backbone.classes
    return [
        [{"class_index": int(i), "label": names[int(i)], "prob": round(float(p), 4)} for p, i in zip(vals, idx)]
        for vals, idx in zip(values.cpu(), indices.cpu())
    ]


def main(cfg: ClassifyConfig) -> int:
    """Print the top classes of each image, as a table or as JSON lines."""
    paths = expand_images(cfg.images)
    images = [load_image_arg(p) for p in paths]
    backbone = load_backbone(cfg.backbone, cfg.weights)
    results = classify(backbone, images, cfg.top, select_device(cfg.device))
    for path, top in zip(paths, results):
        if cfg.json:
            print(json.dumps({"image": path, "top": top}))
        else:
            print(path)
            for item in top:
                print(f"  {item['prob']:6.1%}  {item['label']} ({item['class_index']})")
    return 0
