"""`transfer inspect`: where a backbone's parameters are, and what comes out of it.

VGG16 (Simonyan & Zisserman 2015) holds about 138M parameters, most of them (about 124M) in its three
fully connected layers, fc6 alone 103M; convolutional backbones with global pooling (ResNet,
EfficientNet) keep only a small share in their last layer. The output is one score per ImageNet class
(1,000 of them); the feature shapes at the named cut points show how space shrinks while channels grow.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from visionlab.engine import count_parameters
from visionlab.models import Backbone, load_backbone
from visionlab.runs import Run
from visionlab.transfer.commands import InspectConfig


def layer_groups(net: nn.Module, max_children: int = 40) -> list[tuple[str, int]]:
    """(name, parameters) of each top-level module; a Sequential/ModuleList is split into its children
    when it has at most `max_children` of them. Modules without parameters are left out."""
    groups: list[tuple[str, int]] = []
    for name, child in net.named_children():
        parts = list(child.named_children())
        if isinstance(child, (nn.Sequential, nn.ModuleList)) and 1 < len(parts) <= max_children:
            groups += [(f"{name}.{sub}", count_parameters(m)) for sub, m in parts]
        else:
            groups.append((name, count_parameters(child)))
    return [(n, p) for n, p in groups if p > 0]


def fc_parameters(net: nn.Module) -> int:
    """Parameters held by fully connected (`nn.Linear`) layers."""
    return sum(count_parameters(m) for m in net.modules() if isinstance(m, nn.Linear))


@torch.inference_mode()
def cut_shapes(backbone: Backbone) -> dict[str, tuple[int, ...]]:
    """The feature shape (without the batch) at every named cut, from one forward pass of a blank image."""
    size = backbone.spec.input_size
    feats = backbone.extractor(list(backbone.spec.cuts)).eval()(torch.zeros(1, 3, size, size))
    return {k: tuple(v.shape[1:]) for k, v in feats.items()}


def figure(groups: list[tuple[str, int]], fc_names: set[str], title: str) -> Any:
    """Horizontal bars of parameters per group in millions, fully connected groups in orange."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 0.8 + 0.22 * len(groups)))
    names = [n for n, _ in groups]
    values = [p / 1e6 for _, p in groups]
    ax.barh(names, values, color=["tab:orange" if n in fc_names else "tab:blue" for n in names])
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("parameters (millions); orange: fully connected")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def run(cfg: InspectConfig, run: Run) -> dict[str, float]:
    """Count parameters per group, the fully connected share, the output and cut-point shapes."""
    backbone = load_backbone(cfg.backbone, cfg.weights)
    net = backbone.net
    total, fc = count_parameters(net), fc_parameters(net)
    groups = layer_groups(net)
    fc_names = {n for n, _ in groups if any(isinstance(m, nn.Linear) for m in net.get_submodule(n).modules())}
    shapes = cut_shapes(backbone)
    size = backbone.spec.input_size
    with torch.inference_mode():
        out = backbone.eval()(torch.zeros(1, 3, size, size))
    run.set_data(f"one blank {size}x{size} image (shapes only)")
    run.note(
        weights=backbone.weights,
        groups={n: p for n, p in groups},
        cut_shapes={k: list(v) for k, v in shapes.items()},
        output=f"{out.shape[1]} scores per image, one per ImageNet class (logits; softmax gives probabilities)",
    )
    print(f"{cfg.backbone}: {total / 1e6:.1f}M parameters, {fc / 1e6:.1f}M ({fc / total:.0%}) fully connected")
    for name, p in groups:
        print(f"  {name:<24} {p:>12,d}  {p / total:6.1%}")
    print(f"input 3x{size}x{size} -> output {tuple(out.shape[1:])}: one score per ImageNet class")
    for cut, shape in shapes.items():
        print(f"  cut {cut:<12} {shape}")
    run.save_figure(figure(groups, fc_names, f"{cfg.backbone}: {total / 1e6:.1f}M parameters"), "parameters")
    metrics = {
        "params/total": float(total),
        "params/fc": float(fc),
        "params/fc_share": fc / total,
        "output/size": float(out.shape[1]),
        "input/size": float(size),
    }
    metrics.update({f"params/{n}": float(p) for n, p in groups})
    return metrics
