"""Frozen features: pooling, one pass equals separate passes, the content-keyed cache, subsets, bad cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from visionlab.data import TensorImages
from visionlab.data.mnist import bundled_mnist
from visionlab.errors import UsageError
from visionlab.models import load_backbone
from visionlab.transfer.features import cache_dir, dataset_fingerprint, extract
from visionlab.transfer.targets import image_transform, per_class_subset
from visionlab.transfer.views import pool


@pytest.fixture(scope="module")
def backbone():
    return load_backbone("efficientnet_lite0")


@pytest.fixture(scope="module")
def mnist_test() -> TensorImages:
    return bundled_mnist().test


@pytest.fixture(scope="module")
def digits(mnist_test) -> TensorImages:
    return per_class_subset(mnist_test, 2, seed=0)  # 20 real digits


def test_pool_averages_maps_and_keeps_vectors() -> None:
    maps = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    assert torch.equal(pool(maps)[0], torch.tensor([1.5, 5.5, 9.5]))
    assert torch.equal(pool(torch.ones(4, 7)), torch.ones(4, 7))


def test_per_class_subset_is_balanced_and_seeded(digits: TensorImages, mnist_test) -> None:
    assert np.bincount(np.asarray(digits.labels)).tolist() == [2] * 10
    again = per_class_subset(mnist_test, 2, seed=0)
    assert torch.equal(again.images, digits.images)
    other = per_class_subset(mnist_test, 2, seed=1)
    assert not torch.equal(other.images, digits.images)


def test_grayscale_becomes_three_channels_at_the_asked_size(backbone) -> None:
    out = image_transform(backbone.spec, 40, "center")(torch.zeros(1, 28, 28, dtype=torch.uint8))
    assert out.shape == (3, 40, 40) and out.dtype == torch.float32
    full = image_transform(backbone.spec, 40, "full")(torch.zeros(1, 28, 50, dtype=torch.uint8))
    assert full.shape == (3, 40, 40)


def test_one_pass_over_many_cuts_equals_single_cut_passes(backbone, digits) -> None:
    kw = dict(size=48, batch_size=8, workers=0)
    both = extract(backbone, digits, ["block3", "pool"], **kw)
    alone = extract(backbone, digits, ["pool"], **kw)
    assert both.by_cut["block3"].shape == (20, 80) and both.by_cut["pool"].shape == (20, 1280)
    np.testing.assert_allclose(both.by_cut["pool"], alone.by_cut["pool"], rtol=1e-4, atol=1e-5)
    assert both.labels.tolist() == np.asarray(digits.labels).tolist()


def test_cache_is_reused_and_keyed_by_content(backbone, digits, tmp_path: Path) -> None:
    kw = dict(size=48, batch_size=8, workers=0, cache=tmp_path)
    first = extract(backbone, digits, ["pool"], **kw)
    assert first.from_cache == [] and first.seconds > 0
    second = extract(backbone, digits, ["pool", "block2"], **kw)  # pool read back, block2 extracted
    assert second.from_cache == ["pool"]
    np.testing.assert_array_equal(first.by_cut["pool"], second.by_cut["pool"])
    third = extract(backbone, digits, ["block2", "pool"], **kw)
    assert sorted(third.from_cache) == ["block2", "pool"] and third.seconds == 0
    flipped = extract(backbone, digits, ["pool"], flip=True, **kw)  # another preparation, another key
    assert flipped.from_cache == []
    changed = TensorImages(digits.images.clone(), digits.labels.clone())
    changed.images[0, 0, 0, 0] ^= 1
    assert dataset_fingerprint(changed) != dataset_fingerprint(digits)
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_flip_averaging_is_the_mean_of_the_image_and_its_mirror(backbone, digits) -> None:
    mirrored = TensorImages(digits.images.flip(-1).contiguous(), digits.labels)
    kw = dict(size=48, crop="full", batch_size=8, workers=0)
    both = extract(backbone, digits, ["pool"], flip=True, **kw).by_cut["pool"]
    plain = extract(backbone, digits, ["pool"], **kw).by_cut["pool"]
    mirror = extract(backbone, mirrored, ["pool"], **kw).by_cut["pool"]
    np.testing.assert_allclose(both, (plain + mirror) / 2, rtol=1e-4, atol=1e-5)


def test_unknown_cut_lists_the_valid_ones(backbone) -> None:
    with pytest.raises(UsageError) as err:
        backbone.spec.check_cuts(["pool", "relu7"])
    assert "relu7" in str(err.value) and "block3" in str(err.value) and err.value.code == 2


def test_cache_folder_is_under_the_cache_root_never_a_data_root(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VISIONLAB_FEATURE_CACHE", raising=False)
    monkeypatch.setenv("VISIONLAB_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache" / "features"
    monkeypatch.setenv("VISIONLAB_FEATURE_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_a_flip_pass_also_caches_the_plain_features(backbone, digits, tmp_path: Path) -> None:
    kw = dict(size=48, crop="full", batch_size=8, workers=0, cache=tmp_path)
    flipped = extract(backbone, digits, ["pool", "block3"], flip=True, **kw)
    plain = extract(backbone, digits, ["pool", "block3"], **kw)  # read back: no second pass
    assert sorted(plain.from_cache) == ["block3", "pool"] and plain.seconds == 0
    fresh = extract(backbone, digits, ["pool"], size=48, crop="full", batch_size=8, workers=0)
    np.testing.assert_allclose(plain.by_cut["pool"], fresh.by_cut["pool"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(flipped.byproducts[("full", False)]["pool"], plain.by_cut["pool"])
    assert not np.allclose(flipped.by_cut["pool"], plain.by_cut["pool"])


def test_a_ten_crop_pass_caches_all_four_views_and_its_centre_is_the_centre_crop(backbone, digits, tmp_path) -> None:
    """One five-crop flip pass yields five, centre, each with and without flip; read back, the centre view
    equals a fresh centre-crop extraction, and the five-crop mean differs from it on real digits."""
    kw = dict(size=48, batch_size=8, workers=0, cache=tmp_path)
    ten = extract(backbone, digits, ["pool"], crop="five", flip=True, **kw)
    assert sorted(ten.byproducts) == [("center", False), ("center", True), ("five", False)]
    views = {v: extract(backbone, digits, ["pool"], crop=v[0], flip=v[1], **kw) for v in ten.byproducts}
    assert all(f.from_cache == ["pool"] and f.seconds == 0 for f in views.values())  # no second pass
    fresh = extract(backbone, digits, ["pool"], size=48, batch_size=8, workers=0)
    np.testing.assert_allclose(views[("center", False)].by_cut["pool"], fresh.by_cut["pool"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(views[("five", False)].by_cut["pool"], fresh.by_cut["pool"], atol=1e-3)
    assert ten.by_cut["pool"].shape == (20, 1280)
