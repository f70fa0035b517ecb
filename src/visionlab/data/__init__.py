"""Datasets: the catalog, in-memory and folder datasets, bundled photos."""

from visionlab.data.base import FileImages, ImageData, TensorImages, collate_skip, default_root, read_image
from visionlab.data.catalog import DATASETS, load_dataset, prepare

__all__ = [
    "DATASETS",
    "FileImages",
    "ImageData",
    "TensorImages",
    "collate_skip",
    "default_root",
    "load_dataset",
    "prepare",
    "read_image",
]
