"""`visionlab visualize class-model`: the image a network scores highest for a class (Simonyan et al. 2014).

The ascent itself (with Yosinski et al. 2015's jitter and blur) is in `ascent`; this module turns a
`ClassModelConfig` into per-image settings (classes x sweep variants, one batch), start images, figures
and metrics.
"""

from __future__ import annotations

import torch

from visionlab.engine import device_generator, select_device
from visionlab.models import Backbone
from visionlab.report.figures import image_grid
from visionlab.runs import Run
from visionlab.visualize.ascent import Ascent, visualize_classes
from visionlab.visualize.commands import ClassModelConfig
from visionlab.visualize.inputs import class_name, load_inputs, resolve_class
from visionlab.visualize.nets import gradient_backbone, predict
from visionlab.visualize.sweep import SWEEPABLE, parse_sweep

__all__ = ["Ascent", "parse_sweep", "run", "stretch", "visualize_classes"]


# --- the command ------------------------------------------------------------------------------------


def _variants(cfg: ClassModelConfig) -> list[tuple[str, dict[str, float]]]:
    """(label, overrides) per sweep value; one unlabelled variant without a sweep."""
    if cfg.sweep is None:
        return [("", {})]
    key, values = parse_sweep(cfg.sweep)
    return [(f"{key}={v:g}", {key: v}) for v in values]


def _settings(cfg: ClassModelConfig, variants: list[tuple[str, dict[str, float]]], n_classes: int) -> Ascent:
    """Per-image settings: variant-major, class-minor."""
    base = {
        "lr": cfg.lr,
        "l2": cfg.l2,
        "blur_every": cfg.blur_every,
        "jitter": cfg.jitter,
        "iterations": cfg.iterations,
    }
    rows = []
    for _, over in variants:
        rows += [{k: over.get(k, base[k]) for k in SWEEPABLE}] * n_classes

    def col(k: str, dt: torch.dtype) -> torch.Tensor:
        return torch.tensor([r[k] for r in rows], dtype=dt)

    return Ascent(
        col("lr", torch.float32),
        col("l2", torch.float32),
        col("blur_every", torch.long),
        col("jitter", torch.long),
        col("iterations", torch.long),
        cfg.blur_sigma,
    )


def start_images(
    cfg: ClassModelConfig, backbone: Backbone, n: int, g: torch.Generator | None
) -> tuple[torch.Tensor, str]:
    """Start images on the backbone's device: noise in the normalized space (as the practical), or one photo
    repeated. `g` is a generator of that device."""
    device = backbone.mean.device
    if cfg.init == "noise":
        z = torch.randn((n, 3, cfg.size, cfg.size), generator=g, device=device)
        return (z * backbone.std + backbone.mean).clamp(0, 1), "Gaussian noise in the normalized space"
    inputs = load_inputs([cfg.init], backbone.preprocess(), cfg.size, limit=1)
    return inputs.images.to(device).repeat(n, 1, 1, 1), f"start image {inputs.names[0]}"


def stretch(images: torch.Tensor) -> torch.Tensor:
    """Each image rescaled so that its 0.5th..99.5th percentiles fill [0, 1] (the practical's display
    rescaled min..max; percentiles keep a few extreme pixels from greying out the rest)."""
    flat = images.flatten(1)
    lo = flat.quantile(0.005, dim=1).view(-1, 1, 1, 1)
    hi = flat.quantile(0.995, dim=1).view(-1, 1, 1, 1)
    return ((images - lo) / (hi - lo).clamp_min(1e-8)).clamp(0, 1)


def _figures(
    run: Run,
    labels: list[str],
    snaps: dict[int, torch.Tensor],
    final: torch.Tensor,
    p: torch.Tensor,
    n_classes: int,
    stretched: bool,
) -> None:
    """The progress grid (one row per image, one column per snapshot) and the final images."""
    show = stretch if stretched else (lambda x: x)
    note = " (contrast-stretched)" if stretched else ""
    at = sorted(snaps)
    tiles, titles = [], []
    for i, label in enumerate(labels):
        for t in at:
            tiles.append(show(snaps[t][i : i + 1])[0])
            titles.append(f"{label}\nit {t}" if t == at[0] else f"it {t}")
    run.save_figure(
        image_grid(tiles, ncols=len(at), titles=titles, size=1.9, suptitle=f"class-model progress{note}"), "progress"
    )
    finals = [f"{lab}\np={q:.2f}" for lab, q in zip(labels, p)]
    run.save_figure(
        image_grid(
            list(show(final)), ncols=n_classes, titles=finals, size=2.4, suptitle=f"class-model visualization{note}"
        ),
        "final",
    )


def run(cfg: ClassModelConfig, run: Run) -> dict[str, float]:
    """Visualize each class (and sweep variant) in one batch; a progress grid, the final images, class/prob."""
    device = select_device(cfg.device)
    backbone = gradient_backbone(cfg.backbone, cfg.weights, device)
    classes = [resolve_class(c) for c in cfg.classes]
    variants = _variants(cfg)
    s = _settings(cfg, variants, len(classes))
    g = device_generator(device, cfg.seed)  # the start noise, then the jitter
    init, what = start_images(cfg, backbone, len(s.lr), g)
    run.set_data(f"no dataset: {what}, {cfg.size}x{cfg.size}")
    targets = torch.tensor(classes * len(variants), device=device)
    total = int(s.iterations.max())
    at = sorted({round(i * total / (cfg.snapshots - 1)) for i in range(cfg.snapshots)})
    final, snaps = visualize_classes(backbone, backbone.mean, backbone.std, targets, init, s, at, g)
    probs = predict(backbone, final).cpu()
    p = probs.gather(1, targets.cpu()[:, None])[:, 0]
    labels = [f"{class_name(c)[:16]}{' ' + v if v else ''}" for v, _ in variants for c in classes]
    _figures(run, labels, {t: v.cpu() for t, v in snaps.items()}, final.cpu(), p, len(classes), cfg.stretch)
    run.save_npz(images=(final.cpu() * 255 + 0.5).to(torch.uint8).numpy(), targets=targets.cpu().numpy())
    metrics = {
        "class/prob": float(p.mean()),
        "class/prob_min": float(p.min()),
        "class/top1_rate": float((probs.argmax(1) == targets.cpu()).float().mean()),
    }
    k = len(classes)
    for j, c in enumerate(classes):
        metrics[f"class/prob_{class_name(c).replace(' ', '_')}"] = float(p[j::k].mean())
    for v, (label, _) in enumerate(variants):
        if label:
            metrics[f"sweep/prob_{label.replace('=', '_')}"] = float(p[v * k : (v + 1) * k].mean())
    return metrics
