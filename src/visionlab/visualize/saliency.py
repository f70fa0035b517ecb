"""`visionlab visualize saliency`: attribution maps of images, for one backbone or several side by side.

The vanilla map is Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks":
|d score_c / d pixel|, max over the colour channels, for the predicted class c (or the known label).
"""

from __future__ import annotations

from typing import Any

import torch

from visionlab.engine import select_device
from visionlab.report.figures import image_grid
from visionlab.runs import Run
from visionlab.visualize.attribution import (
    AttributionSettings,
    attribute_batches,
    gradcam_layer,
    normalize_maps,
    top_mass,
)
from visionlab.visualize.commands import SaliencyConfig
from visionlab.visualize.faithfulness import spearman
from visionlab.visualize.inputs import Inputs, class_name, load_inputs
from visionlab.visualize.nets import gradient_backbone, predict


def settings_for(cfg: SaliencyConfig, backbone: torch.nn.Module) -> AttributionSettings:
    """The method knobs of a config (Grad-CAM's layer comes from the backbone)."""
    return AttributionSettings(
        samples=cfg.samples,
        noise=cfg.noise,
        steps=cfg.ig_steps,
        layer=gradcam_layer(backbone) if cfg.method == "gradcam" else None,
    )


def targets_for(inputs: Inputs, probs: torch.Tensor, mode: str) -> torch.Tensor:
    """The class each map explains: the prediction, or the known label where there is one (on `probs`' device)."""
    predicted = probs.argmax(dim=1)
    if mode == "predicted":
        return predicted
    known = torch.tensor([lab is not None for lab in inputs.labels], device=probs.device)
    labels = torch.tensor([lab or 0 for lab in inputs.labels], device=probs.device)
    return torch.where(known, labels, predicted)


def _one_backbone(
    cfg: SaliencyConfig, backbone: torch.nn.Module, inputs: Inputs, device: torch.device
) -> dict[str, Any]:
    """Predictions and maps of one backbone on every image, with its figure titles and summary numbers."""
    name = backbone.spec.name
    images = inputs.images.to(device)
    probs = predict(backbone, images, cfg.batch_size)
    targets = targets_for(inputs, probs, cfg.target)
    maps = attribute_batches(backbone, images, targets, cfg.method, settings_for(cfg, backbone), cfg.batch_size).cpu()
    probs = probs.cpu()  # read once, for the titles and metrics
    top = probs.argmax(dim=1)
    titles = [f"{name[:18]}\n{class_name(int(t))[:18]} {probs[i, t]:.0%}" for i, t in enumerate(top)]
    known = [i for i, a in enumerate(inputs.accept) if a]
    acc = sum(int(top[i]) in inputs.accept[i] for i in known) / len(known) if known else float("nan")
    return {
        "maps": maps,
        "titles": titles,
        "acc": acc,
        "prob": float(probs.max(dim=1).values.mean()),
        "top10": float(top_mass(maps).mean()),
        "weights": backbone.weights,
    }


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean Spearman rank correlation between paired maps (b is resized to a's size if they differ)."""
    if a.shape != b.shape:
        b = torch.nn.functional.interpolate(b[:, None], size=a.shape[-2:], mode="bilinear")[:, 0]
    return float(spearman(a, b).mean())


def _figure(inputs: Inputs, results: dict[str, dict[str, Any]], method: str, most: int = 8) -> Any:
    """Images on the first row, one row of maps per backbone (saturated above the 99.8th percentile)."""
    n = min(most, len(inputs.names))
    tiles = list(inputs.images[:n])
    titles = [name[:24] for name in inputs.names[:n]]
    for res in results.values():
        tiles += list(normalize_maps(res["maps"][:n], upper=0.998))
        titles += res["titles"][:n]
    return image_grid(tiles, ncols=n, titles=titles, size=2.2, cmap="hot", suptitle=f"{method} maps")


def run(cfg: SaliencyConfig, run: Run) -> dict[str, float]:
    """Maps for every image and backbone; a figure of image/map rows; summary metrics."""
    device = select_device(cfg.device)
    names = cfg.backbones or [cfg.backbone]
    first = gradient_backbone(names[0], cfg.weights, device)
    inputs = load_inputs(cfg.images, first.preprocess(), cfg.size, cfg.limit)
    run.set_data(inputs.source)
    if inputs.skipped:
        run.note(skipped_files=inputs.skipped)
    results = {
        name: _one_backbone(cfg, first if i == 0 else gradient_backbone(name, cfg.weights, device), inputs, device)
        for i, name in enumerate(names)
    }
    run.note(method=cfg.method, target=cfg.target, weights={n: r["weights"] for n, r in results.items()})
    run.save_figure(_figure(inputs, results, cfg.method), cfg.method)
    metrics: dict[str, float] = {"saliency/images": len(inputs.names)}
    for name, res in results.items():
        suffix = "" if len(names) == 1 else f"_{name}"
        metrics[f"saliency/top1_acc{suffix}"] = res["acc"]
        metrics[f"saliency/top1_prob{suffix}"] = res["prob"]
        metrics[f"saliency/top10_mass{suffix}"] = res["top10"]
    for a, b in zip(names, names[1:]):
        metrics[f"saliency/spearman_{a}_{b}"] = _spearman(results[a]["maps"], results[b]["maps"])
    return metrics
