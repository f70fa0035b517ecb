"""InfoGAN's categorical code in the DCGAN (Chen et al. 2016) by hand: the code read from the noise, G reading
only its one-hot, D's Q head, the step's information term and the options' validation; and feature matching
(Salimans et al. 2016), which uses the same features of D."""

from __future__ import annotations

import math
import re

import pytest
import torch

from visionlab.errors import UsageError
from visionlab.generate.commands import DcganConfig, SweepConfig
from visionlab.generate.nets import DSpec, Generator, build, latent_code
from visionlab.generate.sampler import fixed_inputs
from visionlab.generate.steps import StepSettings, feature_matching_loss, make_step, packed, relativistic_losses
from visionlab.generate.train import d_spec, step_settings


def test_the_code_of_gaussian_noise_is_uniform_over_its_values() -> None:
    z = torch.randn(200_000, 20, generator=torch.Generator().manual_seed(0))
    shares = torch.bincount(latent_code(z, 10), minlength=10).float() / len(z)
    # one share's standard deviation is sqrt(0.1 * 0.9 / 200000) = 0.00067: 0.004 is six of them
    assert torch.allclose(shares, torch.full((10,), 0.1), atol=0.004)
    assert latent_code(torch.tensor([[0.1, 2.0, -1.0, 5.0]]), 3).tolist() == [1]  # entries past the code ignored


def test_a_coded_generator_reads_the_one_hot_of_the_code_not_the_entries_themselves() -> None:
    torch.manual_seed(0)
    g = Generator(nz=8, ngf=4, nc=1, codes=3).eval()
    z = torch.randn(1, 8)
    same_code = z.clone()
    same_code[0, :3] = torch.tensor([0.0, 0.0, 0.0])
    same_code[0, int(latent_code(z, 3))] = 9.0  # other values, the same argmax
    other_code = same_code.clone()
    other_code[0, :3] = other_code[0, :3].roll(1)
    with torch.no_grad():
        assert torch.equal(g(z), g(same_code))
        assert not torch.allclose(g(z), g(other_code))
        # by hand: the plain network on [one-hot, rest]
        rest = torch.cat([torch.nn.functional.one_hot(latent_code(z, 3), 3).float(), z[:, 3:]], dim=1)
        assert torch.allclose(g(z), g.net(rest.view(1, 8, 1, 1)))
    with pytest.raises(ValueError, match="needs nz > 8"):
        Generator(nz=8, codes=8)


def test_the_q_head_shares_ds_features_and_leaves_ds_logit_as_it_was() -> None:
    torch.manual_seed(0)
    _, d = build(False, 8, 4, 4, 1, spec=DSpec(codes=5))
    _, plain = build(False, 8, 4, 4, 1)
    d.eval()
    x = torch.randn(3, 1, 32, 32)
    logit, h, q = d(x, parts=True)
    assert q.shape == (3, 5) and torch.equal(logit, d(x))
    assert torch.equal(h, d.net[:-1](x)) and h.shape == (3, 16, 4, 4)
    assert torch.allclose(q, d.q(h).flatten(1))
    assert plain.q is None and plain(x, parts=True)[2] is None


def test_the_information_term_adds_the_cross_entropy_of_qs_guess_to_both_losses() -> None:
    """A Q head with zero weights and bias guesses uniformly: its cross-entropy is ln K whatever the code, so
    with learning rate 0 (the same networks and noise for both steps) the coded step's two losses are the plain
    step's plus ln 10, and Q reads the code back at chance."""
    torch.manual_seed(0)
    g, d = build(False, 16, 4, 4, 1, spec=DSpec(codes=10))
    torch.nn.init.zeros_(d.q.weight)
    torch.nn.init.zeros_(d.q.bias)
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=0.0), torch.optim.SGD(d.parameters(), lr=0.0)
    batch = (torch.randn(8, 1, 32, 32), torch.zeros(8, dtype=torch.long))
    logs = {}
    for codes in (0, 10):
        settings = StepSettings(nz=16, g_loss="non-saturating", codes=codes)
        step = make_step(g, d, opt_g, opt_d, settings, noise=torch.Generator().manual_seed(3))
        logs[codes] = step(batch, 0.0)
    assert "code_acc" not in logs[0]
    for key in ("loss_d", "loss_g"):
        assert logs[10][key].item() == pytest.approx(logs[0][key].item() + math.log(10), rel=1e-6)
    assert logs[10]["d_fake"].item() == pytest.approx(logs[0]["d_fake"].item(), rel=1e-6)
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(3))
    # argmax of ten equal logits is 0: the accuracy is the share of code 0 in the batch
    assert logs[10]["code_acc"].item() == pytest.approx((latent_code(z, 10) == 0).float().mean().item())


def test_training_with_the_information_term_makes_the_code_readable() -> None:
    """G and Q both lower Q's cross-entropy: within 80 steps on noise images Q reads the code far above the 1/4
    of chance."""
    torch.manual_seed(0)
    g, d = build(False, 12, 8, 8, 1, spec=DSpec(codes=4))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    step = make_step(g, d, opt_g, opt_d, StepSettings(nz=12, g_loss="non-saturating", codes=4))
    real = torch.rand(32, 1, 32, 32) * 2 - 1
    accs = [step((real, torch.zeros(32, dtype=torch.long)), 0.0)["code_acc"].item() for _ in range(80)]
    assert sum(accs[-10:]) / 10 > 0.9


def test_the_config_reaches_the_networks_and_the_step() -> None:
    cfg = DcganConfig(device="cpu", info_codes=10)
    cfg.validate()
    assert d_spec(cfg).codes == 10 and step_settings(cfg, 0).codes == 10
    assert step_settings(DcganConfig(device="cpu"), 0).codes == 0


@pytest.mark.parametrize(
    ("config", "fields", "says"),
    [
        (DcganConfig, {"info_codes": 1}, "--info-codes must be 0 or >= 2"),
        (DcganConfig, {"info_codes": 10, "nz": 10}, "needs a noise larger than the code, got --nz 10"),
        (DcganConfig, {"info_codes": 10, "pack": 2}, "--pack judges images in groups"),
        (SweepConfig, {"info_codes": 10, "param": "nz=2,100"}, "got --nz 2"),
    ],
)
def test_bad_code_options_are_refused(config, fields, says) -> None:  # noqa: ANN001
    with pytest.raises(UsageError, match=re.escape(says)):
        config(device="cpu", **fields).validate()


def test_the_progress_frames_of_a_coded_g_show_one_row_of_eight_per_code_value() -> None:
    z, y = fixed_inputs(12, 0, 0, torch.device("cpu"), codes=3)
    assert y is None and z.shape == (24, 12)
    assert latent_code(z, 3).tolist() == [0] * 8 + [1] * 8 + [2] * 8
    many, _ = fixed_inputs(40, 0, 0, torch.device("cpu"), codes=30)
    assert len(many) == 8 * 16 and latent_code(many, 30).max().item() == 15


def test_feature_matching_adds_the_weighted_gap_of_the_mean_features_to_gs_loss() -> None:
    """With learning rate 0 both steps see the same networks and noise: the G loss with weight 0.5 is the plain
    one plus 0.5 x the mean over D's 4x4 features of (mean over real images - mean over generated images)^2."""
    torch.manual_seed(0)
    g, d = build(False, 8, 4, 4, 1, spec=DSpec(pack=2))
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=0.0), torch.optim.SGD(d.parameters(), lr=0.0)
    batch = (torch.randn(6, 1, 32, 32), torch.zeros(6, dtype=torch.long))
    logs = {}
    for weight in (0.0, 0.5):
        settings = StepSettings(nz=8, g_loss="non-saturating", pack=2, feature_matching=weight)
        step = make_step(g, d, opt_g, opt_d, settings, noise=torch.Generator().manual_seed(5))
        logs[weight] = step(batch, 0.0)
    with torch.no_grad():
        fake = g(torch.randn(6, 8, generator=torch.Generator().manual_seed(5)))
        real_h, fake_h = d.net[:-1](packed(batch[0], 2)), d.net[:-1](packed(fake, 2))
        gap = ((real_h.mean(0) - fake_h.mean(0)) ** 2).mean().item()
    assert gap > 0
    assert logs[0.5]["loss_g"].item() == pytest.approx(logs[0.0]["loss_g"].item() + 0.5 * gap, rel=1e-5)
    assert feature_matching_loss(real_h, real_h).item() == 0
    assert step_settings(DcganConfig(device="cpu", feature_matching=0.5), 0).feature_matching == 0.5
    with pytest.raises(UsageError, match="--feature-matching must be >= 0"):
        DcganConfig(device="cpu", feature_matching=-1.0).validate()


def test_the_relativistic_pair_by_hand_and_in_a_step() -> None:
    """RaSGAN's losses on two logits each, by hand; a step with learning rate 0 gives D's loss on the step's own
    logits and G's from D's logits on the real and generated batch."""
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    loss_d, loss_g = relativistic_losses(real, fake)
    sp = torch.nn.functional.softplus  # BCE with target 1 is softplus(-l), with target 0 softplus(l)
    r, f = real - fake.mean(), fake - real.mean()  # [2, 0] and [-2, 0]
    assert loss_d.item() == pytest.approx((sp(-r).mean() + sp(f).mean()).item())
    assert loss_g.item() == pytest.approx((sp(-f).mean() + sp(r).mean()).item())
    assert loss_d.item() == pytest.approx(2 * (math.log1p(math.exp(-2)) + math.log(2)) / 2)
    torch.manual_seed(0)
    g, d = build(False, 8, 4, 4, 1)
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=0.0), torch.optim.SGD(d.parameters(), lr=0.0)
    batch = (torch.randn(6, 1, 32, 32), torch.zeros(6, dtype=torch.long))
    settings = StepSettings(nz=8, g_loss="non-saturating", relativistic=True)
    logs = make_step(g, d, opt_g, opt_d, settings, noise=torch.Generator().manual_seed(2))(batch, 0.0)
    with torch.no_grad():
        fake_images = g(torch.randn(6, 8, generator=torch.Generator().manual_seed(2)))
        real_logit, fake_logit = d(batch[0]), d(fake_images)
        want_d, want_g = relativistic_losses(real_logit, fake_logit)
    assert logs["loss_d"].item() == pytest.approx(want_d.item(), rel=1e-5)
    # the logged D(x) and D(G(z)) are relative too: sigmoid(C(x) - mean C(G(z))), sigmoid(C(G(z)) - mean C(x))
    assert logs["d_real"].item() == pytest.approx(torch.sigmoid(real_logit - fake_logit.mean()).mean().item())
    assert logs["d_fake"].item() == pytest.approx(torch.sigmoid(fake_logit - real_logit.mean()).mean().item())
    assert logs["loss_g"].item() == pytest.approx(want_g.item(), rel=1e-5)
    assert step_settings(DcganConfig(device="cpu", relativistic=True), 0).relativistic
    for config, fields in ((DcganConfig, {"g_loss": "minimax"}), (SweepConfig, {"param": "g_loss=minimax"})):
        with pytest.raises(UsageError, match="--relativistic brings its own G loss"):
            config(device="cpu", relativistic=True, **fields).validate()
