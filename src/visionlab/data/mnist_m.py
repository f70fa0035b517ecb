"""MNIST-M (Ganin & Lempitsky 2015): MNIST digits blended with colour photo patches.

The loader reads the usual PNG release (`mnist_m_train/`, `mnist_m_test/`, `mnist_m_{split}_labels.txt`,
32x32 RGB). The builder makes one the way Ganin et al. did: each digit, binarized, inverts the colours
of a random patch of a photo (`|patch - digit|`). Patches come from `--backgrounds DIR` (BSDS500 in the
paper) or, offline, from the colour photos that ship with scikit-image and scikit-learn.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from visionlab.data.base import IMAGE_SUFFIXES, ImageData, TensorImages, cache_root, default_root, read_image
from visionlab.errors import MissingDataError, UsageError

SIZE = 32
_MARKER = "visionlab_synthesized.json"


def find_mnist_m(root: Path | None) -> Path | None:
    """The MNIST-M folder: the data root itself or <root>/mnist_m, if it holds a split folder."""
    base = default_root(root)
    for cand in (base, base / "mnist_m"):
        if (cand / "mnist_m_test").is_dir() or (cand / "mnist_m_train").is_dir():
            return cand
    return None


def _label_file(folder: Path, split: str) -> Path:
    exact = folder / f"mnist_m_{split}_labels.txt"
    if exact.exists():
        return exact
    others = sorted(folder.glob(f"mnist_m_{split}_labels*.txt"))
    if len(others) == 1:
        return others[0]
    raise MissingDataError(
        f"MNIST-M label file missing: {exact}", f"put the release's mnist_m_{split}_labels.txt beside mnist_m_{split}/"
    )


def read_labels(path: Path) -> list[tuple[str, int]]:
    """A label file's `NAME LABEL` lines, each label a digit 0..9.

    Raises:
        MissingDataError: a line without two fields, a label that is not a number or not 0..9 (file and line named).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MissingDataError(f"{path} is not a text file", "give the release's `NAME LABEL` label file") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        label = fields[-1]
        if len(fields) != 2 or not label.isdigit() or not 0 <= int(label) <= 9:
            raise MissingDataError(
                f"{path}, line {number}: expected `NAME LABEL` with a digit label 0..9, got {line.strip()[:60]!r}",
                "fix that line, or give the release's label file",
            )
        out.append((fields[0], int(label)))
    return out


def load_split(folder: Path, split: str) -> TensorImages:
    """One split as uint8 (N, 3, 32, 32); images of another size are resized."""
    from torchvision.transforms.v2.functional import resize

    images_dir = folder / f"mnist_m_{split}"
    if not images_dir.is_dir():
        raise MissingDataError(
            f"MNIST-M folder missing: {images_dir}", "give the PNG release's folder as --target-root"
        )
    images, labels = [], []
    for name, label in read_labels(_label_file(folder, split)):
        img = read_image(images_dir / name, "RGB", strict=False)
        if img is None:
            continue
        if img.shape[-2:] != (SIZE, SIZE):
            img = resize(img, [SIZE, SIZE], antialias=True)
        images.append(img)
        labels.append(label)
    if not images:
        raise MissingDataError(f"no readable MNIST-M images in {images_dir}")
    return TensorImages(torch.stack(images), torch.tensor(labels))


def load_mnist_m(root: Path | None = None) -> ImageData:
    """MNIST-M from the data root (the PNG release, or one built by `data prepare mnist_m --synthesize`)."""
    folder = find_mnist_m(root)
    if folder is None:
        raise MissingDataError(
            f"MNIST-M not found under {default_root(root)}",
            "run `visionlab data prepare mnist_m --synthesize`, or pass the release's folder as --data-root",
        )
    train, test = load_split(folder, "train"), load_split(folder, "test")
    marker = folder / _MARKER
    origin = json.loads(marker.read_text())["description"] if marker.exists() else "PNG release"
    desc = f"mnist_m ({origin}: {len(train)} train / {len(test)} test)"
    return ImageData("mnist_m", desc, [str(d) for d in range(10)], train, test)


def bundled_backgrounds() -> list[np.ndarray]:
    """Colour photos that ship with scikit-image and scikit-learn (uint8 H x W x 3)."""
    import skimage.data as sk
    from sklearn.datasets import load_sample_images

    photos = [sk.astronaut(), sk.coffee(), sk.chelsea(), sk.rocket(), sk.stereo_motorcycle()[0]]
    return photos + list(load_sample_images().images)


def folder_backgrounds(folder: Path) -> list[np.ndarray]:
    """Every readable colour image under `folder` (BSDS500's images, for instance)."""
    files = [p for p in sorted(Path(folder).rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    images = [read_image(p, "RGB", strict=False) for p in files]
    photos = [i.permute(1, 2, 0).numpy() for i in images if i is not None and min(i.shape[1:]) >= SIZE]
    if not photos:
        raise MissingDataError(f"no usable background images (at least {SIZE}x{SIZE}) under {folder}")
    return photos


def blend(digits: np.ndarray, backgrounds: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Ganin's recipe: (N, 28, 28) uint8 digits -> (N, 32, 32, 3) uint8 images.

    Each digit is padded to 32x32 and binarized; a random 32x32 patch of a random photo has its
    colours inverted where the digit is: `|patch - 255 * digit|`.
    """
    mask = np.pad(digits > 127, ((0, 0), (2, 2), (2, 2)))[..., None].astype(np.int16) * 255
    out = np.empty((len(digits), SIZE, SIZE, 3), dtype=np.uint8)
    for i in range(len(digits)):
        bg = backgrounds[rng.integers(len(backgrounds))]
        y = rng.integers(bg.shape[0] - SIZE + 1)
        x = rng.integers(bg.shape[1] - SIZE + 1)
        patch = bg[y : y + SIZE, x : x + SIZE].astype(np.int16)
        out[i] = np.abs(patch - mask[i]).astype(np.uint8)
    return out


def _writable_root(root: Path | None) -> Path | None:
    """The data root if a folder can be made in it, else None."""
    base = default_root(root)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return base if base.is_dir() and os.access(base, os.W_OK | os.X_OK) else None


def _refuse_existing(target: Path) -> None:
    """Never replace a folder: say what is there and how to get a new build."""
    if find_mnist_m(target) == target:
        raise UsageError(f"MNIST-M is already in {target}", "move or delete that folder first to build a new one there")
    raise MissingDataError(
        f"{target} exists but holds no MNIST-M (mnist_m_train/, mnist_m_test/ and their label files)",
        "put the PNG release there, pass it as --target-root, or move that folder away to synthesize one",
    )


def synthesize(root: Path | None = None, backgrounds: Path | None = None, seed: int = 0, fallback: bool = True) -> Path:
    """Build MNIST-M under <root>/mnist_m from the MNIST at hand, in the PNG release's layout.

    The set is built in a hidden folder beside the target and renamed into place only when the target does
    not exist: an existing folder is never replaced. With `fallback`, a data root that cannot be written
    (read-only, or a file) gets its build in the cache folder instead (reused when it is already there).

    Raises:
        UsageError: an MNIST-M is already there. MissingDataError: the target holds something else, or
            (without `fallback`) the data root cannot be written.
    """
    base = _writable_root(root)
    if base is None and not fallback:
        raise UsageError(
            f"cannot write to the data root {default_root(root)} (read-only, or not a folder)",
            "give a writable folder as --data-root",
        )
    if base is None:
        target = cache_root() / "mnist_m"
        if find_mnist_m(target) == target:
            return target
        print(f"note: {default_root(root)} cannot be written; MNIST-M goes to the cache", file=sys.stderr)
    else:
        target = base / "mnist_m"
    if target.exists():
        _refuse_existing(target)
    print(
        f"synthesizing MNIST-M once in {target} from MNIST and the bundled photos (Ganin's recipe)",
        file=sys.stderr,
        flush=True,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mnist_m.", suffix=".partial", dir=target.parent))
    try:
        _build(tmp, root, backgrounds, seed)
        if target.exists():  # made by someone else meanwhile: theirs stays
            _refuse_existing(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _build(tmp: Path, root: Path | None, backgrounds: Path | None, seed: int) -> None:
    """Write the PNG release's layout into the folder `tmp`."""
    from PIL import Image

    from visionlab.data.mnist import load_mnist

    mnist = load_mnist(root)
    photos = folder_backgrounds(backgrounds) if backgrounds else bundled_backgrounds()
    rng = np.random.default_rng(seed)
    for split, data in (("train", mnist.train), ("test", mnist.test)):
        images = blend(data.images[:, 0].numpy(), photos, rng)
        (tmp / f"mnist_m_{split}").mkdir()
        lines = []
        for i, (img, label) in enumerate(zip(images, data.labels.tolist())):
            name = f"{i:08d}.png"
            Image.fromarray(img).save(tmp / f"mnist_m_{split}" / name)
            lines.append(f"{name} {label}")
        (tmp / f"mnist_m_{split}_labels.txt").write_text("\n".join(lines) + "\n")
    source = "backgrounds from " + (str(backgrounds) if backgrounds else "bundled scikit-image/scikit-learn photos")
    (tmp / _MARKER).write_text(
        json.dumps({"description": f"synthesized from {mnist.description}, {source}, seed {seed}"})
    )
