"""`transfer activations`: the first convolution layer's activation maps for one image (Zeiler & Fergus 2014).

Each map is one filter's response over the image; first-layer filters respond to edges, colours and
textures. Maps are shown each stretched to its own [min, max] range (viridis), the image first.
"""

from __future__ import annotations

import torch

from visionlab.data.photos import load_image_arg
from visionlab.errors import UsageError
from visionlab.models import load_backbone
from visionlab.report.figures import image_grid
from visionlab.runs import Run
from visionlab.transfer.commands import ActivationsConfig


def stretch(maps: torch.Tensor) -> torch.Tensor:
    """(C, H, W) -> each channel scaled to [0, 1] (a constant channel becomes 0)."""
    lo = maps.amin(dim=(1, 2), keepdim=True)
    hi = maps.amax(dim=(1, 2), keepdim=True)
    return (maps - lo) / (hi - lo).clamp_min(1e-12)


def run(cfg: ActivationsConfig, run: Run) -> dict[str, float]:
    """One forward pass to the cut; a grid of the image and its channels."""
    backbone = load_backbone(cfg.backbone, cfg.weights)
    cut = cfg.cut or backbone.spec.first_conv
    backbone.spec.check_cuts([cut])
    image = load_image_arg(cfg.image)
    run.set_data(f"image {cfg.image}")
    x = backbone.preprocess()(image).unsqueeze(0)
    with torch.inference_mode():
        maps = backbone.extractor([cut]).eval()(x)[cut][0]
    if maps.ndim != 3:
        raise UsageError(f"cut {cut!r} gives vectors, not maps", "choose a convolutional cut, e.g. the default")
    shown = maps[: cfg.maps]
    flat = maps.flatten(1)
    dead = (flat.amax(dim=1) <= 0).float().mean().item()
    titles = ["input"] + [f"{cut}:{i}" for i in range(len(shown))]
    suptitle = f"{cfg.backbone} {cut}: {maps.shape[0]} maps of {maps.shape[1]}x{maps.shape[2]}"
    grid = image_grid([x[0], *stretch(shown)], ncols=8, titles=titles, cmap="viridis", size=1.3, suptitle=suptitle)
    run.save_figure(grid, "activations")
    run.note(cut=cut, weights=backbone.weights, map_shape=list(maps.shape))
    return {
        "maps/channels": float(maps.shape[0]),
        "maps/height": float(maps.shape[1]),
        "maps/mean": float(maps.mean()),
        "maps/dead_share": dead,
        "maps/positive_share": float((flat > 0).float().mean()),
    }
