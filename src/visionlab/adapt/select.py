"""`adapt select`: choose a setting (the source augmentation) per method without any target label.

Unsupervised domain adaptation has no labelled target validation set, so a hyperparameter must be
chosen by a label-free validator. This command trains each method once per candidate augmentation
and scores the trained model by information maximization on the unlabelled target training images
(IM, as the validator of Musgrave et al., "Benchmarking validation methods for unsupervised domain
adaptation", 2021): `IM = H(mean_i p_i) - mean_i H(p_i)`, high when the predictions on the target are
confident (low per-image entropy) and spread over the classes (high entropy of the mean prediction),
which rules out the degenerate "one confident class for everything". The candidate with the highest
IM wins. Target test accuracy is computed too, after the choice, and only reported next to it, so a
reader sees how well the validator agreed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from visionlab.adapt.commands import SelectConfig
from visionlab.adapt.data import Domains, normalize
from visionlab.adapt.labels import LABELS
from visionlab.adapt.methods import prepare, summarize, train_method
from visionlab.adapt.nets import DANN
from visionlab.adapt.train import MethodResult
from visionlab.engine import eval_mode, predict_chunks, select_device
from visionlab.runs import Run

VALIDATOR = "IM = H(mean p) - mean H(p) of the predictions on the unlabelled target training images (nats)"


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats along the last axis (0 log 0 = 0)."""
    return -(p * torch.log(p.clamp_min(1e-12))).sum(-1)


def information_maximization(probs: torch.Tensor) -> dict[str, float]:
    """IM score of softmax outputs `probs` (N x K) with its two parts: diversity H(mean p), confidence mean H(p)."""
    diversity = float(entropy(probs.mean(0)))
    per_image = float(entropy(probs).mean())
    return {"im": diversity - per_image, "im_diversity": diversity, "im_entropy": per_image}


def target_scores(model: DANN, data: Domains, device: torch.device, norm: str) -> dict[str, float]:
    """Label-free scores of `model` on the unlabelled target training images."""
    with eval_mode(model):
        probs = predict_chunks(
            lambda x: model(normalize(x, norm))[0].softmax(1), data.target_train.images, device=device
        )
    return information_maximization(probs.cpu())


def select_figure(methods: list[str], augments: list[str], metrics: dict[str, float], chosen: dict[str, str]) -> Any:
    """Per method: the IM score of each augmentation (the choice) and, beside it, the target accuracy it got."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(methods), figsize=(4.6 * len(methods), 3.4), squeeze=False)
    xs = np.arange(len(augments))
    for ax, method in zip(axes[0], methods):
        im = [metrics[f"{method}/{a}/im"] for a in augments]
        acc = [metrics[f"{method}/{a}/target/acc"] for a in augments]
        colours = ["tab:green" if a == chosen[method] else "tab:blue" for a in augments]
        ax.bar(xs - 0.2, im, width=0.4, color=colours, label="IM on unlabelled target (chooses)")
        ax.set_ylabel("IM score (nats)")
        ax.set_ylim(0, max(max(im), 1e-3) * 1.45)  # headroom for the legend
        ax.set_xticks(xs, augments)
        ax.set_xlabel("source augmentation")
        twin = ax.twinx()
        twin.bar(xs + 0.2, acc, width=0.4, color="tab:orange", alpha=0.7, label="target test acc (not used)")
        twin.set_ylim(0, 1.45)
        twin.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        twin.set_ylabel("target test accuracy")
        ax.set_title(f"{LABELS[method]}: chosen {chosen[method]}", fontsize=9)
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def run(cfg: SelectConfig, run: Run) -> dict[str, float]:
    """Train every (method, augmentation) pair, score each by IM, choose per method; `<method>/chosen_index`."""
    data = prepare(cfg, run)
    device = select_device(cfg.device)
    metrics: dict[str, float] = {}
    chosen: dict[str, str] = {}
    for method in cfg.methods:
        scores: dict[str, float] = {}
        for augment in cfg.augments:
            result: MethodResult = train_method(cfg, run, data, method, tag=f"{method}-{augment}", augment=augment)
            im = target_scores(result.model, data, device, cfg.input_norm)
            scores[augment] = im["im"]
            prefix = f"{method}/{augment}/"
            metrics.update({prefix + k: v for k, v in im.items()})
            metrics.update({k: v for k, v in summarize(result, prefix).items() if "/seed" not in k})
            print(f"{LABELS[method]}, augment {augment}: IM {im['im']:.4f}", flush=True)
        chosen[method] = max(scores, key=scores.__getitem__)
        metrics[f"{method}/chosen_index"] = float(cfg.augments.index(chosen[method]))
        metrics[f"{method}/chosen/target/acc"] = metrics[f"{method}/{chosen[method]}/target/acc"]
        print(f"{LABELS[method]}: chosen augmentation {chosen[method]} (highest IM)", flush=True)
    run.note(
        validator=VALIDATOR,
        chosen=chosen,
        target_labels="target test labels are read only after the choice, to report the accuracy of each candidate",
    )
    run.save_figure(select_figure(cfg.methods, cfg.augments, metrics, chosen), "selection")
    return metrics
