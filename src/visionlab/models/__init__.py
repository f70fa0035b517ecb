"""Networks: the pretrained backbone catalog and the small networks the practicals train."""

from visionlab.models.backbones import (
    DEFAULT_BACKBONE,
    SPECS,
    Backbone,
    BackboneSpec,
    get_spec,
    imagenet_classes,
    load_backbone,
)

__all__ = ["DEFAULT_BACKBONE", "SPECS", "Backbone", "BackboneSpec", "get_spec", "imagenet_classes", "load_backbone"]
