"""What the visualization commands take in: image arguments and ImageNet class names.

An image argument is a file, `bundled:NAME` / `bundled:all` (the photos that ship with the toolkit,
with their ImageNet classes), or a folder: with a `labels.csv` (columns `filename` and `class_index`,
files beside it or in `images/`) the labels come along; without one, every image file in it is taken.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from visionlab.data.base import IMAGE_SUFFIXES, read_image
from visionlab.data.photos import PHOTOS, expand_images, load_image_arg
from visionlab.errors import MissingDataError, UsageError
from visionlab.models import imagenet_classes


@dataclass
class Inputs:
    """A batch of images ready for a backbone.

    Attributes:
        names: a short name per image (the bundled name or the file name).
        images: (N, 3, S, S) floats in [0, 1].
        accept: per image, the ImageNet classes that count as correct (empty when unknown), main one first.
        source: the data actually used, in words (for `Run.set_data`).
        skipped: files of a folder that could not be read.
    """

    names: list[str]
    images: torch.Tensor
    accept: list[tuple[int, ...]]
    source: str
    skipped: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[int | None]:
        """The main ImageNet class of each image, None when unknown."""
        return [a[0] if a else None for a in self.accept]


def _folder_items(folder: Path) -> list[tuple[Path, tuple[int, ...]]]:
    table = folder / "labels.csv"
    if not table.is_file():
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise MissingDataError(f"no images in folder {folder}", "pass image files, or a folder holding them")
        return [(p, ()) for p in files]
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"filename", "class_index"} <= set(rows[0]):
        raise UsageError(f"{table} needs the columns filename and class_index", "write one row per image")
    base = folder / "images" if (folder / "images").is_dir() else folder
    count = len(imagenet_classes())
    items = []
    for line, row in enumerate(rows, 2):
        text = (row["class_index"] or "").strip()
        if not (text.isdigit() and int(text) < count):
            raise UsageError(
                f"{table}, line {line}: class_index {text!r} is not an ImageNet class",
                f"give a class index from 0 to {count - 1}; `visionlab classify --json` shows names and indices",
            )
        items.append((base / row["filename"], (int(text),)))
    return items


def _items(args: list[str]) -> list[tuple[str, Path | str, tuple[int, ...]]]:
    """(name, what to read, accepted classes) per image, in argument order."""
    out: list[tuple[str, Path | str, tuple[int, ...]]] = []
    for arg in expand_images(args):
        if arg.startswith("bundled:"):
            name = arg.split(":", 1)[1]
            out.append((name, arg, PHOTOS[name].classes if name in PHOTOS else ()))
        elif Path(arg).is_dir():
            out += [(p.name, p, classes) for p, classes in _folder_items(Path(arg))]
        else:
            out.append((Path(arg).name, arg, ()))
    return out


def _describe(args: list[str], n: int) -> str:
    kinds = []
    for arg in args:
        if arg.startswith("bundled:"):
            kinds.append("bundled photos (scikit-image/scikit-learn) with their ImageNet classes")
        elif Path(arg).is_dir():
            labelled = (Path(arg) / "labels.csv").is_file()
            kinds.append(f"folder {Path(arg).name}" + (" (labels.csv)" if labelled else ""))
        else:
            kinds.append("image files")
    return f"{n} images: " + ", ".join(dict.fromkeys(kinds))


def load_inputs(args: list[str], prep: Callable[[torch.Tensor], torch.Tensor], size: int = 0, limit: int = 0) -> Inputs:
    """Read image arguments into one batch.

    Args:
        args: files, folders, `bundled:NAME` or `bundled:all`.
        prep: the backbone's preprocessing (uint8 (C, H, W) -> float (3, S, S)).
        size: resize to this side after preprocessing (0 keeps the backbone's input size).
        limit: keep only `limit` images, evenly spread over the list (0: all).

    Raises:
        MissingDataError: a named file is missing or unreadable (files inside a folder are skipped instead).
        UsageError: an unknown bundled photo.
    """
    items = _items(args)
    if limit and limit < len(items):  # evenly spread: a folder sorted by class keeps its variety
        items = [items[i * len(items) // limit] for i in range(limit)]
    names, tensors, accept, skipped = [], [], [], []
    for name, what, classes in items:
        if isinstance(what, Path):  # inside a folder: skip unreadable files, say so
            image = read_image(what, "RGB", strict=False)
            if image is None:
                skipped.append(str(what.name))
                continue
        else:
            image = load_image_arg(what)
        names.append(name)
        tensors.append(prep(image))
        accept.append(tuple(classes))
    if not tensors:
        raise MissingDataError("no readable images among the arguments", "pass image files or bundled:all")
    images = torch.stack(tensors)
    if size and size != images.shape[-1]:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return Inputs(names, images.clamp(0, 1), accept, _describe(args, len(names)), skipped)


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def resolve_class(text: str) -> int:
    """An ImageNet class index from a name (`tarantula`, `tiger cat`) or an index (`76`).

    Raises:
        UsageError: an index out of range, or an unknown name (the message suggests close names).
    """
    names = imagenet_classes()
    if text.strip().lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(names):
            raise UsageError(f"class index {index} is out of range", f"use 0 to {len(names) - 1} or a class name")
        return index
    wanted = _normal(text)
    normal = [_normal(n) for n in names]
    if wanted in normal:
        return normal.index(wanted)
    close = difflib.get_close_matches(wanted, normal, n=3, cutoff=0.6)
    close += [n for n in normal if wanted and wanted in n and n not in close][:3]
    hint = (
        f"did you mean {', '.join(repr(names[normal.index(c)]) for c in close[:4])}?"
        if close
        else "give an ImageNet class name such as 'tarantula', or an index from 0 to 999"
    )
    raise UsageError(f"unknown ImageNet class {text!r}", hint)


def class_name(index: int) -> str:
    """The ImageNet name of class `index`."""
    return imagenet_classes()[index]
