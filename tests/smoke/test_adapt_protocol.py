"""The paper's protocol on real data (issue 16): full MNIST -> MNIST-M with Ganin's network, no augmentation.

Slow (about 4 minutes of one CPU core per epoch of the three methods; the default network 40 minutes) and
skipped without the real data. `make bench` runs it. The full tables (3 seeds) are in docs/results/adapt.md;
these run their seed 0.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import shared_data

pytestmark = pytest.mark.slow


def test_dann_beats_both_baselines_on_the_papers_protocol(cli, tmp_path) -> None:
    out = tmp_path / "protocol"
    r = cli(
        "adapt", "dann", "--baselines", "--arch", "canonical", "--augment", "none", "--epochs", "3", "--tsne", "0",
        "--data-root", shared_data("mnist"), "--target-root", shared_data("mnist_m"), "--device", "cpu", "--out", out,
    )  # fmt: skip
    assert r.code == 0, r.err
    m = json.loads((out / "metrics.json").read_text())
    data = json.loads((out / "config.json").read_text())["data"]
    assert "60000 train images used" in data and "9001 test images" in data  # the full source, the whole target test
    # seed 0 of the table in docs/results/adapt.md: DANN 0.690, source only 0.601, without GRL 0.528
    assert m["target/acc"] >= 0.66  # the paper's source-only number is 0.52, its DANN 0.77
    assert m["target/acc"] > m["source_only/target/acc"] + 0.05
    assert m["target/acc"] > m["no_grl/target/acc"] + 0.10
    assert m["no_grl/target/acc"] < m["source_only/target/acc"]  # minimizing the domain loss hurts the target
    assert min(m["source/acc"], m["source_only/source/acc"], m["no_grl/source/acc"]) > 0.95


def test_the_default_network_reaches_0_9_on_the_full_source(cli, tmp_path) -> None:
    """The default network and augmentation (bn, auto = colour), the default 10 epochs, seed 0: about 40 minutes
    of one CPU core. Seeds 0, 1, 2 gave 0.904, 0.898, 0.901 (docs/results/adapt.md); one seed must stay close."""
    out = tmp_path / "default"
    r = cli(
        "adapt", "dann", "--seeds", "1", "--tsne", "0", "--data-root", shared_data("mnist"),
        "--target-root", shared_data("mnist_m"), "--device", "cpu", "--out", out,
    )  # fmt: skip
    assert r.code == 0, r.err
    m = json.loads((out / "metrics.json").read_text())
    data = json.loads((out / "config.json").read_text())["data"]
    assert "60000 train images used" in data and "9001 test images" in data
    assert m["target/acc"] >= 0.89
    assert m["source/acc"] > 0.97
