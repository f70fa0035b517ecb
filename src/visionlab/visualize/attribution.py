"""Attribution maps through Captum: one batched call per method, maps as (N, H, W) non-negative tensors.

- `saliency`: |d score / d pixel|, max over the colour channels (Simonyan, Vedaldi & Zisserman 2014).
- `smoothgrad`: the same map averaged over noisy copies of the image (Smilkov et al. 2017).
- `integrated-gradients`: gradients along the path from a black image (Sundararajan et al. 2017).
- `gradcam`: class-weighted activations of the last convolutional block, upsampled (Selvaraju et al. 2017).

N images cost one forward and one backward pass for `saliency` (`samples` and `steps` times that for
the others), never N separate passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

METHODS = ("saliency", "smoothgrad", "integrated-gradients", "gradcam")


@dataclass(frozen=True)
class AttributionSettings:
    """Knobs of the methods that have some.

    Attributes:
        samples: SmoothGrad's noisy copies per image.
        noise: SmoothGrad's noise standard deviation, in [0, 1] pixel units.
        steps: Integrated Gradients' points along the path.
        layer: Grad-CAM's layer (a module of the model); required for `gradcam`.
    """

    samples: int = 16
    noise: float = 0.15
    steps: int = 32
    layer: nn.Module | None = None


def gradcam_layer(backbone: nn.Module) -> nn.Module:
    """The last convolutional cut point of a catalog backbone, as a module (Grad-CAM's usual choice)."""
    spec = backbone.spec
    for node in reversed(list(spec.body_cuts.values())):
        try:
            return backbone.net.get_submodule(node)
        except AttributeError:
            continue
    raise ValueError(f"{spec.name} has no module among its body cut points")


def attribute(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    method: str = "saliency",
    settings: AttributionSettings | None = None,
) -> torch.Tensor:
    """Attribution maps of `targets` for a batch of images.

    Args:
        model: maps (N, 3, H, W) images to logits (N, classes); in eval mode.
        images: (N, 3, H, W).
        targets: (N,) class index per image.
        method: one of `METHODS`.
        settings: the method's knobs (defaults otherwise).

    Returns:
        (N, H, W) non-negative maps (for `saliency`: max over channels of |gradient|).
    """
    from captum.attr import (
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        NoiseTunnel,
        Saliency,
    )

    s = settings or AttributionSettings()
    x = images.detach().clone().requires_grad_(True)
    targets = targets.to(images.device)
    if method == "saliency":
        attr = Saliency(model).attribute(x, target=targets, abs=True)
    elif method == "smoothgrad":
        attr = NoiseTunnel(Saliency(model)).attribute(
            x,
            nt_type="smoothgrad",
            nt_samples=s.samples,
            stdevs=s.noise,
            nt_samples_batch_size=max(1, s.samples // 4),
            target=targets,
            abs=True,
        )
    elif method == "integrated-gradients":
        attr = (
            IntegratedGradients(model)
            .attribute(
                x, baselines=0.0, target=targets, n_steps=s.steps, internal_batch_size=len(x) * max(1, s.steps // 4)
            )
            .abs()
        )
    elif method == "gradcam":
        if s.layer is None:
            raise ValueError("gradcam needs settings.layer")
        cam = LayerGradCam(model, s.layer).attribute(x, target=targets, relu_attributions=True)
        attr = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    else:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    return attr.detach().amax(dim=1).clamp_min(0)


def attribute_batches(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    method: str,
    settings: AttributionSettings | None = None,
    batch_size: int = 16,
) -> torch.Tensor:
    """`attribute` over chunks of `batch_size` images (memory), concatenated."""
    parts = [
        attribute(model, images[i : i + batch_size], targets[i : i + batch_size], method, settings)
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(parts)


def top_mass(maps: torch.Tensor, fraction: float = 0.1) -> torch.Tensor:
    """Per map, the share of its total mass held by its top `fraction` of pixels (1.0: all in there)."""
    flat = maps.flatten(1)
    k = max(1, int(round(fraction * flat.shape[1])))
    total = flat.sum(1).clamp_min(1e-12)
    return flat.topk(k, dim=1).values.sum(1) / total


def normalize_maps(maps: torch.Tensor, upper: float = 1.0) -> torch.Tensor:
    """Scale each map to [0, 1] for display: its minimum to 0, its `upper` quantile (1.0: maximum) to 1."""
    flat = maps.flatten(1)
    lo = flat.min(1).values
    hi = flat.quantile(upper, dim=1) if upper < 1.0 else flat.max(1).values
    return ((flat - lo[:, None]) / (hi - lo).clamp_min(1e-12)[:, None]).clamp(0, 1).view_as(maps)
