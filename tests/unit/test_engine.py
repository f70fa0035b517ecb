"""Engine: seeds, the loop (checkpoints, resume, NaN stops), batches, precision, DDP on two CPU processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from visionlab.engine import (
    Loop,
    PairedBatches,
    TensorBatches,
    all_reduce_means,
    device_generator,
    eval_mode,
    launch,
    load_checkpoint,
    make_fabric,
    predict_chunks,
    seed_everything,
    select_device,
)
from visionlab.errors import DivergenceError, MissingDataError, UsageError


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
    backward=None,  # noqa: ANN001 - Fabric's backward under DDP
) -> Loop:
    x, y = _problem()
    batches = TensorBatches(x, y, batch_size=32, seed=1, rank=rank, world=world)
    backward = backward or (lambda loss: loss.backward())

    def step(batch: tuple[torch.Tensor, torch.Tensor], p: float) -> dict[str, torch.Tensor]:
        xb, yb = batch
        loss = ((model(xb).squeeze(1) - yb) ** 2).mean()
        if lr_boom:
            loss = loss * float("inf")
        opt.zero_grad()
        backward(loss)
        opt.step()
        return {"loss": loss}

    return Loop(epochs, batches.set_epoch, step, {"model": model, "opt": opt}, ckpt)


def _fresh(seed: int = 0, dropout: float = 0.1) -> tuple[nn.Module, torch.optim.Optimizer]:
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 1))
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def test_same_seed_same_result() -> None:
    runs = []
    for _ in range(2):
        model, opt = _fresh(3)
        runs.append(_loop(model, opt, 3, None).run().history)
    assert runs[0] == runs[1]
    model, opt = _fresh(4)
    assert _loop(model, opt, 3, None).run().history != runs[0]


def test_resume_gives_the_same_history_as_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, opt = _fresh()
    straight = _loop(model, opt, 4, None).run()
    assert straight.start_epoch == 0 and straight.steps == 4 * 8 and not straight.already_finished
    model, opt = _fresh()
    _loop(model, opt, 2, tmp_path / "ckpt.pt").run()
    model, opt = _fresh(99)  # other init: everything must come from the checkpoint
    resumed = _loop(model, opt, 4, tmp_path / "ckpt.pt").run()
    assert "resuming after epoch 2 of 4" in capsys.readouterr().out
    assert resumed.start_epoch == 2 and resumed.steps == 2 * 8 and len(resumed.history) == 4
    for a, b in zip(straight.history, resumed.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    again = _loop(model, opt, 4, tmp_path / "ckpt.pt").run()
    assert again.already_finished and again.steps == 0 and again.history == resumed.history
    assert "already trained (4 epochs" in capsys.readouterr().out
    assert straight.history[-1]["loss"] < straight.history[0]["loss"]


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    model, opt = _fresh()
    ckpt = tmp_path / "ckpt.pt"
    _loop(model, opt, 1, ckpt).run()
    before = ckpt.read_bytes()
    with pytest.raises(DivergenceError, match="diverged at epoch 2"):
        _loop(model, opt, 3, ckpt, lr_boom=True).run()
    assert ckpt.read_bytes() == before


def test_a_corrupt_checkpoint_is_named(tmp_path: Path) -> None:
    ckpt = tmp_path / "gan.pt"
    ckpt.write_bytes(b"\x00 not a checkpoint" * 10)
    with pytest.raises(MissingDataError, match=r"checkpoint .*gan\.pt is unreadable") as info:
        load_checkpoint(ckpt)
    assert info.value.code == 3 and "--force" in str(info.value)


def test_device_choice() -> None:
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            select_device("cuda")


def test_device_generator_is_the_seeded_stream_of_its_device() -> None:
    g = device_generator("cpu", 7)
    assert g is not None and g.device.type == "cpu"
    assert torch.equal(torch.rand(5, generator=g), torch.rand(5, generator=torch.Generator().manual_seed(7)))
    assert device_generator("meta", 7) is None


def test_tensor_batches_cover_every_item_once() -> None:
    x = torch.arange(10)
    seen = torch.cat([b[0] for b in TensorBatches(x, batch_size=3, seed=5)])
    assert sorted(seen.tolist()) == list(range(10))
    assert len(TensorBatches(x, batch_size=3, drop_last=True)) == 3


def test_each_process_takes_its_slice_of_every_global_batch() -> None:
    x = torch.arange(20)
    whole = [b[0] for b in TensorBatches(x, batch_size=8, seed=3, drop_last=True).set_epoch(2)]
    parts = [[b[0] for b in TensorBatches(x, batch_size=8, seed=3, drop_last=True, rank=r, world=2).set_epoch(2)]
             for r in range(2)]  # fmt: skip
    assert len(parts[0]) == len(parts[1]) == len(whole) == 2
    for i, batch in enumerate(whole):
        assert torch.equal(parts[0][i], batch[0::2]) and torch.equal(parts[1][i], batch[1::2])
    # a last batch of one item cannot be shared by two processes: both skip it (same number of steps)
    assert len(TensorBatches(torch.arange(9), batch_size=4, world=2, rank=1)) == 2
    assert len(TensorBatches(torch.arange(10), batch_size=4, world=2, rank=1)) == 3


def test_paired_batches_cycle_the_second_set_and_refuse_an_empty_one() -> None:
    first = TensorBatches(torch.arange(12), batch_size=2, seed=1)
    second = TensorBatches(torch.arange(100, 105), batch_size=2, seed=2, drop_last=True)  # 2 batches per pass
    batches = list(PairedBatches(first, second).set_epoch(0))
    assert len(batches) == 6 and all(len(b) == 2 for b in batches)
    assert sorted(torch.cat([a for a, _ in batches]).tolist()) == list(range(12))
    seconds = [b.tolist() for _, b in batches]
    for k in range(0, 6, 2):  # every pass over the second set uses 4 of its 5 items, none twice
        assert len(set(seconds[k] + seconds[k + 1])) == 4
    assert seconds[0:2] != seconds[2:4] or seconds[2:4] != seconds[4:6]  # reshuffled between passes
    with pytest.raises(UsageError, match=r"target has 3 item\(s\), fewer than one batch of 4"):
        PairedBatches(first, TensorBatches(torch.arange(3), batch_size=4, drop_last=True, name="the target"))


def test_predict_chunks_and_eval_mode() -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5)).train()
    x = torch.randn(1234, 3)
    with eval_mode(net):
        assert not net.training
        out = predict_chunks(net, x, chunk=500)
        pair = predict_chunks(lambda b: (b.sum(1), b[:, :1]), x, chunk=100)
    assert net.training  # restored
    assert torch.allclose(out, net[0](x).detach(), atol=1e-6)  # dropout was off: the plain linear layer
    assert torch.allclose(pair[0], x.sum(1)) and pair[1].shape == (1234, 1)


class _Probe(nn.Module):
    """A linear layer that records the dtype its matmul ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 1)
        self.seen: list[torch.dtype] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lin(x)
        self.seen.append(out.dtype)
        return out


def _bf16_step(fabric) -> tuple[list[torch.dtype], float, float]:  # noqa: ANN001
    torch.manual_seed(0)
    model = _Probe()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model_f, opt_f = fabric.setup(model, opt)
    x, y = _problem()
    losses = []
    for _ in range(30):
        loss = ((model_f(x).squeeze(1).float() - y) ** 2).mean()
        opt_f.zero_grad()
        fabric.backward(loss)
        opt_f.step()
        losses.append(float(loss.detach()))
    return model.seen[:1], losses[0], losses[-1]


def test_bf16_mixed_runs_the_forward_in_bfloat16_on_the_cpu() -> None:
    seen, first, last = launch(_bf16_step, device="cpu", precision="bf16-mixed")
    assert seen == [torch.bfloat16]  # autocast was active inside the wrapped forward
    assert last < first / 4  # and training still works
    seen32, _, _ = launch(_bf16_step, device="cpu", precision="32-true")
    assert seen32 == [torch.float32]
    with pytest.raises(UsageError, match="16-mixed needs a CUDA GPU"):
        make_fabric("cpu", precision="16-mixed")


def _train_linear(fabric) -> list[list[float]]:  # noqa: ANN001 - runs in each DDP process
    model, opt = _fresh(dropout=0.0)  # no dropout: the only randomness is the shared batch order
    model_f, opt_f = fabric.setup(model, opt)
    _loop(model_f, opt_f, 2, None, rank=fabric.global_rank, world=fabric.world_size, backward=fabric.backward).run()
    return [p.detach().flatten().tolist() for p in model.parameters()]


def test_ddp_on_two_cpu_processes_matches_one_process() -> None:
    """Two processes, each with half of every global batch, average their gradients: the same SGD steps as one
    process on the whole batch, so the trained weights agree to float rounding."""
    single = launch(_train_linear, device="cpu", devices=1)
    double = launch(_train_linear, device="cpu", devices=2)
    for a, b in zip(single, double):
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-5)
    model, _ = _fresh(dropout=0.0)
    assert not torch.allclose(torch.tensor(single[0]), model[0].weight.detach().flatten())  # it did train


def _reduce_logs(fabric) -> dict:  # noqa: ANN001 - runs in each DDP process
    rank = fabric.global_rank
    return all_reduce_means(fabric)({"loss": float(rank), "acc": 1.0 + 2 * rank})


def test_epoch_logs_are_averaged_over_processes() -> None:
    assert launch(_reduce_logs, device="cpu", devices=2) == {"loss": 0.5, "acc": 2.0}


def _refuse_on_every_rank(fabric) -> None:  # noqa: ANN001 - runs in each DDP process
    raise UsageError(f"bad value on rank {fabric.global_rank}", "fix it")


def test_a_user_error_in_a_spawned_process_reaches_the_caller_as_itself() -> None:
    with pytest.raises(UsageError, match=r"bad value on rank 0 \(fix it\)"):
        launch(_refuse_on_every_rank, device="cpu", devices=2)
