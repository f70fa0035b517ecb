"""`transfer c-sweep`: how the SVM's C trades accuracy for fit time (Cortes & Vapnik 1995; Fan et al. 2008).

For every C of a log grid, k-fold cross-validation on the training split gives the mean (and std) accuracy
and the mean fit time; all C x k fits run together in one parallel pool (`GridSearchCV` with `refit=False`).
The test accuracy reported is that of the C with the best CV score, refitted on the whole training split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from visionlab.runs import Run
from visionlab.transfer.commands import CSweepConfig
from visionlab.transfer.svm import grid_search, one_cut_features, pipeline


@dataclass
class CSweep:
    """Per C of the grid (in the given order): mean and std CV accuracy, mean fit time in seconds."""

    C: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    fit_s: np.ndarray
    folds: int


def sweep(x: np.ndarray, y: np.ndarray, cs: list[float], norm: str, folds: int, jobs: int, seed: int) -> CSweep:
    """Cross-validate every C of `cs` on (x, y), all fits in one parallel pool."""
    search = grid_search(x, y, cs, [norm], folds, jobs, seed, refit=False)
    res = search.cv_results_
    order = [list(res["param_svm__C"]).index(c) for c in cs]
    return CSweep(
        np.asarray(cs, dtype=float),
        res["mean_test_score"][order],
        res["std_test_score"][order],
        res["mean_fit_time"][order],
        search.n_splits_,
    )


def figure(result: CSweep, title: str) -> Any:
    """CV accuracy (with a +-1 std band) and mean fit time against C, on a log axis, two y axes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    c, mean, std = result.C, result.mean, result.std
    ax.plot(c, mean, marker="o", color="tab:blue", label="mean CV accuracy")
    ax.fill_between(c, mean - std, mean + std, color="tab:blue", alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("C")
    ax.set_ylabel(f"{result.folds}-fold CV accuracy", color="tab:blue")
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(c, result.fit_s, marker="s", color="tab:red", label="mean fit time")
    right.set_ylabel("mean fit time (s)", color="tab:red")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def run(cfg: CSweepConfig, run: Run) -> dict[str, float]:
    """Sweep C on the training split, then report the CV-best C's test accuracy."""
    one = one_cut_features(cfg, run)
    cut, train, test, skipped = one.cut, one.train, one.test, one.skipped
    result = sweep(train.by_cut[cut], train.labels, cfg.cs, cfg.norm, cfg.folds, cfg.jobs, cfg.seed)
    best = float(result.C[int(np.argmax(result.mean))])
    model = pipeline(cfg.norm, best, cfg.seed).fit(train.by_cut[cut], train.labels)
    test_acc = float((model.predict(test.by_cut[cut]) == test.labels).mean())
    run.note(cut=cut, norm=cfg.norm, chosen_C=best, model_selection="C with the best mean CV accuracy (train only)")
    run.save_figure(figure(result, f"{cfg.backbone} {cut}: linear SVM against C ({cfg.norm})"), "c_sweep")
    metrics: dict[str, float] = {"test/acc": test_acc, "cv/best_acc": float(result.mean.max()), "svm/C": best}
    for c, m, s, t in zip(result.C, result.mean, result.std, result.fit_s):
        metrics[f"cv/acc_C{c:g}"] = float(m)
        metrics[f"cv/std_C{c:g}"] = float(s)
        metrics[f"time/fit_s_C{c:g}"] = float(t)
    metrics["data/skipped_images"] = float(skipped)
    return metrics
