"""`transfer cut-sweep`: a linear SVM on every (feature cut x head cut) pair, from ONE pass of the backbone.

Which layer transfers best (Yosinski et al. 2014, "How transferable are features in deep neural networks?";
Azizpour et al. 2015)? Rows are feature (body) cuts, global-average-pooled to vectors; columns are head cuts
(VGG16: fc6 ... fc8; EfficientNet-Lite0: pool = penultimate, logits). A cell is the test accuracy of a linear
SVM on the two cuts' feature vectors side by side, each cut's vector first normalized per image (`--norm`:
`l2`, to unit length; `sqrt`, signed square root, then unit length) so that neither outweighs the other by its
magnitude or its dimension; the `-` row and column hold each cut alone. C is chosen per cell by k-fold CV on
the training split only; the best cell is the one with the best CV accuracy.

The classifier is `transfer ensemble`'s (`select.SvmGrid`, `select.final_model`): libsvm's `SVC` (one-vs-one,
hinge loss) on the linear kernel, given as a precomputed Gram matrix. The Gram matrix of normalized cuts side
by side is the sum of the cuts' Gram matrices, so each cut's Gram matrix (train x train, test x train) is
computed once, and a cell costs a sum of (N, N) matrices plus SVM fits whose cost grows with the number of
training images, not with the cell's dimension: the same classifier as `SVC(kernel="linear")` on the
concatenated vectors, whose fits stay short beside the extraction (docs/results/transfer.md has the timings).

Every cut is captured in the same forward pass and cached, so the sweep costs about one extraction plus the
fits, and the fits (which need only the training features) run in a thread pool (libsvm releases the GIL)
while the backbone extracts the test split.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from visionlab.engine import progress, select_device
from visionlab.models import load_backbone
from visionlab.report.figures import heatmap
from visionlab.runs import Run
from visionlab.transfer import select
from visionlab.transfer.commands import CutSweepConfig
from visionlab.transfer.features import Features, split_features
from visionlab.transfer.targets import load_target

ALONE = "-"


def cells(body: list[str], head: list[str]) -> list[tuple[str, str]]:
    """Every (body, head) pair, plus each cut alone (`-` on the other side)."""
    rows, cols = [ALONE, *body], [ALONE, *head]
    return [(b, h) for b in rows for h in cols if not (b == ALONE and h == ALONE)]


def cell_cuts(b: str, h: str) -> list[str]:
    return [c for c in (b, h) if c != ALONE]


def cut_grams(rows: Features, cols: Features, cuts: list[str], norm: str) -> dict[str, np.ndarray]:
    """Each cut's linear kernel between the normalized vectors of `rows` and `cols`: cut -> (N_rows, N_cols)."""
    return {c: select.kernel(rows.by_cut, cols.by_cut, [c], norm) for c in cuts}


def cell_gram(grams: dict[str, np.ndarray], cuts: list[str]) -> np.ndarray:
    """The linear kernel of a cell's cuts side by side: the sum of the cuts' kernels."""
    return np.sum([grams[c] for c in cuts], axis=0)


@dataclass
class Cell:
    """One cell's CV accuracy and C (chosen on the training split), its SVM refitted on the whole split, and the
    seconds all that took."""

    cv: float
    C: float
    model: Any
    seconds: float = 0.0


def fit_cell(grid: select.SvmGrid, grams: dict[str, np.ndarray], y: np.ndarray, cuts: list[str]) -> Cell:
    """C by k-fold CV on the training kernel of `cuts` side by side, then the refit with that C."""
    start = time.perf_counter()
    gram = cell_gram(grams, cuts)
    score = grid.score(gram, y)
    model = select.final_model(gram, y, score.C)
    return Cell(score.cv, score.C, model, time.perf_counter() - start)


def cell_accuracy(cell: Cell, test_grams: dict[str, np.ndarray], labels: np.ndarray, cuts: list[str]) -> float:
    """Test accuracy of a fitted cell, given each cut's test x train kernel."""
    return float((cell.model.predict(cell_gram(test_grams, cuts)) == labels).mean())


def run(cfg: CutSweepConfig, run: Run) -> dict[str, float]:
    """Extract every cut in one pass, fit one SVM per cell, draw the test-accuracy heatmap."""
    start = time.perf_counter()
    device = select_device(cfg.device)
    backbone = load_backbone(cfg.backbone, cfg.weights)
    spec = backbone.spec
    body = cfg.body_cuts or list(spec.body_cuts)
    head = cfg.head_cuts or list(spec.head_cuts)
    spec.check_cuts(body + head)
    data = load_target(cfg, cfg.seed, run)
    cut_list = list(dict.fromkeys(body + head))
    grid = select.SvmGrid(cfg.cs, cfg.folds, 1, cfg.seed)  # one thread per cell: the cells run in parallel
    fits: dict[tuple[str, str], Future] = {}
    fit_start = [time.perf_counter()]
    with ThreadPoolExecutor(cfg.jobs) as pool:  # libsvm releases the GIL: the fits run beside the extraction

        def start_fits(train: Features) -> None:
            fit_start[0] = time.perf_counter()
            grams = cut_grams(train, train, cut_list, cfg.norm)  # each cut's (N, N) kernel, once
            for b, h in cells(body, head):
                fits[b, h] = pool.submit(fit_cell, grid, grams, train.labels, cell_cuts(b, h))

        feats = split_features(cfg, backbone, data, cut_list, device, run, on_train=start_fits)
        train, test, skipped = feats.train, feats.test, feats.skipped
        test_grams = cut_grams(test, train, cut_list, cfg.norm)
        rows, cols = [ALONE, *body], [ALONE, *head]
        acc = np.full((len(rows), len(cols)), np.nan)
        cv, cs = np.full_like(acc, np.nan), np.full_like(acc, np.nan)
        metrics: dict[str, float] = {}
        cell_s = 0.0
        for (b, h), fit in progress(list(fits.items()), "cells"):
            i, j = rows.index(b), cols.index(h)
            cell = fit.result()
            acc[i, j] = cell_accuracy(cell, test_grams, test.labels, cell_cuts(b, h))
            cv[i, j], cs[i, j] = cell.cv, cell.C
            cell_s += cell.seconds
            metrics[f"test/acc_{b}+{h}"] = acc[i, j]
    fit_s = time.perf_counter() - fit_start[0]
    bi, bj = np.unravel_index(np.nanargmax(cv), cv.shape)
    run.note(
        body_cuts=body,
        head_cuts=head,
        best_cell_by_cv=f"{rows[bi]} + {cols[bj]}",
        best_cell_C=float(cs[bi, bj]),
        classifier=(
            "linear SVM (libsvm SVC, one-vs-one, hinge loss) on the sum of the cell's cuts' linear kernels "
            f"(= on the {cfg.norm}-normalized cuts side by side)"
        ),
        model_selection=f"C per cell by {cfg.folds}-fold CV on the training split; best cell by CV accuracy",
        cell_meaning="features of the row cut (global-average-pooled) and the column cut side by side; '-' = none",
    )
    fig = heatmap(
        acc,
        rows,
        cols,
        title=f"{cfg.backbone}: test accuracy of a linear SVM per cut pair",
        xlabel="head cut",
        ylabel="feature cut (pooled)",
    )
    run.save_figure(fig, "cut_sweep")
    run.save_bytes("cut_sweep.csv", _csv(rows, cols, acc, cv, cs))
    metrics.update(
        {
            "best/test_acc": float(acc[bi, bj]),
            "best/cv_acc": float(cv[bi, bj]),
            "best/C": float(cs[bi, bj]),
            "sweep/cells": float(np.isfinite(acc).sum()),
            "data/skipped_images": float(skipped),
            "time/extract_s": train.seconds + test.seconds,
            "time/fit_s": fit_s,  # from the end of the train extraction: the fits overlap the test extraction
            "time/cell_fits_s": cell_s,  # the cells' CV fits and refits, summed over cells (threads)
            "time/total_s": time.perf_counter() - start,
        }
    )
    return metrics


def _csv(rows: list[str], cols: list[str], acc: np.ndarray, cv: np.ndarray, cs: np.ndarray) -> bytes:
    lines = ["feature_cut,head_cut,test_acc,cv_acc,C"]
    for (i, j), a in np.ndenumerate(acc):
        if np.isfinite(a):
            lines.append(f"{rows[i]},{cols[j]},{a:.4f},{cv[i, j]:.4f},{cs[i, j]:g}")
    return ("\n".join(lines) + "\n").encode()
