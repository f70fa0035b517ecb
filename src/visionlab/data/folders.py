"""Image-folder datasets: 15-Scene (Lazebnik et al. 2006) and any class-per-folder tree.

Two layouts are accepted: `train/<class>/` + `test/<class>/` (a given split, such as 15-Scene's
standard 100-per-class split), or flat `<class>/` folders, split by seed (15-Scene: 100 per class
for training, the standard protocol; other folders: 80% for training).
"""

from __future__ import annotations

from pathlib import Path

from visionlab.data.base import FileImages, ImageData, default_root, scan_class_folders, stratified_split
from visionlab.errors import MissingDataError

SCENE15_NAMES = ("scene15", "15scene", "15-scene", "scene_categories")


def _has_split(folder: Path) -> bool:
    return (folder / "train").is_dir() and (folder / "test").is_dir()


def find_scene15(root: Path | None) -> Path | None:
    """The 15-Scene folder: the data root itself or a known sub-folder of it, if it holds class folders."""
    base = default_root(root)
    for cand in [base, *(base / n for n in SCENE15_NAMES)]:
        if _has_split(cand) or (cand.is_dir() and sum(d.is_dir() for d in cand.iterdir()) >= 15):
            return cand
    return None


def load_folder(
    folder: Path, name: str = "folder", flat_train: int | float = 0.8, seed: int = 0, mode: str = "RGB"
) -> ImageData:
    """Load a class-per-folder tree in either layout.

    Args:
        folder: the dataset folder.
        name: catalog name for the description.
        flat_train: for the flat layout, training images per class (int) or share (float).
        seed: seed of the flat-layout split.
        mode: `RGB` turns grayscale images into 3 channels; `L` keeps one.
    """
    if _has_split(folder):
        tr_paths, tr_labels, classes, bad_tr = scan_class_folders(folder / "train")
        te_paths, te_labels, te_classes, bad_te = scan_class_folders(folder / "test")
        if te_classes != classes:
            raise MissingDataError(
                f"{folder}: train/ and test/ hold different class folders",
                "give both splits the same class sub-folders",
            )
        train, test = FileImages(tr_paths, tr_labels, mode), FileImages(te_paths, te_labels, mode)
        how, bad = "given train/test split", bad_tr + bad_te
    else:
        paths, labels, classes, bad = scan_class_folders(folder)
        tr, te = stratified_split(labels, flat_train, seed)
        share = f"{flat_train} per class" if isinstance(flat_train, int) else f"{flat_train:.0%} per class"
        if not tr or not te:
            raise MissingDataError(
                f"{folder}: {len(paths)} images in {len(classes)} class folders leave the "
                f"{'test' if not te else 'training'} split empty ({share} for training)",
                "add images (at least 5 per class), or give train/<class>/ and test/<class>/ folders",
            )
        every = FileImages(paths, labels, mode)
        train, test = every.subset(tr), every.subset(te)
        how = f"flat folders split by seed {seed}, {share} for training"
    desc = f"{name} ({folder.name}: {len(classes)} classes, {len(train)} train / {len(test)} test, {how})"
    notes = {"unreadable_skipped": bad} if bad else {}
    return ImageData(name, desc, classes, train, test, notes)


def load_scene15(root: Path | None, seed: int = 0) -> ImageData:
    """15-Scene from the data root, as grayscale images turned into 3 channels."""
    folder = find_scene15(root)
    if folder is None:
        raise MissingDataError(
            f"15-Scene not found under {default_root(root)}",
            "pass --data-root DIR holding train/<Class>/ and test/<Class>/ (or 15 class folders)",
        )
    return load_folder(folder, "scene15", flat_train=100, seed=seed)
