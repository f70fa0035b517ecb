"""Backbones prepared for gradients with respect to the input, and batched predictions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from visionlab.models import Backbone, load_backbone


def gradient_backbone(name: str, weights: str | None, device: torch.device) -> Backbone:
    """A catalog backbone in eval mode on `device`, its parameters frozen (only input gradients are computed)."""
    backbone = load_backbone(name, weights).to(device)
    backbone.requires_grad_(False)
    return backbone


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Softmax probabilities (N, classes) in batches."""
    parts = [model(images[i : i + batch_size]).softmax(dim=1) for i in range(0, len(images), batch_size)]
    return torch.cat(parts)


def resize_for(backbone: Backbone, images: torch.Tensor) -> torch.Tensor:
    """Images at `backbone`'s input size (for a second backbone with another size, e.g. Inception's 299)."""
    size = backbone.spec.input_size
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
