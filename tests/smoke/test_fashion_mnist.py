"""`generate dcgan` and `transfer svm` on a tiny Fashion-MNIST in torchvision's layout (80 train / 40 test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fashion import write_fashion_mnist
from visionlab.data.fashion_mnist import CLASSES
from visionlab.transfer.svm import metric_word


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fashion"), train_per_class=8, test_per_class=4)


def _read(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


def test_generate_dcgan_quick_measures_with_the_fashion_classifier(cli, root: Path, tmp_path: Path) -> None:
    from visionlab.data.base import cache_root
    from visionlab.generate.evaluate import reference
    from visionlab.generate.metrics import class_histogram, predict

    out = tmp_path / "dcgan"
    args = ["--quick", "--data", "fashion_mnist", "--data-root", root, "--batch-size", "16", "--samples", "100"]
    result = cli("generate", "dcgan", *args, "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    m = _read(out, "metrics.json")
    assert m["samples/count"] == 100 and m["train/epochs"] == 2
    assert not any("digit" in k for k in m) and 0 <= m["samples/classes_covered"] <= 10
    # the Fashion-MNIST classifier, cached per dataset: its accuracy is a count out of the 40 test images
    files = sorted(p.name for p in (cache_root() / "generate").glob("fashion_mnist-cnn-*.pt"))
    assert files and m["classifier/test_acc"] * 40 == pytest.approx(round(m["classifier/test_acc"] * 40))
    ref = reference(root, 1, torch.device("cpu"), "fashion_mnist")
    assert ref.test_acc == m["classifier/test_acc"] and len(ref.train_features) == 80
    with np.load(out / "samples.npz") as f:
        images = f["images"]
    assert images.shape == (100, 32, 32)
    shares = class_histogram(predict(ref.model, torch.from_numpy(images)[:, None])[1].argmax(1))
    assert m["samples/class_max_share"] == shares.max() and m["samples/classes_covered"] == (shares >= 0.03).sum()
    cfg = _read(out, "config.json")
    assert cfg["data"].startswith("fashion_mnist (80 train / 40 test)")
    assert "Fashion-MNIST training split" in cfg["notes"]["classifier_features"]
    assert "digit" not in cfg["notes"]["classifier_features"]
    assert (out / "figures" / "class_histogram.png").stat().st_size > 1000


def test_transfer_svm_quick_names_the_classes(cli, root: Path, tmp_path: Path, monkeypatch) -> None:
    import visionlab.transfer.svm as svm

    seen: dict[str, list[str]] = {}
    figure = svm.confusion_figure
    monkeypatch.setattr(svm, "confusion_figure", lambda cm, classes, title: seen.update(classes=classes) or
                        figure(cm, classes, title))  # fmt: skip
    out = tmp_path / "svm"
    args = ["--quick", "--data", "fashion_mnist", "--data-root", root, "--cs", "1,10", "--norms", "l2"]
    result = cli("transfer", "svm", *args, "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    m = _read(out, "metrics.json")
    assert m["data/train_images"] == 80 and m["data/test_images"] == 40  # under the --quick cap of 10 per class
    assert {f"test/acc_{metric_word(c)}" for c in CLASSES} <= set(m) and "test/acc_T-shirt_top" in m
    correct = m["test/acc"] * 40  # a count out of the 40 test images; the squares are easy to tell apart
    assert correct == pytest.approx(round(correct)) and round(correct) >= 36
    assert m["test/acc"] == pytest.approx(np.mean([m[f"test/acc_{metric_word(c)}"] for c in CLASSES]))
    assert seen["classes"] == CLASSES  # the confusion matrix is labelled with the class names
    assert _read(out, "config.json")["data"].startswith("fashion_mnist (80 train / 40 test)")
