"""generate on a device other than the CPU: a DCGAN and a CGAN training step, the sampler, interpolation and
the sample metrics, with nets and data on the meta device (see conftest.py)."""

from __future__ import annotations

import pytest
import torch

from tests.device.conftest import on
from visionlab.engine import device_generator
from visionlab.generate.check import Check, CheckClassifier, check_step
from visionlab.generate.ema import EmaGenerator, averaging
from visionlab.generate.evaluate import held_out_pick
from visionlab.generate.interpolate import strips
from visionlab.generate.metrics import DigitClassifier, Reference, sample_readings
from visionlab.generate.nets import DSpec, build
from visionlab.generate.sampler import fixed_inputs, sample_set
from visionlab.generate.steps import StepSettings, make_step
from visionlab.generate.train import RANK_NOISE_STRIDE

pytestmark = pytest.mark.device

CLASSES = [str(i) for i in range(10)]
PLAIN = DSpec()  # the practical's D


def _step(
    device: torch.device, settings: StepSettings, noise: torch.Generator | None = None, spec: DSpec = PLAIN
) -> dict:
    g, d = build(settings.classes > 0, settings.nz, 4, 4, 1, settings.classes, spec=spec)
    g, d = g.to(device), d.to(device)
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    step = make_step(g, d, opt_g, opt_d, settings, noise=noise)
    x = torch.empty(4, 1, 32, 32, device=device)
    labels = torch.zeros(4, dtype=torch.long, device=device)
    logs = step((x, labels), 0.0)
    on(device, *logs.values())
    return logs


def test_a_dcgan_step_keeps_every_tensor_on_the_device(strict_device: torch.device) -> None:
    logs = _step(strict_device, StepSettings(nz=8, g_loss="non-saturating"))
    assert set(logs) == {"loss_d", "loss_g", "d_real", "d_fake"}


def test_a_cgan_step_with_the_mismatch_and_mode_seeking_terms_stays_on_the_device(strict_device) -> None:  # noqa: ANN001
    _step(strict_device, StepSettings(nz=8, g_loss="minimax", classes=10, mismatch=0.5, mode_seeking=1.0))


def test_a_cgan_step_with_a_projection_d_and_smoothed_real_labels_stays_on_the_device(strict_device) -> None:  # noqa: ANN001
    settings = StepSettings(nz=8, g_loss="non-saturating", classes=10, mismatch=0.5, mode_seeking=1.0, real_label=0.9)
    _step(strict_device, settings, spec=DSpec(cond="projection"))


def test_a_dcgan_step_with_minibatch_std_and_packing_stays_on_the_device(strict_device: torch.device) -> None:
    settings = StepSettings(nz=8, g_loss="non-saturating", real_label=0.9, pack=2)
    _step(strict_device, settings, spec=DSpec(mbstd=2, pack=2))
    _step(strict_device, StepSettings(nz=8, g_loss="non-saturating"), spec=DSpec(mbstd=4))


def test_a_dcgan_step_with_an_infogan_code_and_feature_matching_stays_on_the_device(strict_device) -> None:  # noqa: ANN001
    settings = StepSettings(nz=8, g_loss="non-saturating", codes=3, feature_matching=1.0)
    logs = _step(strict_device, settings, spec=DSpec(codes=3))
    assert "code_acc" in logs
    z, _ = fixed_inputs(8, 0, 0, strict_device, codes=3)
    on(strict_device, z)


def test_a_relativistic_packed_dcgan_step_stays_on_the_device(strict_device: torch.device) -> None:
    settings = StepSettings(nz=8, g_loss="non-saturating", pack=2, relativistic=True, feature_matching=1.0)
    _step(strict_device, settings, spec=DSpec(pack=2))


def test_a_dcgan_step_with_the_r1_penalty_stays_on_the_device(strict_device: torch.device) -> None:
    _step(strict_device, StepSettings(nz=8, g_loss="non-saturating", pack=2, r1=1.0), spec=DSpec(pack=2))
    _step(strict_device, StepSettings(nz=8, g_loss="non-saturating", relativistic=True, r1=1.0))


def test_the_per_process_noise_of_ddp_is_drawn_on_the_device(strict_device: torch.device) -> None:
    from visionlab.engine import device_generator

    noise = device_generator(strict_device, 3 * RANK_NOISE_STRIDE + 1)
    _step(strict_device, StepSettings(nz=8, g_loss="non-saturating", classes=10, mode_seeking=1.0), noise)


def test_the_sampler_draws_and_generates_on_the_device(strict_device: torch.device) -> None:
    g, _ = build(True, 8, 4, 4, 1, 10)
    g = g.to(strict_device)
    images, labels = sample_set(g, 20, 8, 10, seed=0)
    on(strict_device, images, labels)
    assert images.shape == (20, 1, 32, 32) and images.dtype == torch.uint8
    z, y = fixed_inputs(8, 10, 0, strict_device)
    on(strict_device, z, y)
    assert z.shape == (100, 8) and y.shape == (100, 10)


def test_interpolation_strips_are_made_on_the_device(strict_device: torch.device) -> None:
    g, _ = build(True, 8, 4, 4, 1, 10)
    made, names, pairs = strips(g.to(strict_device), {"nz": 8, "classes": CLASSES, "kind": "cgan"}, 2, 3, 0)
    on(strict_device, *made)
    assert len(made) == 4 and pairs == [(0, 1), (1, 2)] and names[2] == "0 -> 1"


def test_the_sample_metrics_read_the_samples_on_the_device(strict_device: torch.device) -> None:
    ref = Reference(DigitClassifier(), 0.9, torch.zeros(50, 128), torch.zeros(30, 128)).to(strict_device)
    samples = torch.empty(20, 1, 32, 32, dtype=torch.uint8, device=strict_device)
    labels = torch.arange(20, device=strict_device) % 10
    readings = sample_readings(ref, samples, labels, torch.arange(20, device=strict_device))
    on(strict_device, readings.features, readings.real, readings.train, readings.predicted, readings.label_acc)
    assert readings.features.shape == (20, 128) and readings.real.shape == (20, 128)
    on(strict_device, held_out_pick(ref, 10, seed=0))


def test_the_moving_average_of_g_is_updated_on_the_device(strict_device: torch.device) -> None:
    settings = StepSettings(nz=8, g_loss="non-saturating", classes=10, mismatch=0.5, mode_seeking=1.0)
    g, d = build(True, 8, 4, 4, 1, 10)
    g, d = g.to(strict_device), d.to(strict_device)
    ema = EmaGenerator(g, 0.999)
    step = averaging(make_step(g, d, torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()), settings),
                     ema, g)  # fmt: skip
    x = torch.empty(4, 1, 32, 32, device=strict_device)
    logs = step((x, torch.zeros(4, dtype=torch.long, device=strict_device)), 0.0)
    on(strict_device, *logs.values(), *ema.parameters(), *ema.buffers())
    assert ema.updates == 1
    images, _ = sample_set(ema.model, 20, 8, 10, seed=0)
    on(strict_device, images)


def test_the_check_classifiers_step_warps_on_the_device(strict_device: torch.device) -> None:
    model = CheckClassifier().to(strict_device)
    step = check_step(model, torch.optim.Adam(model.parameters()), device_generator(strict_device, 1))
    x = torch.empty(8, 1, 32, 32, device=strict_device)
    logs = step((x, torch.zeros(8, dtype=torch.long, device=strict_device)), 0.0)
    on(strict_device, logs["loss"])
    read = Check(model, 0.99).predict(torch.empty(8, 1, 32, 32, dtype=torch.uint8, device=strict_device))
    on(strict_device, read)
    assert read.shape == (8,)
