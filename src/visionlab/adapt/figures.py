"""Figures of the adapt part: the accuracy table, training curves, t-SNE of features, domain samples.

t-SNE (van der Maaten & Hinton 2008, scikit-learn) of the feature extractor's output for source and
target test images shows whether the domains are mixed (DANN) or apart (source only, no GRL).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from visionlab.adapt.commands import AdaptOptions
from visionlab.adapt.data import Domains, augment_source, normalize
from visionlab.adapt.labels import LABELS
from visionlab.adapt.nets import DANN
from visionlab.adapt.train import MethodResult
from visionlab.engine import eval_mode, predict_chunks
from visionlab.report.figures import curves, sample_grid
from visionlab.runs import Run

_TABLE_KEYS = ("source/acc", "target/acc", "source/domain_acc", "target/domain_acc", "target/domain_loss")


def table_figure(results: list[MethodResult]) -> Any:
    """The report's table: one row per method, mean ± std over seeds of the final metrics."""
    import matplotlib.pyplot as plt

    cells = []
    for r in results:
        row = []
        for k in _TABLE_KEYS:
            v = np.array([m[k] for m in r.per_seed])
            row.append(f"{v.mean():.4f}" + (f" ± {v.std(ddof=1):.4f}" if len(v) > 1 else ""))
        cells.append(row)
    fig, ax = plt.subplots(figsize=(11, 0.6 + 0.4 * len(results)))
    ax.axis("off")
    table = ax.table(
        cellText=cells, rowLabels=[LABELS[r.method] for r in results], colLabels=list(_TABLE_KEYS), loc="center"
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.4)
    n = len(results[0].per_seed)
    ax.set_title(f"last epoch, {n} seed{'s' if n > 1 else ''} (mean ± std)", fontsize=9)
    return fig


def curves_figure(results: list[MethodResult]) -> Any:
    """Training curves of the first seed of each method: losses, domain accuracy, test accuracies."""
    import matplotlib.pyplot as plt

    panels = [
        ("train/class_loss", "label loss (train)"),
        ("train/domain_loss", "domain loss (train)"),
        ("train/domain_acc", "domain accuracy (train)"),
        ("curve/target/acc", "target accuracy (1,000 test images, display only)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.3))
    for ax, (key, title) in zip(axes, panels):
        series = {LABELS[r.method]: [h.get(key, np.nan) for h in r.histories[0]] for r in results}
        curves(series, ylabel="", title=title, ax=ax)
        if key == "curve/target/acc":
            src = {
                f"{LABELS[r.method]} (source)": [h.get("curve/source/acc", np.nan) for h in r.histories[0]]
                for r in results
            }
            for label, ys in src.items():
                ax.plot(range(1, len(ys) + 1), ys, linestyle="--", alpha=0.6, label=label)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


@torch.no_grad()
def features(model: DANN, images: torch.Tensor, device: torch.device, norm: str) -> np.ndarray:
    """The feature extractor's output for uint8 images, in eval mode."""
    with eval_mode(model):
        return predict_chunks(lambda x: model.features(normalize(x, norm)), images, device=device).cpu().numpy()


def tsne_figure(
    results: list[MethodResult],
    data: Domains,
    device: torch.device,
    norm: str,
    n: int,
    seed: int,
    augment: str = "none",
) -> Any:
    """t-SNE of source vs target test features, one panel per method (the last seed's model).

    With a colour or grey-polarity `augment`, the source test digits also appear as augmented in training:
    that is the source the domain classifier saw, so it is the one DANN aligns with the target.
    """
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    g = torch.Generator().manual_seed(seed)
    si = torch.randperm(len(data.source_test), generator=g)[:n]
    ti = torch.randperm(len(data.target_test), generator=g)[:n]
    sets = [("source (MNIST)", "tab:blue", data.source_test.images[si])]
    if augment in ("colour", "invert"):
        with torch.random.fork_rng():  # a seeded draw that leaves the caller's random state alone
            torch.manual_seed(seed)
            shown = (augment_source(data.source_test.images[si], augment).clamp(0, 1) * 255).round().to(torch.uint8)
        sets.append((f"source, {augment}-augmented as in training", "tab:green", shown))
    sets.append(("target (MNIST-M)", "tab:red", data.target_test.images[ti]))
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results):
        f = np.concatenate([features(r.model, images, device, norm) for _, _, images in sets])
        # Barnes-Hut pays off only for large sets; below ~1,000 points the exact method is many times faster.
        method = "exact" if len(f) <= 1000 else "barnes_hut"
        tsne = TSNE(n_components=2, init="pca", perplexity=min(30, len(f) // 4), random_state=seed, method=method)
        emb = tsne.fit_transform(f)
        start = 0
        for label, colour, images in sets:
            part = emb[start : start + len(images)]
            ax.scatter(part[:, 0], part[:, 1], s=4, c=colour, label=label, alpha=0.6)
            start += len(images)
        ax.set_title(LABELS[r.method], fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(sets), fontsize=8, markerscale=3, frameon=False)
    fig.suptitle("t-SNE of the feature extractor's output (test images)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def samples_figure(data: Domains, n: int = 12) -> Any:
    """Rows of source digits, augmented source digits, target training and target test images."""
    import matplotlib.pyplot as plt

    g = torch.Generator().manual_seed(0)
    src = data.source_train.images[torch.randperm(len(data.source_train), generator=g)[:n]]
    rows = [
        ("source (MNIST)", src),
        ("source, augmented (colour)", augment_source(src, "colour").clamp(0, 1)),
        ("source, augmented (invert)", augment_source(src, "invert").clamp(0, 1)),
        ("target train (MNIST-M)", data.target_train.images[torch.randperm(len(data.target_train), generator=g)[:n]]),
        ("target test (MNIST-M)", data.target_test.images[torch.randperm(len(data.target_test), generator=g)[:n]]),
    ]
    fig, axes = plt.subplots(len(rows), 1, figsize=(n * 0.7, len(rows) * 1.0))
    for ax, (title, images) in zip(axes, rows):
        ax.imshow(sample_grid(images, nrow=n))
        ax.set_title(title, fontsize=8, loc="left")
        ax.axis("off")
    fig.suptitle(data.target_desc, fontsize=8)
    fig.tight_layout()
    return fig


def write_all(run: Run, data: Domains, results: list[MethodResult], device: torch.device, cfg: AdaptOptions) -> None:
    """The table, curves, samples and (unless `--tsne 0`) t-SNE figures of a methods run."""
    run.save_figure(table_figure(results), "accuracy_table")
    run.save_figure(curves_figure(results), "training_curves")
    run.save_figure(samples_figure(data), "samples")
    if cfg.tsne:
        run.save_figure(tsne_figure(results, data, device, cfg.input_norm, cfg.tsne, cfg.seed, cfg.augment), "tsne")
