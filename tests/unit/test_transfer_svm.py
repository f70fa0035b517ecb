"""The SVM side: CV grid search on the training split, per-class accuracy, the C sweep, cut-sweep cells."""

from __future__ import annotations

import numpy as np

from visionlab.transfer.c_sweep import sweep
from visionlab.transfer.cut_sweep import ALONE, cell_cuts, cells
from visionlab.transfer.svm import grid_search, norm_name, per_class_accuracy, pipeline


def _blobs(n: int, seed: int, scale: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 8) * 4
    y = np.repeat(np.arange(3), n)
    return centres[y] + scale * rng.normal(size=(len(y), 8)), y


def test_grid_search_separates_blobs_and_chooses_from_the_grid() -> None:
    x, y = _blobs(20, 0)
    xt, yt = _blobs(10, 1)
    search = grid_search(x, y, [1e-3, 1.0], ["l2", "standardize"], folds=5, jobs=2, seed=0)
    assert search.best_params_["svm__C"] in (1e-3, 1.0)
    assert norm_name(search.best_params_["norm"]) in ("l2", "standardize")
    assert (search.predict(xt) == yt).mean() == 1.0
    assert search.n_splits_ == 5 and search.best_score_ == 1.0


def test_per_class_accuracy_known_answer() -> None:
    cm, acc = per_class_accuracy(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 0, 2]), 4)
    assert cm.tolist() == [[1, 1, 0, 0], [1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_allclose(acc[:3], [0.5, 2 / 3, 1.0])
    assert np.isnan(acc[3])  # no test image of class 3


def test_c_sweep_scores_equal_cross_val_score_per_c_in_grid_order() -> None:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = _blobs(20, 0, scale=2.0)
    res = sweep(x, y, [1.0, 1e-3], "l2", folds=5, jobs=2, seed=0)
    assert res.C.tolist() == [1.0, 1e-3] and res.folds == 5
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    for c, mean in zip(res.C, res.mean):
        assert mean == cross_val_score(pipeline("l2", c), x, y, cv=cv).mean()
    assert (res.fit_s > 0).all() and res.std.shape == (2,)


def test_cut_sweep_cells_are_every_pair_plus_each_cut_alone() -> None:
    got = cells(["b1", "b2"], ["h1"])
    assert got == [(ALONE, "h1"), ("b1", ALONE), ("b1", "h1"), ("b2", ALONE), ("b2", "h1")]
    assert cell_cuts("b1", ALONE) == ["b1"] and cell_cuts("b2", "h1") == ["b2", "h1"]
