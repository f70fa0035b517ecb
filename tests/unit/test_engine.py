"""Engine: repeatable seeds, the shared loop's checkpoints and resume, NaN stops, DDP on two CPU processes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from visionlab.engine import Loop, TensorBatches, all_reduce_means, make_fabric, seed_everything, select_device
from visionlab.errors import AlreadyFinished, DivergenceError, UsageError


def _problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 8, generator=g)
    y = x @ torch.arange(8.0) + 0.1 * torch.randn(256, generator=g)
    return x, y


def _loop(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    epochs: int,
    ckpt: Path | None,
    lr_boom: bool = False,
    rank: int = 0,
    world: int = 1,
) -> Loop:
    x, y = _problem()
    x, y = x[rank::world], y[rank::world]
    batches = TensorBatches(x, y, batch_size=32, seed=1)

    def step(batch: tuple[torch.Tensor, torch.Tensor], p: float) -> dict[str, torch.Tensor]:
        xb, yb = batch
        loss = ((model(xb).squeeze(1) - yb) ** 2).mean()
        if lr_boom:
            loss = loss * float("inf")
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss}

    return Loop(epochs, batches.set_epoch, step, {"model": model, "opt": opt}, ckpt)


def _fresh(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer]:
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def test_same_seed_same_result() -> None:
    runs = []
    for _ in range(2):
        model, opt = _fresh(3)
        runs.append(_loop(model, opt, 3, None).run())
    assert runs[0] == runs[1]
    model, opt = _fresh(4)
    assert _loop(model, opt, 3, None).run() != runs[0]


def test_resume_gives_the_same_history_as_one_run(tmp_path: Path) -> None:
    model, opt = _fresh()
    straight = _loop(model, opt, 4, None).run()
    model, opt = _fresh()
    _loop(model, opt, 2, tmp_path / "ckpt.pt").run()
    model, opt = _fresh(99)  # other init: everything must come from the checkpoint
    resumed = _loop(model, opt, 4, tmp_path / "ckpt.pt").run()
    assert len(resumed) == 4
    for a, b in zip(straight, resumed):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    with pytest.raises(AlreadyFinished) as info:
        _loop(model, opt, 4, tmp_path / "ckpt.pt").run()
    assert len(info.value.args[0]) == 4
    assert straight[-1]["loss"] < straight[0]["loss"]


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    model, opt = _fresh()
    ckpt = tmp_path / "ckpt.pt"
    _loop(model, opt, 1, ckpt).run()
    before = ckpt.read_bytes()
    with pytest.raises(DivergenceError, match="diverged at epoch 2"):
        _loop(model, opt, 3, ckpt, lr_boom=True).run()
    assert ckpt.read_bytes() == before


def test_device_choice() -> None:
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            select_device("cuda")


def test_tensor_batches_cover_every_item_once() -> None:
    x = torch.arange(10)
    seen = torch.cat([b[0] for b in TensorBatches(x, batch_size=3, seed=5)])
    assert sorted(seen.tolist()) == list(range(10))
    assert len(TensorBatches(x, batch_size=3, drop_last=True)) == 3


def _train(fabric) -> dict:  # noqa: ANN001 - runs in each DDP process
    model, opt = _fresh()
    model, opt = fabric.setup(model, opt)
    history = _loop(model, opt, 2, None, rank=fabric.global_rank, world=fabric.world_size).run()
    return {
        "world": fabric.world_size,
        "losses": [h["loss"] for h in history],
        "shape": tuple(model(torch.zeros(5, 8)).shape),
    }


def test_ddp_on_two_cpu_processes_matches_one_process() -> None:
    single = make_fabric("cpu", devices=1).launch(_train)
    double = make_fabric("cpu", devices=2).launch(_train)
    assert single["world"] == 1 and double["world"] == 2
    assert double["shape"] == single["shape"] == (5, 1)
    assert len(double["losses"]) == 2 and all(math.isfinite(v) for v in double["losses"])
    assert double["losses"][-1] < double["losses"][0] * 1.5


def _reduce_logs(fabric) -> dict:  # noqa: ANN001 - runs in each DDP process
    rank = fabric.global_rank
    return all_reduce_means(fabric)({"loss": float(rank), "acc": 1.0 + 2 * rank})


def test_epoch_logs_are_averaged_over_processes() -> None:
    assert make_fabric("cpu", devices=2).launch(_reduce_logs) == {"loss": 0.5, "acc": 2.0}
