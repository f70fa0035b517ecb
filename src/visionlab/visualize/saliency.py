"""`visionlab visualize saliency`: attribution maps of images, for one backbone or several side by side.

The vanilla map is Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks":
|d score_c / d pixel|, max over the colour channels, for the predicted class c (or the known label).
"""

from __future__ import annotations

from dataclasses import replace
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
from visionlab.visualize.inputs import Inputs, class_name, load_inputs
from visionlab.visualize.nets import gradient_backbone, predict


def settings_for(cfg: Any, backbone: torch.nn.Module) -> AttributionSettings:
    """The method knobs of a config (Grad-CAM's layer comes from the backbone)."""
    return AttributionSettings(samples=cfg.samples, noise=cfg.noise, steps=cfg.ig_steps,
                               layer=gradcam_layer(backbone) if cfg.method == "gradcam" else None)


def targets_for(inputs: Inputs, probs: torch.Tensor, mode: str) -> torch.Tensor:
    """The class each map explains: the prediction, or the known label where there is one."""
    predicted = probs.argmax(dim=1)
    if mode == "predicted":
        return predicted
    return torch.tensor([lab if lab is not None else int(p) for lab, p in zip(inputs.labels, predicted)])


def _one_backbone(cfg: Any, name: str, inputs: Inputs, device: torch.device) -> dict[str, Any]:
    backbone = gradient_backbone(name, cfg.weights, device)
    images = inputs.images.to(device)
    probs = predict(backbone, images, cfg.batch_size).cpu()
    targets = targets_for(inputs, probs, cfg.target)
    maps = attribute_batches(backbone, images, targets, cfg.method, settings_for(cfg, backbone), cfg.batch_size).cpu()
    top = probs.argmax(dim=1)
    titles = [f"{name}: {class_name(int(t))[:18]} {probs[i, t]:.0%}" for i, t in enumerate(top)]
    known = [i for i, a in enumerate(inputs.accept) if a]
    acc = sum(int(top[i]) in inputs.accept[i] for i in known) / len(known) if known else float("nan")
    return {"maps": maps, "titles": titles, "acc": acc, "prob": float(probs.max(dim=1).values.mean()),
            "top10": float(top_mass(maps).mean()), "weights": backbone.weights}


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean Spearman rank correlation between paired maps (maps at different sizes are compared at a's size)."""
    from scipy.stats import spearmanr

    if a.shape != b.shape:
        b = torch.nn.functional.interpolate(b[:, None], size=a.shape[-2:], mode="bilinear")[:, 0]
    return float(sum(spearmanr(x.flatten().numpy(), y.flatten().numpy())[0] for x, y in zip(a, b)) / len(a))


def run(cfg: Any, run: Run) -> dict[str, float]:
    """Maps for every image and backbone; a figure of image/map rows; summary metrics."""
    if cfg.quick:
        cfg = replace(cfg, limit=min(cfg.limit or 2, 2), size=cfg.size or 128, samples=min(cfg.samples, 4),
                      ig_steps=min(cfg.ig_steps, 8))
    device = select_device(cfg.device)
    names = cfg.backbones or [cfg.backbone]
    first = gradient_backbone(names[0], cfg.weights, device)
    inputs = load_inputs(cfg.images, first.preprocess(), cfg.size, cfg.limit)
    run.set_data(inputs.source)
    if inputs.skipped:
        run.note(skipped_files=inputs.skipped)
    results = {name: _one_backbone(cfg, name, inputs, device) for name in names}
    run.note(method=cfg.method, target=cfg.target, weights={n: r["weights"] for n, r in results.items()})
    tiles, titles = [], []
    for i, image in enumerate(inputs.images):
        tiles.append(image)
        titles.append(inputs.names[i][:24])
        for res in results.values():
            tiles.append(normalize_maps(res["maps"][i:i + 1])[0])
            titles.append(res["titles"][i])
    fig = image_grid(tiles, ncols=1 + len(names), titles=titles, size=2.2, cmap="hot",
                     suptitle=f"{cfg.method} maps")
    run.save_figure(fig, f"{cfg.method}")
    metrics: dict[str, float] = {"saliency/images": len(inputs.names)}
    for name, res in results.items():
        suffix = "" if len(names) == 1 else f"_{name}"
        metrics[f"saliency/top1_acc{suffix}"] = res["acc"]
        metrics[f"saliency/top1_prob{suffix}"] = res["prob"]
        metrics[f"saliency/top10_mass{suffix}"] = res["top10"]
    for a, b in zip(names, names[1:]):
        metrics[f"saliency/spearman_{a}_{b}"] = _spearman(results[a]["maps"], results[b]["maps"])
    return metrics
