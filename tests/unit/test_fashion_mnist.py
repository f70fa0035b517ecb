"""Fashion-MNIST in the catalog: torchvision's layout, its class names, no fallback, offline preparation."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fashion import FILES, write_fashion_mnist
from visionlab.data import load_dataset
from visionlab.data.download import md5sum
from visionlab.data.fashion_mnist import CLASSES
from visionlab.errors import MissingDataError


def test_classes_are_torchvisions() -> None:
    from torchvision.datasets import FashionMNIST

    assert FashionMNIST.classes == CLASSES and CLASSES[0] == "T-shirt/top" and CLASSES[9] == "Ankle boot"


def test_tiny_set_loads_with_its_labels_pixels_and_names(tmp_path: Path) -> None:
    root = write_fashion_mnist(tmp_path, train_per_class=3, test_per_class=2)
    data = load_dataset("fashion_mnist", root)
    assert data.name == "fashion_mnist" and data.classes == CLASSES
    assert data.description == "fashion_mnist (30 train / 20 test)"  # "full" only for 60,000 / 10,000
    assert data.train.images.shape == (30, 1, 28, 28) and data.train.images.dtype == torch.uint8
    assert data.train.labels.tolist() == list(range(10)) * 3 and torch.bincount(data.test.labels).tolist() == [2] * 10
    # class 5 (Sandal): its 8x8 square at row 2 + 8, column 2 + 6 is 230, the noise around it below 40
    image = data.train.images[5, 0]
    assert (image[10:18, 8:16] == 230).all() and int(image[:10].max()) < 40


def test_missing_set_is_a_one_line_exit_3_naming_the_folder_and_the_fix(cli, tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="FashionMNIST/raw"):
        load_dataset("fashion_mnist", tmp_path)  # no bundled fallback
    result = cli("transfer", "svm", "--data", "fashion_mnist", "--data-root", tmp_path, "--out", tmp_path / "run")
    assert result.code == 3 and len(result.err.strip().splitlines()) == 1
    assert str(tmp_path / "FashionMNIST" / "raw") in result.err and "data prepare fashion_mnist" in result.err
    assert cli("generate", "dcgan", "--data", "fashion_mnist", "--data-root", tmp_path).code == 3
    assert not (tmp_path / "FashionMNIST").exists()  # nothing created in the user's folder


def test_corrupted_file_is_exit_3(cli, tmp_path: Path) -> None:
    root = write_fashion_mnist(tmp_path, 1, 1)
    (root / "FashionMNIST" / "raw" / FILES[0]).write_bytes(b"\x00\x00\x08\x03truncated")
    with pytest.raises(MissingDataError, match="incomplete or corrupted"):
        load_dataset("fashion_mnist", root)


def test_data_list_says_present_or_missing(cli, tmp_path: Path) -> None:
    lines = cli("data", "list", "--data-root", tmp_path).out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["fashion_mnist"])
    assert "Fashion-MNIST" in lines[at] and lines[at + 1].strip() == "-> missing"
    write_fashion_mnist(tmp_path, 1, 1)
    present = cli("data", "list", "--data-root", tmp_path).out
    assert f"-> present ({tmp_path / 'FashionMNIST' / 'raw'})" in present


def test_prepare_offline_says_where_the_files_go_and_leaves_nothing(cli, tmp_path: Path, monkeypatch) -> None:
    from torchvision.datasets import FashionMNIST

    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])  # a closed port: fails at once
    result = cli("data", "prepare", "fashion_mnist", "--data-root", tmp_path / "root")
    assert result.code == 3 and "cannot download" in result.err
    assert f"into {tmp_path / 'root' / 'FashionMNIST' / 'raw'}" in result.err
    assert not (tmp_path / "root").exists()


def test_prepare_decompresses_gz_files_already_there_without_network(cli, tmp_path: Path, monkeypatch) -> None:
    from torchvision.datasets import FashionMNIST

    src = write_fashion_mnist(tmp_path / "src", 2, 1) / "FashionMNIST" / "raw"
    raw = tmp_path / "root" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    resources = []
    for name in FILES:  # the .gz files as a user copies them in; their MD5s stand in for the published ones
        (raw / f"{name}.gz").write_bytes(gzip.compress((src / name).read_bytes()))
        resources.append((f"{name}.gz", md5sum(raw / f"{name}.gz")))
    monkeypatch.setattr(FashionMNIST, "resources", resources)
    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    assert cli("data", "prepare", "fashion_mnist", "--data-root", tmp_path / "root").code == 0
    data = load_dataset("fashion_mnist", tmp_path / "root")
    assert np.array_equal(data.train.images.numpy(), load_dataset("fashion_mnist", tmp_path / "src").train.images)


def test_histogram_and_metric_names_use_the_class_names() -> None:
    from visionlab.generate.figures import histogram_figure
    from visionlab.transfer.svm import metric_word

    fig = histogram_figure(np.full(10, 0.1), "t", CLASSES)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES and ax.get_xlabel() == "predicted class"
    digits = histogram_figure(np.full(10, 0.1), "t").axes[0]
    assert [t.get_text() for t in digits.get_xticklabels()] == [str(d) for d in range(10)]
    assert digits.get_xlabel() == "predicted digit"
    assert [metric_word(c) for c in ("T-shirt/top", "Ankle boot", "7", "CALsuburb")] == [
        "T-shirt_top", "Ankle_boot", "7", "CALsuburb"]  # fmt: skip
