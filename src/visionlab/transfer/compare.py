"""`transfer compare`: the fine-tuning protocol of `finetune` on several backbones, one table and one figure.

AlexNet (Krizhevsky 2012), VGG (Simonyan & Zisserman 2015), ResNet (He 2016), Inception v3 (Szegedy 2016,
at 299x299) and EfficientNet-Lite0 (Tan & Le 2019) each get a new head and the same epochs, split and
optimizer. A backbone whose ImageNet weights are not on this machine is reported as missing (a table row
and `<name>/missing = 1`), never trained from a silent random init; the others still run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from visionlab.errors import MissingDataError
from visionlab.models import get_spec, load_backbone
from visionlab.runs import Run
from visionlab.transfer.commands import CompareConfig
from visionlab.transfer.finetune import AUGMENTATION, Trained, compute_note, train_and_test
from visionlab.transfer.targets import load_target


@dataclass
class Row:
    """One backbone of the comparison: its result, or why it is missing."""

    name: str
    weights: str = ""
    result: Trained | None = None
    reason: str = ""


def table(rows: list[Row]) -> str:
    """A Markdown table: backbone, test accuracy, last validation accuracy, seconds per epoch, training
    images per second, parameters."""
    lines = [
        "| backbone | test acc | val acc | s/epoch | images/s | params (M) | image size | weights |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r.result
        if t is None:
            lines.append(f"| {r.name} | missing | | | | | | {r.reason} |")
        else:
            lines.append(
                f"| {r.name} | {t.fit.test_acc:.3f} | {t.fit.history[-1]['val/acc']:.3f} | {t.s_per_epoch:.1f} "
                f"| {t.images_per_s:.1f} | {t.params / 1e6:.1f} | {t.size} | {r.weights} |"
            )
    return "\n".join(lines) + "\n"


def figure(rows: list[Row], title: str) -> Any:
    """Left: validation accuracy per epoch per backbone. Right: test accuracy bars labelled s/epoch and params."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    done = [(r.name, r.result) for r in rows if r.result is not None]
    for name, t in done:
        history = t.fit.history
        left.plot(range(1, len(history) + 1), [h["val/acc"] for h in history], marker="o", label=name)
    left.set_xlabel("epoch")
    left.set_ylabel("validation accuracy")
    left.grid(alpha=0.3)
    if done:
        left.legend(fontsize=8)
    names = [r.name for r in rows]
    accs = [0.0 if r.result is None else r.result.fit.test_acc for r in rows]
    bars = right.barh(names, accs, color=["lightgray" if r.result is None else "tab:blue" for r in rows])
    for bar, r in zip(bars, rows):
        t = r.result
        text = (
            "weights missing" if t is None else f"{t.fit.test_acc:.3f}, {t.s_per_epoch:.0f} s/ep, {t.params / 1e6:.1f}M"
        )
        right.text(0.01, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
    right.set_xlim(0, 1)
    right.set_xlabel("test accuracy")
    right.invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def run(cfg: CompareConfig, run: Run) -> dict[str, float]:
    """Fine-tune each backbone in turn; missing weights give a `missing` row, not a failure."""
    for name in cfg.backbones:
        get_spec(name)  # an unknown name is a usage error before any work
    data = load_target(cfg, cfg.seed, run)
    rows: list[Row] = []
    metrics: dict[str, float] = {}
    for name in cfg.backbones:
        try:
            backbone = load_backbone(name, cfg.weights)
        except MissingDataError as err:
            print(f"{name}: skipped, {err}")
            rows.append(Row(name, reason=err.what))
            metrics[f"{name}/missing"] = 1.0
            continue
        safe = name.replace("/", "_")
        t = train_and_test(cfg, backbone, data, run.checkpoints / f"{safe}.pt", name)
        rows.append(Row(name, backbone.weights, t))
        metrics.update(
            {
                f"{name}/missing": 0.0,
                f"{name}/test_acc": t.fit.test_acc,
                f"{name}/val_acc": t.fit.history[-1]["val/acc"],
                f"{name}/s_per_epoch": t.s_per_epoch,
                f"{name}/images_per_s": t.images_per_s,
                f"{name}/params": float(t.params),
            }
        )
    run.save_bytes("compare.md", table(rows).encode())
    run.note(
        missing=[r.name for r in rows if r.result is None],
        trained="frozen body, new head only" if cfg.freeze else "all layers",
        augmentation=AUGMENTATION if cfg.augment else "none",
        model_selection="the last epoch's model of each backbone is tested",
        **compute_note(cfg),
    )
    run.save_figure(figure(rows, f"fine-tuning comparison on {data.name}, {cfg.epochs} epoch(s)"), "compare")
    print(table(rows))
    done = [r.result for r in rows if r.result is not None]
    metrics["compare/trained"] = float(len(done))
    metrics["compare/best_test_acc"] = float(max((t.fit.test_acc for t in done), default=np.nan))
    return metrics
