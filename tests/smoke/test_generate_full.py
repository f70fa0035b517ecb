"""The practical's GAN setting on the complete MNIST (issue 16): 60,000 training digits, batch 128, nz 100,
ngf = ndf = 32, Adam 2e-4 / beta1 0.5, a 3-epoch budget instead of the default 50, seed 0. Tens of minutes on
a 2-core CPU: marked slow (`make bench`), skipped without `$VISIONLAB_TEST_DATA/mnist`.

The bounds of the first two are levels measured with these commands (docs/results/generate.md), with room:
the CGAN's were measured with the practical's label-plane D (its projection D, the default now, gave 0.997 and
FD 12.4 against a floor of 4.6), the plain DCGAN's rarest digit stays far under 7%. The third runs the label-free
command that meets the DCGAN goal (every digit >= 7% of the samples) and asserts the goal itself."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_data

pytestmark = pytest.mark.slow


def _run(cli, tmp_path, kind: str) -> dict:  # noqa: ANN001
    out = tmp_path / kind
    args = ["generate", kind, "--data-root", shared_data("mnist"), "--epochs", "3", "--device", "cpu", "--out", out]
    assert cli(*args).code == 0
    m = json.loads((out / "metrics.json").read_text())
    # both classifiers that read the samples learnt the full training split and pass 99% on the test split
    assert m["classifier/train_images"] == 60000 and m["classifier/test_acc"] >= 0.99
    assert m["check/test_acc"] >= 0.99
    return m


def test_full_mnist_cgan_draws_its_requested_digits_close_to_the_real_floor(cli, tmp_path) -> None:  # noqa: ANN001
    m = _run(cli, tmp_path, "cgan")
    # measured: label accuracy 0.952 (evaluation classifier) / 0.965 (check classifier), FD 30.2, floor 4.6
    assert m["samples/label_acc_check"] >= 0.95 and m["samples/label_acc"] >= 0.94
    assert m["real/fd_floor"] < m["samples/fd"] <= 8 * m["real/fd_floor"]


def test_full_mnist_dcgan_draws_every_digit(cli, tmp_path) -> None:  # noqa: ANN001
    m = _run(cli, tmp_path, "dcgan")
    # measured: every digit present, the rarest at 3.7% (evaluation classifier) / 4.4% (check classifier)
    assert m["samples/digits_covered"] == 10 and m["samples/class_min_share_check"] >= 0.03


def test_full_mnist_dcgan_with_r1_and_packing_gives_every_digit_7_percent(cli, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "dcgan-r1"
    args = ["generate", "dcgan", "--data-root", shared_data("mnist"), "--epochs", "3", "--device", "cpu", "--out", out,
            "--batch-size", "16", "--pack", "2", "--r1", "1", "--ema", "0.999", "--samples", "10000"]  # fmt: skip
    assert cli(*args).code == 0
    m = json.loads((out / "metrics.json").read_text())
    # measured (seed 0, one thread): the moving average's rarest digit 0.077 / 0.081 of 10,000 samples
    # (seeds 0-6: >= 0.071 by both classifiers; this test, with classifiers trained afresh: 0.073 / 0.078)
    assert m["samples/count"] == 10000 and m["check/test_acc"] >= 0.99
    assert m["samples/class_min_share"] >= 0.07 and m["samples/class_min_share_check"] >= 0.07
    assert m["real/class_min_share"] >= 0.085  # all 10,000 real test digits: the rarest holds 9.0%
