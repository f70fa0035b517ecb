"""DANN networks: a feature extractor, a label classifier and a domain classifier (Ganin et al., JMLR 2016).

`canonical` is the paper's MNIST -> MNIST-M network (conv 5x5x32 - pool - conv 5x5x48 - pool; label
head FC100-FC100-10; domain head FC100-1). `bn` is the improved default: the same two-stage layout,
wider, with batch normalization and dropout in the feature extractor, which trains faster and transfers
better from a few thousand source digits.
"""

from __future__ import annotations

import torch
from torch import nn

from visionlab.adapt.grl import grad_reverse

ARCHS = ("canonical", "bn")


def _canonical_features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 32, 5),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 48, 5),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )


def _bn_features(width: int = 64, dropout: float = 0.1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, width, 5, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout2d(dropout),
        nn.Conv2d(width, width, 5, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout2d(dropout),
        nn.Flatten(),
    )


def _mlp(sizes: list[int], dropout: float = 0.0, bn: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if bn:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.ReLU(inplace=True))
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DANN(nn.Module):
    """Feature extractor `features`, label head `classifier`, domain head `domain` (one logit: target = 1).

    Args:
        arch: `canonical` (Ganin 2016's MNIST network) or `bn` (wider, batch norm and dropout).
        classes: number of labels.
    """

    def __init__(self, arch: str = "bn", classes: int = 10) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}")
        self.arch = arch
        if arch == "canonical":
            self.features = _canonical_features()
            dim = 48 * 5 * 5
            self.classifier = _mlp([dim, 100, 100, classes])
            self.domain = _mlp([dim, 100, 1])
        else:
            self.features = _bn_features()
            dim = 64 * 5 * 5
            self.classifier = _mlp([dim, 128, 128, classes], dropout=0.3, bn=True)
            self.domain = _mlp([dim, 128, 128, 1], bn=True)
        self.feature_dim = dim

    def forward(self, x: torch.Tensor, coeff: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, 3, 32, 32) -> (class logits (N, C), domain logits (N,), features (N, D)).

        The domain head sees the features through the GRL with factor `coeff` (0 blocks its gradient,
        a negative factor lets the features help the domain classifier).
        """
        f = self.features(x)
        d_in = f.detach() if coeff == 0.0 else grad_reverse(f, coeff)
        return self.classifier(f), self.domain(d_in).squeeze(1), f
