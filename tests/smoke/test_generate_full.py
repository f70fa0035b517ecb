"""The practical's GAN setting on the complete MNIST (issue 16): 60,000 training digits, batch 128, nz 100,
ngf = ndf = 32, Adam 2e-4 / beta1 0.5, a 3-epoch budget instead of the default 50. Tens of minutes on a
2-core CPU: marked slow (`make bench`), skipped without `$VISIONLAB_TEST_DATA/mnist`."""

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
    assert m["samples/label_acc_check"] >= 0.98 and m["samples/label_acc"] >= 0.98
    assert m["samples/fd"] <= 3 * m["real/fd_floor"]


def test_full_mnist_dcgan_draws_every_digit(cli, tmp_path) -> None:  # noqa: ANN001
    m = _run(cli, tmp_path, "dcgan")
    assert m["samples/class_min_share"] >= 0.07 and m["samples/class_min_share_check"] >= 0.07
