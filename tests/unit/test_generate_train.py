"""GAN training through Fabric: two DDP processes against one on a case with a known answer; bf16-mixed on the CPU."""

from __future__ import annotations

import math

import torch
from torch import nn

from visionlab.engine import Loop, TensorBatches, all_reduce_means, launch, rank_world, seed_everything
from visionlab.generate.steps import StepSettings, make_step


class _ConstantG(nn.Module):
    """A generator that ignores its noise (a learned image): every process then makes the same fakes."""

    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Parameter(torch.randn(1, 1, 4, 4))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.image).expand(len(z), -1, -1, -1)


def _train_blind_gan(fabric) -> dict[str, list[float]]:  # noqa: ANN001 - runs in each DDP process
    """Three epochs of the GAN step on 16 fixed images, global batch 8, without batch norm."""
    rank, world = rank_world(fabric)
    seed_everything(0)
    real = torch.linspace(-1, 1, 16 * 16).view(16, 1, 4, 4)
    g, d = _ConstantG(), nn.Sequential(nn.Flatten(), nn.Linear(16, 1), nn.Flatten(0))
    opt_g, opt_d = torch.optim.Adam(g.parameters(), lr=0.05), torch.optim.Adam(d.parameters(), lr=0.05)
    g_f, opt_g_f = fabric.setup(g, opt_g)
    d_f, opt_d_f = fabric.setup(d, opt_d)
    step = make_step(g_f, d_f, opt_g_f, opt_d_f, StepSettings(nz=3, g_loss="non-saturating"), fabric.backward)
    batches = TensorBatches(real, torch.zeros(16, dtype=torch.long), batch_size=8, seed=1, rank=rank, world=world)
    loop = Loop(epochs=3, batches=batches.set_epoch, step=step, state={}, reduce=all_reduce_means(fabric))
    result = loop.run()
    return {
        "g": g.image.detach().flatten().tolist(),
        "d": [p for t in d.parameters() for p in t.detach().flatten().tolist()],
        "loss_d": [h["loss_d"] for h in result.history],
    }


def test_two_ddp_processes_train_the_gan_step_as_one_process_does() -> None:
    """Each process takes half of every global batch and DDP averages the gradients: the same Adam steps on
    D and G as one process on the whole batch (the noise does not matter here: G ignores it)."""
    one = launch(_train_blind_gan, device="cpu", devices=1)
    two = launch(_train_blind_gan, device="cpu", devices=2)
    for key in ("g", "d", "loss_d"):
        assert torch.allclose(torch.tensor(one[key]), torch.tensor(two[key]), atol=1e-5), key
    seed_everything(0)
    assert not torch.allclose(torch.tensor(one["g"]), _ConstantG().image.detach().flatten())  # it did train
    assert len(one["loss_d"]) == 3


def _noise_data():  # noqa: ANN202
    from visionlab.generate.data import GanData

    gen = torch.Generator().manual_seed(0)
    images = torch.rand(64, 1, 32, 32, generator=gen) * 2 - 1
    return GanData(images, torch.zeros(64, dtype=torch.long), ["x"], None, None, "noise", classifier_set=None)


def test_bf16_mixed_trains_a_dcgan_on_the_cpu_with_finite_losses(tmp_path) -> None:  # noqa: ANN001
    from visionlab.generate.commands import DcganConfig
    from visionlab.generate.train import train_gan
    from visionlab.runs import Run

    histories = {}
    for precision in ("32-true", "bf16-mixed"):
        cfg = DcganConfig(precision=precision, epochs=1, batch_size=32, ngf=8, ndf=8, nz=16, device="cpu")
        seed_everything(0)
        run = Run.open(tmp_path / precision, "generate dcgan", {})
        histories[precision] = train_gan(cfg, run, _noise_data(), conditional=False).history
    low, full = histories["bf16-mixed"][0], histories["32-true"][0]
    assert all(math.isfinite(low[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake"))
    # the same seed and batches: bf16 autocast changes the numbers a little, not the course of training
    # (one metric alone can round to the same float32 value: seen for loss_d, so all four are compared)
    keys = ("loss_d", "loss_g", "d_real", "d_fake")
    assert any(low[k] != full[k] for k in keys)
    assert all(abs(low[k] - full[k]) < 0.1 for k in keys)


def test_every_sweep_variant_trains_from_the_same_seed_as_the_dcgan_command(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """`lr=0.0002,2e-4` names one setting twice: both variants must train to the same G, and that G must be the
    one a plain DCGAN training of the same config gives, whatever drew from torch's generators before."""
    from visionlab.engine import load_checkpoint
    from visionlab.generate import sweep
    from visionlab.generate.commands import DcganConfig, SweepConfig
    from visionlab.generate.train import train_gan
    from visionlab.runs import Run

    monkeypatch.setattr(sweep, "load_data", lambda cfg, run: _noise_data())
    small = {"epochs": 2, "batch_size": 32, "ngf": 8, "ndf": 8, "nz": 16, "samples": 10, "device": "cpu", "seed": 3}
    seed_everything(0)
    run = Run.open(tmp_path / "sweep", "generate sweep", {})
    out = sweep.run(SweepConfig(param="lr=0.0002,2e-4", **small), run)
    first, second = (load_checkpoint(run.checkpoints / f"{v}.pt") for v in ("lr-0.0002", "lr-2e-4"))
    keys = ("loss_d", "loss_g", "d_real", "d_fake")
    assert [out[f"lr-0.0002/{k}"] for k in keys] == [out[f"lr-2e-4/{k}"] for k in keys]
    assert first["history"] == second["history"] and len(first["history"]) == 2
    for net in ("G", "D"):
        for name, weight in first["state"][net].items():
            assert torch.equal(weight, second["state"][net][name]), (net, name)
    torch.rand(7)  # another draw from the default stream must not matter
    plain = train_gan(DcganConfig(**small), Run.open(tmp_path / "dcgan", "generate dcgan", {}), _noise_data(), False)
    assert plain.history == first["history"]
    assert all(torch.equal(w, first["state"]["G"][k]) for k, w in plain.g.state_dict().items())
