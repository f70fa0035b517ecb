"""`visionlab visualize sanity`: do the maps depend on the model, and do they point at what matters?

Cascading randomization after Adebayo et al. (2018) and deletion/insertion AUC after Petsiuk et al.
(2018), against a random map (see `faithfulness`).
"""

from __future__ import annotations

import torch

from visionlab.engine import device_generator, select_device
from visionlab.report.figures import curves, image_grid
from visionlab.runs import Run
from visionlab.visualize import faithfulness as fx
from visionlab.visualize.attribution import (
    AttributionSettings,
    attribute_batches,
    gradcam_layer,
    normalize_maps,
)
from visionlab.visualize.commands import SanityConfig
from visionlab.visualize.inputs import load_inputs
from visionlab.visualize.nets import gradient_backbone, predict


def _maps(
    model: torch.nn.Module, images: torch.Tensor, targets: torch.Tensor, method: str, batch_size: int
) -> torch.Tensor:
    """Maps of `method` on the images' device."""
    layer = gradcam_layer(model) if method == "gradcam" else None
    return attribute_batches(model, images, targets, method, AttributionSettings(layer=layer), batch_size)


def _cascade_part(
    cfg: SanityConfig, run: Run, model: torch.nn.Module, images: torch.Tensor, targets: torch.Tensor, base: torch.Tensor
) -> dict[str, float]:
    names, stages = fx.cascade(model, lambda m: _maps(m, images, targets, cfg.method, cfg.batch_size).cpu())
    rhos = [float(fx.spearman(base, m).mean()) for m in stages]
    metrics = {f"sanity/spearman_{n}": r for n, r in zip(names, rhos)}
    metrics.update({"sanity/spearman_top": rhos[0], "sanity/spearman_all": rhos[-1]})
    run.note(cascade_order=names, randomization="each layer's default initialization, from the top down")
    fig = curves(
        {"trained vs randomized": [1.0, *rhos]},
        xlabel="layers randomized from the top",
        x=range(len(names) + 1),
        ylabel="Spearman rank correlation",
        title=f"cascading randomization ({cfg.method})",
    )
    fig.gca().set_xticks(range(len(names) + 1), ["none", *names], rotation=45, ha="right", fontsize=7)
    run.save_figure(fig, "cascade_correlation")
    shown = sorted(set(range(0, len(names), max(1, len(names) // 5))) | {len(names) - 1})
    tiles, titles = [], []
    for i in range(min(4, len(images))):
        tiles += [images[i].cpu(), normalize_maps(base[i : i + 1], upper=0.998)[0]]
        titles += ["image", "trained"]
        tiles += [normalize_maps(stages[j][i : i + 1], upper=0.998)[0] for j in shown]
        titles += [f"random down to {names[j]}" for j in shown]
    run.save_figure(
        image_grid(
            tiles,
            ncols=2 + len(shown),
            titles=titles,
            size=2.0,
            cmap="hot",
            suptitle="maps as layers are randomized from the top",
        ),
        "cascade_maps",
    )
    return metrics


def _deletion_part(
    cfg: SanityConfig,
    run: Run,
    model: torch.nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    maps: dict[str, torch.Tensor],
) -> dict[str, float]:
    """Deletion and insertion AUC per method (mean, and how often a method beats the random map per image)."""
    aucs: dict[str, dict[str, torch.Tensor]] = {"deletion": {}, "insertion": {}}
    mean_curves: dict[str, dict[str, list[float]]] = {"deletion": {}, "insertion": {}}
    for name, m in maps.items():
        parts = [
            fx.deletion_insertion(
                model,
                images[i : i + cfg.batch_size],
                m[i : i + cfg.batch_size],
                targets[i : i + cfg.batch_size],
                cfg.steps,
                cfg.blur_sigma,
                cfg.patch,
                cfg.deleted_to,
            )
            for i in range(0, len(images), cfg.batch_size)
        ]
        for kind, k in (("deletion", 0), ("insertion", 1)):
            curve = torch.cat([p[k] for p in parts]).cpu()  # read once: the AUCs and the figure
            aucs[kind][name] = fx.auc(curve)
            mean_curves[kind][name] = curve.mean(0).tolist()
    metrics: dict[str, float] = {}
    for kind, sign in (("deletion", -1), ("insertion", 1)):
        for name, values in aucs[kind].items():
            metrics[f"sanity/{kind}_auc_{name}"] = float(values.mean())
            if name != "random":
                wins = sign * (values - aucs[kind]["random"]) > 0
                metrics[f"sanity/{kind}_beats_random_{name}"] = float(wins.float().mean())
    removed = f"the photo blurred with sigma {cfg.blur_sigma:g}" if cfg.deleted_to == "blur" else "black"
    run.note(
        deletion=f"{cfg.steps} steps of {cfg.patch}x{cfg.patch} patches, most important first, set to {removed}",
        insertion=f"from the photo blurred with sigma {cfg.blur_sigma:g}, most important patches restored first",
        random_map="uniform noise, one map per image (seeded)",
    )
    xs = [k / cfg.steps for k in range(cfg.steps + 1)]
    for kind, series in mean_curves.items():
        better = "lower" if kind == "deletion" else "higher"
        fig = curves(
            series,
            xlabel=f"fraction of pixels {'removed' if kind == 'deletion' else 'restored'}",
            x=xs,
            ylabel="probability of the class",
            title=f"{kind} ({better} is better)",
        )
        run.save_figure(fig, kind)
    return metrics


def run(cfg: SanityConfig, run: Run) -> dict[str, float]:
    """Cascading randomization of one method's maps; deletion/insertion AUC of several against random maps."""
    device = select_device(cfg.device)
    model = gradient_backbone(cfg.backbone, cfg.weights, device)
    inputs = load_inputs(cfg.images, model.preprocess(), cfg.size, cfg.limit)
    run.set_data(inputs.source)
    images = inputs.images.to(device)
    targets = predict(model, images, cfg.batch_size).argmax(dim=1)
    run.note(targets="the trained model's predicted class of each image", weights=model.weights)
    base = _maps(model, images, targets, cfg.method, cfg.batch_size)
    metrics = {"sanity/images": len(images)}
    metrics.update(_cascade_part(cfg, run, model, images, targets, base.cpu()))
    maps = {m: base if m == cfg.method else _maps(model, images, targets, m, cfg.batch_size) for m in cfg.methods}
    maps["random"] = torch.rand(base.shape, generator=device_generator(device, cfg.seed), device=device)
    metrics.update(_deletion_part(cfg, run, model, images, targets, maps))
    return metrics
