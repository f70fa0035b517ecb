"""Named cut points of the torchvision backbones: readable names -> graph nodes.

Body cuts are inside the convolutional part (VGG16: `relu1_1` ... `pool5`), head cuts inside the
classifier (VGG16: `fc6`, `relu6`, `fc7`, `relu7`, `fc8`). Names follow the papers' layer names.
"""

from __future__ import annotations

# VGG layer counts per block (Simonyan & Zisserman 2015, configurations D and E).
_VGG_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_FC_HEAD = {
    "fc6": "classifier.0",
    "relu6": "classifier.1",
    "fc7": "classifier.3",
    "relu7": "classifier.4",
    "fc8": "classifier.6",
}


def vgg(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """Body cuts relu{b}_{i} and pool{b}, head cuts fc6 ... fc8 (node indices of torchvision's VGG)."""
    body: dict[str, str] = {}
    idx = 0
    for b, n_conv in enumerate(_VGG_BLOCKS[name], start=1):
        for i in range(1, n_conv + 1):
            body[f"relu{b}_{i}"] = f"features.{idx + 1}"  # conv at idx, its ReLU at idx + 1
            idx += 2
        body[f"pool{b}"] = f"features.{idx}"
        idx += 1
    return body, dict(_FC_HEAD)


def alexnet() -> tuple[dict[str, str], dict[str, str]]:
    """Krizhevsky et al. 2012 as in torchvision (the one-GPU variant)."""
    body = {
        "relu1": "features.1",
        "pool1": "features.2",
        "relu2": "features.4",
        "pool2": "features.5",
        "relu3": "features.7",
        "relu4": "features.9",
        "relu5": "features.11",
        "pool5": "features.12",
    }
    head = {
        "fc6": "classifier.1",
        "relu6": "classifier.2",
        "fc7": "classifier.4",
        "relu7": "classifier.5",
        "fc8": "classifier.6",
    }
    return body, head


def resnet() -> tuple[dict[str, str], dict[str, str]]:
    """He et al. 2016: the stem and the four stages, then global pooling and the classifier."""
    body = {"stem": "maxpool", "layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4"}
    return body, {"pool": "flatten", "fc": "fc"}


def inception_v3() -> tuple[dict[str, str], dict[str, str]]:
    """Szegedy et al. 2016: the Mixed blocks, then global pooling and the classifier."""
    blocks = [
        "Mixed_5b",
        "Mixed_5c",
        "Mixed_5d",
        "Mixed_6a",
        "Mixed_6b",
        "Mixed_6c",
        "Mixed_6d",
        "Mixed_6e",
        "Mixed_7a",
        "Mixed_7b",
        "Mixed_7c",
    ]
    return {b.lower(): b for b in blocks}, {"pool": "flatten", "fc": "fc"}


def squeezenet1_1() -> tuple[dict[str, str], dict[str, str]]:
    """Iandola et al. 2016, v1.1: the stem and the fire modules, then conv10 and the pooled logits."""
    fires = {"fire2": 3, "fire3": 4, "fire4": 6, "fire5": 7, "fire6": 9, "fire7": 10, "fire8": 11, "fire9": 12}
    body = {"relu1": "features.1", **{k: f"features.{v}" for k, v in fires.items()}}
    return body, {"conv10": "classifier.2", "logits": "flatten"}
