"""Fine-tuning in N processes and in mixed precision: the same answer as one process in 32-bit floats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from visionlab.engine import RankBatchSampler, load_checkpoint

# Frozen body (no dropout, batch norm fixed), no augmentation: one process and two must train the same head.
# MNIST fallback, 4 digits per class: 32 training images = 4 global batches of 8 per epoch, 8 validation, 40 test.
_TINY = ["--freeze", "--per-class", "4", "--size", "32", "--batch-size", "8", "--epochs", "2", "--workers", "0",
         "--device", "cpu", "--lr", "1e-2"]  # fmt: skip
_COMPARED = ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc")


def test_rank_shares_of_every_global_batch_make_the_one_process_batches() -> None:
    one = RankBatchSampler(11, 4, seed=5).set_epoch(2)
    ranks = [RankBatchSampler(11, 4, seed=5, rank=r, world=2).set_epoch(2) for r in (0, 1)]
    assert len(one) == len(ranks[0]) == len(ranks[1]) == 3 and one.global_sizes() == [4, 4, 3]
    for whole, a, b in zip(one, *ranks):
        assert sorted(a + b) == sorted(whole) and a == whole[0::2] and b == whole[1::2]
    assert sorted(i for batch in one for i in batch) == list(range(11))
    assert list(one) != list(RankBatchSampler(11, 4, seed=5).set_epoch(3))  # another epoch, another order
    assert len(RankBatchSampler(9, 4, rank=0, world=2)) == 2  # a last batch of 1 cannot feed 2 processes


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from visionlab.cli import main

    out = tmp_path_factory.mktemp("one") / "run"
    assert main(["transfer", "finetune", *_TINY, "--out", str(out)]) == 0
    return out


def _metrics(out: Path) -> dict[str, float]:
    return json.loads((out / "metrics.json").read_text())


def _head(out: Path) -> torch.Tensor:
    state = load_checkpoint(out / "checkpoints" / "efficientnet_lite0.pt")["state"]["model"]
    return state["net.classifier.weight"]


def test_two_processes_train_the_head_one_process_trains(cli, one_process: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    result = cli("transfer", "finetune", *_TINY, "--devices", "2", "--out", out)
    assert result.code == 0, result.err
    one, two = _metrics(one_process), _metrics(out)
    for key in _COMPARED:
        assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key
    torch.testing.assert_close(_head(out), _head(one_process), rtol=1e-4, atol=2e-5)  # Adam: ~0 grads amplify
    assert not torch.equal(_head(one_process), torch.zeros_like(_head(one_process)))
    assert "2 processes" in json.loads((out / "config.json").read_text())["notes"]["data_parallel"]


def test_bf16_mixed_on_the_cpu_trains_close_to_32_bit(cli, one_process: Path, tmp_path: Path) -> None:
    out = tmp_path / "bf16"
    result = cli("transfer", "finetune", *_TINY, "--precision", "bf16-mixed", "--out", out)
    assert result.code == 0, result.err
    one, half = _metrics(one_process), _metrics(out)
    assert half["test/loss"] != one["test/loss"]  # the forward pass really ran in bfloat16
    assert half["test/loss"] == pytest.approx(one["test/loss"], rel=0.05)
    assert abs(half["test/acc"] - one["test/acc"]) <= 0.1
    assert json.loads((out / "config.json").read_text())["notes"]["precision"] == "bf16-mixed"
