"""Sample metrics on data with a known answer: Frechet distance, KID, class histograms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionlab.generate.distances import frechet_distance, kid
from visionlab.generate.metrics import (
    DigitClassifier,
    Reference,
    class_histogram,
    digit_metrics,
    entropy,
    sample_readings,
)


def _gauss(n: int, d: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * scale


def test_frechet_of_a_set_with_itself_is_zero() -> None:
    a = _gauss(2000, 8, 0)
    assert abs(frechet_distance(a, a)) < 1e-6


def test_frechet_of_two_draws_of_one_gaussian_is_small() -> None:
    assert frechet_distance(_gauss(4000, 8, 0), _gauss(4000, 8, 1)) < 0.05


def test_frechet_of_a_shifted_set_is_the_squared_shift() -> None:
    a = _gauss(2000, 8, 0)
    shift = np.arange(8) * 0.5  # squared norm: 0.25 * (0 + 1 + ... + 49) = 35
    assert frechet_distance(a, a + shift) == pytest.approx(float((shift**2).sum()), rel=1e-6)


def test_frechet_of_scaled_gaussians_matches_the_closed_form() -> None:
    # N(0, I) against N(0, 4 I) in d dims: tr(I + 4 I - 2 * 2 I) = d
    assert frechet_distance(_gauss(20000, 4, 0), _gauss(20000, 4, 1, scale=2.0)) == pytest.approx(4.0, abs=0.25)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift() -> None:
    same, same_std = kid(_gauss(1500, 16, 0), _gauss(1500, 16, 1), subsets=20, size=500)
    shifted, _ = kid(_gauss(1500, 16, 0), _gauss(1500, 16, 1) + 1.0, subsets=20, size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 50 * abs(same) and shifted > 0.1


def test_kid_is_unbiased_so_it_can_go_below_zero() -> None:
    values = [kid(_gauss(300, 4, s), _gauss(300, 4, s + 100), subsets=5, size=300)[0] for s in range(10)]
    assert min(values) < 0 < max(values)


def test_entropy_of_a_uniform_histogram_is_log_10_and_of_one_class_is_zero() -> None:
    assert entropy(np.full(10, 0.1)) == pytest.approx(math.log(10))
    assert entropy(np.eye(10)[3]) == 0.0


def test_class_histogram_counts_shares() -> None:
    shares = class_histogram(torch.tensor([0, 0, 1, 9]))
    assert shares.tolist() == [0.5, 0.25] + [0.0] * 7 + [0.25]


def test_digit_classifier_features_are_the_penultimate_layer() -> None:
    model = DigitClassifier().eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    f = model.features(x)
    assert f.shape == (3, 128) and torch.allclose(model.head(f), model(x))


def test_the_real_digits_rarest_share_is_read_from_their_features_beside_the_samples() -> None:
    """A classifier whose head reads the argmax of the first 10 features: 200 real digits with digit 7 at 5%
    (10 of them) give real/class_min_share 0.05, whatever the samples read (here every digit 10%)."""
    model = DigitClassifier().eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.weight[:, :10] = torch.eye(10)
        model.head.bias.zero_()
    real_digits = torch.tensor([7] * 10 + [d for d in range(10) if d != 7] * 22)[:200]
    real = torch.nn.functional.one_hot(real_digits, 128).float()
    ref = Reference(model, 0.99, torch.randn(50, 128), real)
    samples = torch.zeros(100, 1, 32, 32, dtype=torch.uint8)
    readings = sample_readings(ref, samples, None, torch.arange(200))
    assert torch.equal(readings.real_predicted, real_digits)
    readings.predicted = torch.arange(100) % 10
    out = digit_metrics(readings, subsets=2, rows=50)
    assert out["real/class_min_share"] == pytest.approx(10 / 200)
    assert out["samples/class_min_share"] == pytest.approx(0.1)
