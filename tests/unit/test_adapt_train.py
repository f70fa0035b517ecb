"""Adapt training: the budget switch, clear errors, data-parallel processes and bf16 on known answers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from visionlab.adapt.commands import DannConfig, PseudoLabelConfig
from visionlab.adapt.data import Domains, augment_source
from visionlab.adapt.nets import DANN
from visionlab.adapt.train import Trained, make_job, train
from visionlab.data.base import TensorImages
from visionlab.errors import UsageError


def _domains(n_source: int = 64, n_target: int = 64, n_test: int = 32) -> Domains:
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> TensorImages:
        return TensorImages(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(n) % 10)

    return Domains(split(n_source), split(n_test), split(n_target), split(n_test), "source", "target")


def _train(tmp_path: Path, data: Domains, **options: object) -> Trained:
    cfg = DannConfig(arch="canonical", epochs=1, batch_size=16, device="cpu", augment="colour", **options)
    cfg.validate()
    return train(cfg, make_job(cfg, "dann", 0, tmp_path / f"{cfg.devices}-{cfg.precision}.pt"), data)


def test_quick_caps_the_budget_once_and_keeps_a_zero_that_switches_off() -> None:
    quick = DannConfig(quick=True).budgeted()
    assert (quick.epochs, quick.batch_size, quick.source_limit, quick.test_limit, quick.tsne) == (2, 32, 256, 300, 100)
    assert DannConfig(quick=True, tsne=0, batch_size=16).budgeted().tsne == 0
    assert DannConfig(quick=True, tsne=0, batch_size=16).budgeted().batch_size == 16
    assert (PseudoLabelConfig(quick=True).budgeted().rounds, PseudoLabelConfig().budgeted().rounds) == (1, 3)


def test_a_data_parallel_share_augments_its_rows_as_one_process_would() -> None:
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    for mode in ("colour", "invert", "affine"):
        whole = augment_source(x, mode, torch.Generator().manual_seed(3))
        share = augment_source(x[1::2], mode, torch.Generator().manual_seed(3), share=(1, 2))
        assert torch.allclose(share, whole[1::2], atol=1e-6)


def test_a_target_split_smaller_than_a_batch_is_a_usage_error_naming_the_sizes(tmp_path: Path) -> None:
    match = r"target training split has 10 images, fewer than one batch of --batch-size 16"
    with pytest.raises(UsageError, match=match):
        _train(tmp_path, _domains(n_target=10))


def test_devices_must_split_the_batch() -> None:
    with pytest.raises(UsageError, match="does not split into 3"):
        DannConfig(devices=3, batch_size=16).validate()


def test_two_cpu_processes_train_the_same_network_as_one(tmp_path: Path) -> None:
    """Each process takes half of every global batch and augments it as one process would; DDP averages the
    gradients: the canonical network (no batch norm, no dropout) ends with the same weights and epoch logs."""
    data = _domains(n_source=48, n_test=16)
    one = _train(tmp_path, data)
    two = _train(tmp_path, data, devices=2)
    for (name, a), b in zip(one.model.state_dict().items(), two.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
    for key in ("train/class_loss", "train/domain_loss", "train/acc"):
        assert one.history[0][key] == pytest.approx(two.history[0][key], abs=1e-5)
    torch.manual_seed(0)  # the seed the workers start from: the initial weights
    assert not torch.allclose(DANN("canonical").features[0].weight, one.model.features[0].weight)  # it trained


def test_bf16_mixed_trains_on_the_cpu_close_to_32_bit(tmp_path: Path) -> None:
    data = _domains()
    full = _train(tmp_path, data).history[0]
    half = _train(tmp_path, data, precision="bf16-mixed").history[0]
    for key in ("train/class_loss", "train/domain_loss"):
        assert math.isfinite(half[key]) and half[key] == pytest.approx(full[key], abs=0.05)
