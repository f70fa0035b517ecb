"""The label-free validator of `adapt select` on predictions whose IM score is known."""

from __future__ import annotations

import math

import pytest
import torch

from visionlab.adapt.select import entropy, information_maximization


def test_entropy_in_nats() -> None:
    assert float(entropy(torch.full((4,), 0.25))) == pytest.approx(math.log(4))
    assert float(entropy(torch.tensor([1.0, 0.0, 0.0]))) == pytest.approx(0.0)


def test_confident_and_diverse_predictions_score_log_k() -> None:
    probs = torch.eye(10).repeat(3, 1)  # one-hot, every class equally often
    im = information_maximization(probs)
    assert im["im"] == pytest.approx(math.log(10)) and im["im_entropy"] == pytest.approx(0.0)


def test_collapsed_or_unsure_predictions_score_zero() -> None:
    collapsed = torch.zeros(30, 10)
    collapsed[:, 3] = 1  # confident, but one class for everything
    assert information_maximization(collapsed)["im"] == pytest.approx(0.0)
    uniform = torch.full((30, 10), 0.1)  # diverse on average, but unsure
    assert information_maximization(uniform)["im"] == pytest.approx(0.0, abs=1e-6)


def test_sharper_predictions_score_higher() -> None:
    logits = torch.eye(10).repeat(5, 1) * 4
    assert information_maximization((2 * logits).softmax(1))["im"] > information_maximization(logits.softmax(1))["im"]


def test_augment_auto_resolves_to_the_choice_for_each_network() -> None:
    from visionlab.adapt.commands import DannConfig, SourceOnlyConfig

    chosen = {}
    for arch in ("bn", "canonical"):
        cfg = DannConfig(arch=arch)
        cfg.validate()
        chosen[arch] = cfg.augment
    assert chosen == {"bn": "colour", "canonical": "invert"}
    given = SourceOnlyConfig(arch="canonical", augment="none")
    given.validate()
    assert given.augment == "none"
