"""The CV chooser of `transfer ensemble`: known answers on synthetic blocks, and no test index reaches it."""

from __future__ import annotations

import numpy as np
import pytest

from visionlab.transfer import ensemble, select
from visionlab.transfer.commands import EnsembleConfig
from visionlab.transfer.features import Features
from visionlab.transfer.views import views_of_pass

GRID = select.SvmGrid(cs=[1.0], folds=3, jobs=1, seed=0)


def _blocks(n: int = 150, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """3 classes. `signal` separates them (one class mean per direction), `half` separates class 0 from the
    rest only, `noise` knows nothing; all three are 20-d."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    means = np.eye(3, 20) * 4
    signal = means[y] + rng.normal(size=(n, 20))
    half = np.where((y == 0)[:, None], 3.0, 0.0) * np.eye(1, 20) + rng.normal(size=(n, 20))
    noise = rng.normal(size=(n, 20)) * 5
    return {"noise": noise, "half": half, "signal": signal}, y


def test_normalizations_and_the_kernel_of_blocks_side_by_side() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(select.unit(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(select.normalize(np.array([[-9.0, 16.0]]), "sqrt"), [[-0.6, 0.8]])
    both = select.side_by_side({"a": x, "b": 2 * x}, ["a", "b"])
    assert both.shape == (2, 4) and np.allclose(np.linalg.norm(both[0]), np.sqrt(2))
    rng = np.random.default_rng(0)
    blocks = {"a": rng.normal(size=(5, 3)), "b": rng.normal(size=(5, 7))}
    other = {"a": rng.normal(size=(4, 3)), "b": rng.normal(size=(4, 7))}
    for norm in select.NORMS:  # the sum of the blocks' kernels is the kernel of the concatenation
        want = select.side_by_side(other, ["a", "b"], norm) @ select.side_by_side(blocks, ["a", "b"], norm).T
        np.testing.assert_allclose(select.kernel(other, blocks, ["a", "b"], norm), want, atol=1e-12)


def test_the_precomputed_kernel_svm_is_the_linear_svm_on_the_concatenation() -> None:
    from sklearn.svm import SVC

    blocks, y = _blocks()
    x = select.side_by_side(blocks, ["half", "signal"])
    gram = select.kernel(blocks, blocks, ["half", "signal"], "l2")
    kernel_svm = select.final_model(gram, y, 1.0)
    linear = SVC(kernel="linear", C=1.0).fit(x, y)
    assert (kernel_svm.predict(gram) == linear.predict(x)).all()


def test_greedy_picks_the_informative_block_first_and_drops_noise() -> None:
    blocks, y = _blocks()
    sel = select.greedy(blocks, y, GRID, max_blocks=3, min_gain=0.01)
    assert sel.chosen[0] == "signal" and "noise" not in sel.chosen
    assert sel.steps[0]["signal"] > 0.9 > sel.steps[0]["half"] and sel.steps[0]["noise"] < 0.6
    assert sel.best.C == 1.0
    assert [s.cv for s in sel.path] == sorted(s.cv for s in sel.path)  # each addition gained


def test_greedy_stops_at_max_blocks_and_when_nothing_gains() -> None:
    blocks, y = _blocks()
    assert len(select.greedy(blocks, y, GRID, max_blocks=1).chosen) == 1
    only_noise = {"n1": blocks["noise"], "n2": np.random.default_rng(1).normal(size=(150, 20))}
    sel = select.greedy({"signal": blocks["signal"], **only_noise}, y, GRID, max_blocks=3, min_gain=0.05)
    assert sel.chosen == ["signal"] and len(sel.steps) == 2  # step 2 scored, nothing joined


def test_flip_view_wins_when_it_is_the_better_one() -> None:
    """`choose` compares the views' best CV scores: a flip view that holds the informative block wins."""
    blocks, y = _blocks()
    cands = ensemble.Candidates({"plain": {"a": blocks["noise"]}, "flip": {"a": blocks["signal"]}}, y, 0.0)
    cfg = EnsembleConfig(cs=[1.0], norms=["l2"], folds=3, jobs=1, max_blocks=1)
    choice = ensemble.choose(cfg, cands)
    assert choice.view == "flip" and choice.norm == "l2"
    assert choice.all["flip_l2"].best.cv > 0.9 > choice.all["plain_l2"].best.cv


def test_no_test_image_reaches_the_chooser(monkeypatch) -> None:
    """The candidates come from the training split only: `extract` is never called on the test split there."""
    seen: list[str] = []

    def fake_extract(backbone, dataset, cuts, *, crop, flip, desc, **kw) -> Features:
        seen.append(dataset)
        feats = {c: np.ones((4, 2)) for c in cuts}
        return Features(feats, np.arange(4), byproducts={v: dict(feats) for v in views_of_pass(crop, flip)[1:]})

    class Spec:
        def finetune_size(self, size: int) -> int:
            return 224

    class Net:
        spec = Spec()

    monkeypatch.setattr(ensemble, "extract", fake_extract)
    cfg = EnsembleConfig(backbones=["a", "b"], cuts=["x", "y"], cache=False)
    cands = ensemble.train_candidates(cfg, {"a": Net(), "b": Net()}, "TRAIN", "cpu")  # type: ignore[arg-type]
    assert seen == ["TRAIN", "TRAIN"]  # one pass per backbone; the ten-crop pass gave the other views too
    assert sorted(cands.blocks) == ["five", "flip", "plain", "ten"] and sorted(cands.blocks["plain"]) == [
        "a.x", "a.y", "b.x", "b.y",
    ]  # fmt: skip
    seen.clear()
    _, _, _ = ensemble.chosen_test_features(cfg, {"a": Net(), "b": Net()}, "TEST", ["b.y"], "flip", "cpu")  # type: ignore[arg-type]
    assert seen == ["TEST"]  # only the backbone of a chosen block reads the test split


def test_bad_options_are_usage_errors() -> None:
    from visionlab.errors import UsageError

    with pytest.raises(UsageError):
        EnsembleConfig(max_blocks=0).validate()
    with pytest.raises(UsageError):
        EnsembleConfig(norms=["zscore"]).validate()


def test_every_backbone_at_every_size_is_a_source_of_named_blocks(monkeypatch) -> None:
    """`--sizes 224,288`: one training pass per backbone and size, blocks named `backbone@pixels.cut`, each
    size scaled to the backbone's own input size; the test split is read at the chosen block's size only."""
    seen: list[tuple[str, int]] = []

    def fake_extract(backbone, dataset, cuts, *, crop, flip, desc, size, **kw) -> Features:
        seen.append((dataset, size))
        feats = {c: np.full((4, 2), float(size)) for c in cuts}
        return Features(feats, np.arange(4), byproducts={v: dict(feats) for v in views_of_pass(crop, flip)[1:]})

    class Spec:
        def __init__(self, input_size: int) -> None:
            self.input_size = input_size

        def finetune_size(self, size: int) -> int:
            return round(size * self.input_size / 224) if size else self.input_size

    class Net:
        def __init__(self, input_size: int) -> None:
            self.spec = Spec(input_size)

    monkeypatch.setattr(ensemble, "extract", fake_extract)
    nets = {"a": Net(224), "b": Net(260)}
    cfg = EnsembleConfig(backbones=["a", "b"], cuts=["x"], sizes=[224, 288], crop="center", flip="off", cache=False)
    cands = ensemble.train_candidates(cfg, nets, "TRAIN", "cpu")  # type: ignore[arg-type]
    assert seen == [("TRAIN", 224), ("TRAIN", 288), ("TRAIN", 260), ("TRAIN", 334)]
    assert sorted(cands.blocks["plain"]) == ["a@224.x", "a@288.x", "b@260.x", "b@334.x"]
    assert cands.blocks["plain"]["b@334.x"][0, 0] == 334.0  # each block holds the features of its own size
    seen.clear()
    test, _, _ = ensemble.chosen_test_features(cfg, nets, "TEST", ["b@334.x"], "plain", "cpu")  # type: ignore[arg-type]
    assert seen == [("TEST", 334)] and list(test) == ["b@334.x"]
    one = EnsembleConfig(backbones=["a"], cuts=["x"], sizes=[288], cache=False)
    assert [s.name for s in ensemble.sources(one, {"a": Net(224)})] == ["a"]  # one size: plain block names


def test_bad_sizes_are_usage_errors() -> None:
    from visionlab.errors import UsageError

    for sizes in ([224, 224], [16]):
        with pytest.raises(UsageError):
            EnsembleConfig(sizes=sizes).validate()
