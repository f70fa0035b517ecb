"""Figure helpers shared by every part: image grids, curves, heatmaps, GIFs. Matplotlib, headless.

Each helper returns a matplotlib Figure; `Run.save_figure(fig, name)` writes it atomically.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence

import matplotlib

# Headless: figures are saved, never shown. In a Jupyter kernel (MPLBACKEND is its inline backend) the backend
# stays, so that a notebook's own plots still show after a run.
if "inline" not in os.environ.get("MPLBACKEND", ""):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def to_hwc_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) tensor/array, uint8 or float in [0, 1] -> (H, W, C) or (H, W) uint8."""
    arr = image.detach().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr


def image_grid(
    images: Sequence[torch.Tensor | np.ndarray],
    ncols: int | None = None,
    titles: Sequence[str] | None = None,
    suptitle: str | None = None,
    size: float = 1.6,
    cmap: str | None = None,
) -> Figure:
    """A grid of images with optional titles (grey images in `gray`, maps in `cmap`)."""
    n = len(images)
    ncols = ncols or min(n, 8)
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = to_hwc_uint8(images[i])
        ax.imshow(
            img, cmap=cmap or ("gray" if img.ndim == 2 else None), vmin=0, vmax=255 if img.dtype == np.uint8 else None
        )
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def sample_grid(images: torch.Tensor, nrow: int) -> np.ndarray:
    """Tile (N, C, H, W) images (uint8 or float in [0, 1]) into one (H', W', C) uint8 array."""
    from torchvision.utils import make_grid

    x = images.float() / 255 if images.dtype == torch.uint8 else images.float().clamp(0, 1)
    return to_hwc_uint8(make_grid(x, nrow=nrow, padding=2, pad_value=1.0))


def curves(
    series: dict[str, Sequence[float]],
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str = "",
    ax: plt.Axes | None = None,
    x: Sequence[float] | None = None,
) -> Figure:
    """Line plot of named series (x from 1 unless given)."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(5, 3.4))
    ax = ax or fig.gca()
    for label, ys in series.items():
        xs = list(x) if x is not None else list(range(1, len(ys) + 1))
        ax.plot(xs, list(ys), marker="o" if len(ys) <= 30 else None, markersize=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
) -> Figure:
    """A matrix with labelled rows and columns and its values written in the cells."""
    values = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(col_labels), 0.8 + 0.45 * len(row_labels)))
    im = ax.imshow(values, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    finite = values[np.isfinite(values)]
    mid = (finite.max() + finite.min()) / 2 if finite.size else 0
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7, color="white" if v < mid else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def gif_bytes(frames: Sequence[np.ndarray], seconds_per_frame: float = 0.6) -> bytes:
    """An animated GIF of (H, W[, C]) uint8 frames, looping."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf, format="GIF", save_all=True, append_images=images[1:], duration=int(seconds_per_frame * 1000), loop=0
    )
    return buf.getvalue()
