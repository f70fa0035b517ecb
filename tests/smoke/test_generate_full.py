"""The practical's GAN setting on the complete MNIST (issue 16): 60,000 training digits, batch 128, nz 100,
ngf = ndf = 32, Adam 2e-4 / beta1 0.5, a 3-epoch budget instead of the default 50, seed 0. Tens of minutes on
a 2-core CPU: marked slow (`make bench`), skipped without `$VISIONLAB_TEST_DATA/mnist`.

The bounds are the levels measured with these commands (docs/results/generate.md), with a little room; they
are below the issue's goals (CGAN >= 0.98 by the check classifier and FD <= 3x the floor, DCGAN every digit
>= 7%), which the code does not reach yet at this budget."""

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
