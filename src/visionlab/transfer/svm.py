"""`transfer svm`: frozen CNN features at one cut point -> linear SVM (Razavian et al. 2014, off-the-shelf).

The SVM is scikit-learn's `LinearSVC` (Fan et al. 2008, liblinear) behind a feature normalization, both in one
`Pipeline`, so that cross-validation refits the normalization on each training fold. C and the normalization
(L2 or standardization) are chosen by stratified k-fold CV on the training split only; the test split is used
once, by the refitted best pipeline.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from visionlab.data import ImageData
from visionlab.engine import select_device
from visionlab.models import Backbone, load_backbone
from visionlab.report.figures import heatmap
from visionlab.runs import Run
from visionlab.transfer.commands import CSweepConfig, SvmConfig
from visionlab.transfer.features import Features, split_features
from visionlab.transfer.targets import load_target


def normalizer(name: str) -> Any:
    """`l2`: each vector to unit length; `standardize`: each feature to zero mean and unit variance, then each
    vector to unit length (so that one C grid suits both, and liblinear's dual solver converges in seconds
    where plain standardized 1,280-d features take minutes per fit); `none`: the raw features."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler

    if name == "standardize":
        return make_pipeline(StandardScaler(), Normalizer("l2"))
    return {"l2": Normalizer("l2"), "none": "passthrough"}[name]


def pipeline(norm: str = "standardize", c: float = 1.0, seed: int = 0) -> Any:
    """normalization -> LinearSVC (one-vs-rest, squared hinge)."""
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=c, dual=True, max_iter=2000, random_state=seed)
    return Pipeline([("norm", normalizer(norm)), ("svm", svm)])


def grid_search(
    x: np.ndarray,
    y: np.ndarray,
    cs: list[float],
    norms: list[str],
    folds: int,
    jobs: int,
    seed: int,
    refit: bool = True,
) -> Any:
    """GridSearchCV over C x normalization with stratified k-fold CV; the fits run in `jobs` threads.

    liblinear releases the GIL, so threads run the fits in parallel without copying the data to processes.
    """
    from joblib import parallel_config
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    grid = {"norm": [normalizer(n) for n in norms], "svm__C": list(cs)}
    cv = StratifiedKFold(n_splits=min(folds, int(np.bincount(y).min())), shuffle=True, random_state=seed)
    search = GridSearchCV(pipeline(seed=seed), grid, cv=cv, n_jobs=jobs, refit=refit, scoring="accuracy")
    with warnings.catch_warnings(), parallel_config(backend="threading"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    return search


def norm_name(step: Any) -> str:
    """The name of a fitted pipeline's normalization step."""
    if step == "passthrough":
        return "none"
    return "l2" if type(step).__name__ == "Normalizer" else "standardize"  # standardize is a small Pipeline


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(confusion matrix counts, per-class accuracy = its diagonal over its row sums)."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.diag(cm) / cm.sum(axis=1)
    return cm, acc


def metric_word(name: str) -> str:
    """A class name as part of a metric name: `/` and spaces become `_` (`T-shirt/top` -> `T-shirt_top`)."""
    return "_".join(name.replace("/", " ").split())


def confusion_figure(cm: np.ndarray, classes: list[str], title: str) -> Any:
    """Row-normalized confusion matrix as a heatmap (rows: true class, columns: predicted)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = cm / cm.sum(axis=1, keepdims=True)
    return heatmap(rows, classes, classes, title=title, xlabel="predicted", ylabel="true", fmt="{:.2f}", cmap="Blues")


@dataclass
class OneCut:
    """The features of `svm` and `c-sweep`: the backbone, the cut (default: the penultimate layer), the target
    set, its train and test features at that cut, and how many unreadable images were skipped."""

    backbone: Backbone
    cut: str
    data: ImageData
    train: Features
    test: Features
    skipped: int


def one_cut_features(cfg: SvmConfig | CSweepConfig, run: Run) -> OneCut:
    """Load the backbone and the target set, extract (or read back) the features at `cfg.cut`."""
    device = select_device(cfg.device)
    backbone = load_backbone(cfg.backbone, cfg.weights)
    cut = cfg.cut or backbone.spec.penultimate
    backbone.spec.check_cuts([cut])
    data = load_target(cfg, cfg.seed, run)
    feats = split_features(cfg, backbone, data, [cut], device, run)
    return OneCut(backbone, cut, data, feats.train, feats.test, feats.skipped)


def run(cfg: SvmConfig, run: Run) -> dict[str, float]:
    """Extract features at one cut, choose C and normalization by CV on train, report test accuracy."""
    one = one_cut_features(cfg, run)
    backbone, cut, data, train, test, skipped = one.backbone, one.cut, one.data, one.train, one.test, one.skipped
    start = time.perf_counter()
    search = grid_search(train.by_cut[cut], train.labels, cfg.cs, cfg.norms, cfg.folds, cfg.jobs, cfg.seed)
    fit_s = time.perf_counter() - start
    pred = search.predict(test.by_cut[cut])
    cm, acc = per_class_accuracy(test.labels, pred, len(data.classes))
    best_norm = norm_name(search.best_params_["norm"])
    run.note(
        cut=cut,
        weights=backbone.weights,
        chosen_C=search.best_params_["svm__C"],
        chosen_norm=best_norm,
        model_selection=f"C and normalization by {search.n_splits_}-fold CV on the training split only",
    )
    title = f"{cfg.backbone} {cut} + linear SVM (C={search.best_params_['svm__C']:g}, {best_norm})"
    run.save_figure(confusion_figure(cm, data.classes, title), "confusion")
    metrics: dict[str, float] = {
        "test/acc": float((pred == test.labels).mean()),
        "test/mean_class_acc": float(np.nanmean(acc)),
        "cv/acc": float(search.best_score_),
        "svm/C": float(search.best_params_["svm__C"]),
        "svm/standardize": float(best_norm == "standardize"),
        "features/dim": float(train.by_cut[cut].shape[1]),
        "data/train_images": float(len(train.labels)),
        "data/test_images": float(len(test.labels)),
        "data/skipped_images": float(skipped),
        "time/extract_s": train.seconds + test.seconds,
        "time/fit_s": fit_s,
    }
    metrics.update({f"test/acc_{metric_word(name)}": float(a) for name, a in zip(data.classes, acc)})
    return metrics
