"""`transfer cut-sweep` on precomputed kernels: known answers against the linear SVM on the concatenated cuts,
and the fits start on the training features before the test split is extracted."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from visionlab.errors import UsageError
from visionlab.transfer import cut_sweep, select
from visionlab.transfer.commands import CutSweepConfig
from visionlab.transfer.features import Features, SplitFeatures

CS = [0.01, 1.0, 100.0]


def _features(n: int, seed: int) -> Features:
    """3 classes, two cuts of other dimensions and scales: `a` (6-d, x100) holds a weak class signal, `b`
    (9-d, x0.01, all positive after a shift) another, both noisy, so no cut alone nor the pair is perfect."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    a = 100 * (np.eye(3, 6)[y] * 1.2 + rng.normal(size=(len(y), 6)))
    b = 0.01 * (5 + np.eye(3, 9, 3)[y] * 1.2 + rng.normal(size=(len(y), 9)))
    return Features({"a": a.astype(np.float32), "b": b.astype(np.float32)}, y)


@pytest.mark.parametrize("norm", select.NORMS)
def test_the_cell_kernel_is_the_kernel_of_the_normalized_cuts_side_by_side(norm: str) -> None:
    train, test = _features(60, 0), _features(30, 1)
    for rows in (train, test):
        grams = cut_sweep.cut_grams(rows, train, ["a", "b"], norm)
        x_rows = select.side_by_side(rows.by_cut, ["a", "b"], norm)
        x_train = select.side_by_side(train.by_cut, ["a", "b"], norm)
        np.testing.assert_allclose(cut_sweep.cell_gram(grams, ["a", "b"]), x_rows @ x_train.T, atol=1e-12)
        alone = select.side_by_side(rows.by_cut, ["b"], norm) @ select.side_by_side(train.by_cut, ["b"], norm).T
        np.testing.assert_allclose(cut_sweep.cell_gram(grams, ["b"]), alone, atol=1e-12)
    # each cut is normalized per image, whatever its scale (x100, x0.01): two unit blocks, squared norm 2
    own = cut_sweep.cut_grams(train, train, ["a", "b"], norm)
    np.testing.assert_allclose(np.diag(cut_sweep.cell_gram(own, ["a", "b"])), 2.0)


def test_a_cell_is_the_linear_svm_on_the_concatenated_cuts_with_c_by_cv_on_train() -> None:
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    train, test = _features(90, 0), _features(90, 1)
    grid = select.SvmGrid(CS, folds=3, jobs=1, seed=0)
    accs: dict[str, float] = {}
    for cuts in (["a"], ["b"], ["a", "b"]):
        cell = cut_sweep.fit_cell(grid, cut_sweep.cut_grams(train, train, cuts, "l2"), train.labels, cuts)
        acc = cut_sweep.cell_accuracy(cell, cut_sweep.cut_grams(test, train, cuts, "l2"), test.labels, cuts)
        x, xt = select.side_by_side(train.by_cut, cuts, "l2"), select.side_by_side(test.by_cut, cuts, "l2")
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
        search = GridSearchCV(SVC(kernel="linear"), {"C": CS}, cv=cv).fit(x, train.labels)
        assert search.best_params_["C"] == cell.C and cell.cv == pytest.approx(search.best_score_, abs=1e-12)
        assert acc == pytest.approx(search.score(xt, test.labels), abs=1e-12)
        assert 0.4 < acc < 1.0  # neither chance nor trivially perfect: the comparison means something
        accs["+".join(cuts)] = acc
    assert accs["a+b"] > max(accs["a"], accs["b"])  # the two cuts' signals add up


def test_the_fits_start_on_the_training_features_before_the_test_split_is_read(monkeypatch, tmp_path) -> None:
    """Every cell's fit is under way before the test extraction starts, and it sees training labels only."""
    train, test = _features(60, 0), _features(30, 1)
    started = threading.Event()
    seen_n: list[int] = []
    real_fit = cut_sweep.fit_cell

    def fit_cell(grid, grams, y, cuts):
        seen_n.append(len(y))
        started.set()
        return real_fit(grid, grams, y, cuts)

    def split_features(cfg, backbone, data, cuts, device, run, on_train=None):
        assert cuts == ["a", "b"]
        on_train(train)
        assert started.wait(10), "no fit started before the test split"
        return SplitFeatures(train, test, 0)

    spec = SimpleNamespace(body_cuts=["a"], head_cuts=["b"], check_cuts=lambda cuts: None)
    monkeypatch.setattr(cut_sweep, "fit_cell", fit_cell)
    monkeypatch.setattr(cut_sweep, "split_features", split_features)
    monkeypatch.setattr(cut_sweep, "load_backbone", lambda name, weights: SimpleNamespace(spec=spec))
    monkeypatch.setattr(cut_sweep, "load_target", lambda cfg, seed, run: None)
    saved: dict[str, bytes] = {}
    notes: dict = {}
    run = SimpleNamespace(
        note=lambda **kw: notes.update(kw),
        save_figure=lambda fig, name: None,
        save_bytes=lambda name, data: saved.update({name: data}),
    )
    m = cut_sweep.run(CutSweepConfig(cs=CS, folds=3, jobs=2, device="cpu"), run)  # type: ignore[arg-type]
    assert seen_n == [60, 60, 60] and m["sweep/cells"] == 3
    lines = saved["cut_sweep.csv"].decode().splitlines()
    assert lines[0] == "feature_cut,head_cut,test_acc,cv_acc,C" and len(lines) == 4
    assert notes["best_cell_by_cv"] == "a + b" and "libsvm" in notes["classifier"]
    assert m["best/test_acc"] == m["test/acc_a+b"] and m["best/C"] in CS and m["time/cell_fits_s"] > 0


@pytest.mark.parametrize("norm", ["standardize", "none"])
def test_a_removed_normalization_says_what_replaces_it(norm: str) -> None:
    with pytest.raises(UsageError, match=f"no longer takes --norm {norm}") as err:
        CutSweepConfig(norm=norm).validate()
    assert "--norm l2" in (err.value.fix or "")
    with pytest.raises(UsageError, match="unknown normalization"):
        CutSweepConfig(norm="zscore").validate()
    CutSweepConfig(norm="sqrt").validate()
