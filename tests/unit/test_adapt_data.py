"""Adapt data: 32x32 RGB domains, MNIST-M release errors, first-use synthesis, batch augmentation, pairing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.adapt import data as adapt_data
from visionlab.adapt.data import colourize, load_domains, normalize, random_affine, to_rgb32
from visionlab.engine import PairedBatches, TensorBatches
from visionlab.errors import MissingDataError


def test_to_rgb32_pads_28_like_mnist_m_and_resizes_other_sizes() -> None:
    x = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 0, 0] = 255
    out = to_rgb32(x)
    assert out.shape == (2, 3, 32, 32) and out.dtype == torch.uint8
    assert int(out[0, 2, 2, 2]) == 255 and int(out[0, 0, 0, 0]) == 0  # shifted by the 2-pixel border
    assert to_rgb32(torch.zeros(1, 3, 40, 40, dtype=torch.uint8)).shape == (1, 3, 32, 32)


def test_per_image_normalization_gives_zero_mean_unit_std() -> None:
    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    y = normalize(x, "image")
    assert torch.allclose(y.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.std(dim=(1, 2, 3)), torch.ones(3), atol=1e-4)
    assert normalize(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8), "global").eq(1.0).all()


def test_colourize_paints_ground_and_stroke_with_two_colours() -> None:
    x = torch.zeros(64, 3, 8, 8, dtype=torch.uint8)
    x[:, :, 4:, :] = 255
    out = colourize(x, torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 1
    ground, stroke = out[:, :, 0, 0], out[:, :, 7, 7]
    assert torch.allclose(out[:, :, :4, :], ground[:, :, None, None].expand(-1, -1, 4, 8))
    assert (ground.sum(1) > stroke.sum(1)).any() and (ground.sum(1) < stroke.sum(1)).any()  # inversions happen


def test_invert_mode_stays_grey_with_both_polarities() -> None:
    x = torch.zeros(64, 3, 8, 8, dtype=torch.uint8)
    x[:, :, 4:, :] = 255
    out = colourize(x, torch.Generator().manual_seed(1), grey=True)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    ground, stroke = out[:, 0, 0, 0], out[:, 0, 7, 7]
    assert (ground > stroke).any() and (ground < stroke).any()
    assert (ground - stroke).abs().mean() > 0.3


def test_random_affine_keeps_a_flat_image_flat() -> None:
    x = torch.full((4, 3, 32, 32), 0.25)
    assert torch.allclose(random_affine(x), x, atol=1e-5)


def test_paired_batches_cycle_the_shorter_target() -> None:
    src = TensorBatches(torch.arange(10), torch.arange(10), batch_size=2, drop_last=True)
    tgt = TensorBatches(torch.arange(4) + 100, torch.arange(4), batch_size=2, drop_last=True)
    batches = list(PairedBatches(src, tgt).set_epoch(0))
    assert len(batches) == 5
    seen = torch.cat([b[2] for b in batches])
    assert set(seen.tolist()) == {100, 101, 102, 103} and len(seen) == 10


def _release(folder: Path, size: int, labels: bool = True, n: int = 6) -> Path:
    for split in ("train", "test"):
        (folder / f"mnist_m_{split}").mkdir(parents=True)
        lines = []
        for i in range(n):
            Image.fromarray(np.full((size, size, 3), 20 * i, np.uint8)).save(folder / f"mnist_m_{split}" / f"{i}.png")
            lines.append(f"{i}.png {i % 10}")
        if labels or split == "train":
            (folder / f"mnist_m_{split}_labels.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_target_release_of_another_size_is_resized(tmp_path: Path) -> None:
    d = load_domains(None, _release(tmp_path / "mm", size=28))
    assert d.target_train.images.shape == (6, 3, 32, 32) and d.target_test.images.shape == (6, 3, 32, 32)
    assert d.source_train.images.shape == (4000, 3, 32, 32)
    assert "bundled" in d.source_desc and "PNG release" in d.target_desc


def test_target_without_label_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="mnist_m_test_labels.txt"):
        load_domains(None, _release(tmp_path / "mm", size=32, labels=False))


def test_missing_target_is_synthesized_once(tmp_path, monkeypatch) -> None:
    calls = []

    def fake_synthesize(root):
        calls.append(root)
        return _release(tmp_path / "root" / "mnist_m", size=32)

    monkeypatch.setattr("visionlab.data.mnist_m.synthesize", fake_synthesize)
    assert adapt_data.find_target(None, tmp_path / "root") == tmp_path / "root" / "mnist_m"
    assert len(calls) == 1  # synthesize announces the build itself (tests/unit/test_user_data.py)
    assert adapt_data.find_target(None, tmp_path / "root") == tmp_path / "root" / "mnist_m"
    assert len(calls) == 1
    with pytest.raises(MissingDataError):
        adapt_data.find_target(tmp_path / "nothing-here", None)
