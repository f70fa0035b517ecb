"""`generate dcgan --data cifar10` and `generate cgan --data celeba` on tiny folders in the real on-disk formats.

The real datasets cannot be downloaded here, so these folders follow torchvision's layouts exactly (CIFAR-10's
pickled batches, CelebA's text tables and aligned JPEGs) with random images; only torchvision's MD5 check of
the original files is switched off. They exercise the whole path from the files to the trained networks.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ATTRS = [f"Attr_{i}" for i in range(31)] + ["Smiling"] + [f"Attr_{i}" for i in range(32, 40)]


def _cifar10(root: Path, rng: np.random.Generator, per_batch: int = 40) -> None:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names}, f)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)
        with open(base / name, "wb") as f:
            pickle.dump({"data": data, "labels": rng.integers(0, 10, per_batch).tolist()}, f)


def _celeba(root: Path, rng: np.random.Generator, n: int = 60) -> np.ndarray:
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    attrs = rng.choice([-1, 1], size=(n, 40))
    for name in files:  # 178 x 218 like the aligned faces
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(base / "img_align_celeba" / name)
    split = [0] * (n - 12) + [2] * 12

    def table(filename: str, header: str | None, rows: list[str]) -> None:
        lines = ([str(n), header] if header is not None else []) + rows
        (base / filename).write_text("\n".join(lines) + "\n")

    table("list_eval_partition.txt", None, [f"{f} {s}" for f, s in zip(files, split)])
    table("identity_CelebA.txt", None, [f"{f} {i % 7 + 1}" for i, f in enumerate(files)])
    table("list_bbox_celeba.txt", "image_id x_1 y_1 width height", [f"{f} 1 2 3 4" for f in files])
    marks = " ".join(f"p{i}" for i in range(10))
    table("list_landmarks_align_celeba.txt", marks, [f"{f} " + " ".join(["70"] * 10) for f in files])
    table(
        "list_attr_celeba.txt", " ".join(ATTRS) + " ", [f"{f} " + "  ".join(map(str, a)) for f, a in zip(files, attrs)]
    )
    return (attrs[: n - 12, 31] + 1) // 2


@pytest.fixture
def no_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.cifar
    from torchvision.datasets import CelebA

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kw: True)
    monkeypatch.setattr(CelebA, "_check_integrity", lambda self: True)


def test_dcgan_trains_on_cifar10_files(cli, tmp_path, no_md5) -> None:
    _cifar10(tmp_path / "data", np.random.default_rng(0))
    out = tmp_path / "run"
    result = cli(
        "generate", "dcgan", "--data", "cifar10", "--data-root", tmp_path / "data", "--quick", "--batch-size", "16",
        "--samples", "40", "--out", out, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    cfg = json.loads((out / "config.json").read_text())
    assert "cifar10 (200 train / 40 test)" in cfg["data"] and "digit" in cfg["notes"]["digit_metrics"]
    with np.load(out / "samples.npz") as f:
        assert f["images"].shape == (40, 32, 32, 3) and f["images"].dtype == np.uint8


def test_a_cifar10_folder_that_fails_its_md5_check_exits_3(cli, tmp_path) -> None:
    _cifar10(tmp_path / "data", np.random.default_rng(0))  # right layout, but not the original files
    result = cli("generate", "dcgan", "--data", "cifar10", "--data-root", tmp_path / "data", "--out", tmp_path / "x")
    assert result.code == 3 and "incomplete or corrupted" in result.err and result.err.count("\n") == 1


def test_cgan_on_celeba_files_conditions_on_smiling(cli, tmp_path, no_md5) -> None:
    smiling = _celeba(tmp_path / "data", np.random.default_rng(1))
    out = tmp_path / "run"
    result = cli(
        "generate", "cgan", "--data", "celeba", "--attribute", "31", "--data-root", tmp_path / "data", "--quick",
        "--batch-size", "8", "--samples", "20", "--workers", "0", "--out", out, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    cfg = json.loads((out / "config.json").read_text())
    assert "celeba (48 train / 12 test, 40 attributes)" in cfg["data"]
    with np.load(out / "samples.npz") as f:
        assert f["images"].shape == (20, 32, 32, 3) and sorted(set(f["labels"].tolist())) == [0, 1]
    assert 0 < smiling.mean() < 1  # both classes present in the training split
