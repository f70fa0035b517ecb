"""The GAN figures: sample grids, progress frames, loss and D-output curves, class histograms, sweeps, strips."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from visionlab.report.figures import curves, image_grid, plt, sample_grid


def grid(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """uint8 (N, C, H, W) images tiled into one (H', W'[, 3]) uint8 array (grey kept as 2-D)."""
    arr = sample_grid(images, nrow=nrow)
    return arr[..., 0] if arr.ndim == 3 and images.shape[1] == 1 else arr


def show(ax: plt.Axes, image: np.ndarray, title: str = "") -> None:
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)


def progress_figure(frames: dict[int, np.ndarray], title: str) -> Figure:
    """The fixed-noise grids side by side, one per saved epoch."""
    epochs = sorted(frames)
    return image_grid([frames[e] for e in epochs], ncols=min(len(epochs), 6), titles=[f"epoch {e}" for e in epochs],
                      suptitle=title, size=2.6)  # fmt: skip


def sample_figure(frame: np.ndarray, title: str, rows: Sequence[str] | None = None) -> Figure:
    """One sample grid, rows optionally labelled (one row per class for a CGAN)."""
    fig, ax = plt.subplots(figsize=(6, 6 * frame.shape[0] / frame.shape[1] + 0.4))
    show(ax, frame, title)
    if rows:
        ax.axis("on")
        ax.set_xticks([])
        step = frame.shape[0] / len(rows)
        ax.set_yticks([step * (i + 0.5) for i in range(len(rows))], list(rows), fontsize=8)
    fig.tight_layout()
    return fig


def training_axes(history: list[dict[str, float]], ax_loss: plt.Axes, ax_d: plt.Axes) -> None:
    """Mean D and G losses per epoch on one axis, mean D(x) and D(G(z)) on the other."""
    curves({"loss D": [h["loss_d"] for h in history], "loss G": [h["loss_g"] for h in history]}, ylabel="mean loss",
           ax=ax_loss)  # fmt: skip
    outputs = {"D(x)": [h["d_real"] for h in history], "D(G(z))": [h["d_fake"] for h in history]}
    if all("code_acc" in h for h in history):  # InfoGAN: how often Q reads G's code back
        outputs["Q reads the code"] = [h["code_acc"] for h in history]
    curves(outputs, ylabel="mean output", ax=ax_d)
    ax_d.set_ylim(-0.02, 1.02)


def training_figure(history: list[dict[str, float]], title: str) -> Figure:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    training_axes(history, a, b)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram_figure(shares: np.ndarray, title: str, classes: Sequence[str] | None = None) -> Figure:
    """Share of each class among the samples, as the evaluation classifier reads them; 3% and 10% marked.

    Bars are labelled with `classes` when given (Fashion-MNIST's names), else by digit.
    """
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(range(len(shares)), shares, color="tab:blue")
    ax.axhline(0.1, color="gray", ls="--", lw=1, label="uniform (10%)")
    ax.axhline(0.03, color="tab:red", ls=":", lw=1, label="3%")
    if classes:
        ax.set_xticks(range(len(shares)), list(classes), rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("predicted class")
    else:
        ax.set_xticks(range(len(shares)))
        ax.set_xlabel("predicted digit")
    ax.set_ylabel("share of samples")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sweep_figure(variants: list[dict[str, Any]], title: str) -> Figure:
    """One row per variant: final fixed-noise samples, losses, D outputs; its metrics in the row title."""
    n = len(variants)
    fig, axes = plt.subplots(n, 3, figsize=(13, 3.3 * n), squeeze=False, gridspec_kw={"width_ratios": [1, 1.3, 1.3]})
    for row, v in zip(axes, variants):
        show(row[0], v["frame"], v["name"])
        training_axes(v["history"], row[1], row[2])
        row[1].set_title(v.get("caption", ""), fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def strips_figure(strips: list[np.ndarray], labels: list[str], title: str) -> Figure:
    """Interpolation strips (one tiled row each), labelled on the left."""
    fig, axes = plt.subplots(len(strips), 1, figsize=(10, 1.25 * len(strips) + 0.5), squeeze=False)
    for ax, strip, label in zip(axes[:, 0], strips, labels):
        show(ax, strip)
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
