"""`transfer cut-sweep`: a linear SVM on every (feature cut x head cut) pair, from ONE pass of the backbone.

Which layer transfers best (Yosinski et al. 2014, "How transferable are features in deep neural networks?";
Azizpour et al. 2015)? Rows are feature (body) cuts, global-average-pooled to vectors; columns are head cuts
(VGG16: fc6 ... fc8; EfficientNet-Lite0: pool = penultimate, logits). A cell is the test accuracy of the SVM
on the two feature vectors side by side, each first scaled to unit length so that neither outweighs the other;
the `-` row and column hold each cut alone. Every cut is captured in the same forward pass and cached, so
the sweep costs about one extraction plus the SVM fits, and the fits (which need only the training features)
run in a thread pool while the backbone extracts the test split.
C is chosen per cell by k-fold CV on the training split; the best cell is the one with the best CV score.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from visionlab.engine import progress, select_device
from visionlab.models import load_backbone
from visionlab.report.figures import heatmap
from visionlab.runs import Run
from visionlab.transfer.commands import CutSweepConfig
from visionlab.transfer.features import Features, split_features
from visionlab.transfer.svm import grid_search
from visionlab.transfer.targets import load_target

ALONE = "-"


def cells(body: list[str], head: list[str]) -> list[tuple[str, str]]:
    """Every (body, head) pair, plus each cut alone (`-` on the other side)."""
    rows, cols = [ALONE, *body], [ALONE, *head]
    return [(b, h) for b in rows for h in cols if not (b == ALONE and h == ALONE)]


def cell_cuts(b: str, h: str) -> list[str]:
    return [c for c in (b, h) if c != ALONE]


def search_cell(cfg: CutSweepConfig, train: Features, cuts: list[str]) -> Any:
    """The refitted CV search (C by k-fold CV on the training split) of the SVM on the features of `cuts` side by
    side; its fits run one after the other (the cells themselves run in parallel)."""
    x = train.concat(cuts, unit=True)
    return grid_search(x, train.labels, cfg.cs, [cfg.norm], cfg.folds, 1, cfg.seed, dual="auto")


def fit_cell(cfg: CutSweepConfig, train: Features, test: Features, cuts: list[str]) -> tuple[float, float, float]:
    """(test accuracy, CV accuracy, chosen C) of the SVM on the features of `cuts` side by side."""
    return score_cell(search_cell(cfg, train, cuts), test, cuts)


def score_cell(search: Any, test: Features, cuts: list[str]) -> tuple[float, float, float]:
    acc = float((search.predict(test.concat(cuts, unit=True)) == test.labels).mean())
    return acc, float(search.best_score_), float(search.best_params_["svm__C"])


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
    searches: dict[tuple[str, str], Future] = {}
    fit_start = [time.perf_counter()]
    with ThreadPoolExecutor(cfg.jobs) as pool:  # liblinear releases the GIL: the fits run beside the extraction

        def start_fits(train: Features) -> None:
            fit_start[0] = time.perf_counter()
            for b, h in cells(body, head):
                searches[b, h] = pool.submit(search_cell, cfg, train, cell_cuts(b, h))

        feats = split_features(cfg, backbone, data, cut_list, device, run, on_train=start_fits)
        train, test, skipped = feats.train, feats.test, feats.skipped
        rows, cols = [ALONE, *body], [ALONE, *head]
        acc = np.full((len(rows), len(cols)), np.nan)
        cv = np.full_like(acc, np.nan)
        metrics: dict[str, float] = {}
        for (b, h), search in progress(list(searches.items()), "cells"):
            i, j = rows.index(b), cols.index(h)
            acc[i, j], cv[i, j], _ = score_cell(search.result(), test, cell_cuts(b, h))
            metrics[f"test/acc_{b}+{h}"] = acc[i, j]
    fit_s = time.perf_counter() - fit_start[0]
    bi, bj = np.unravel_index(np.nanargmax(cv), cv.shape)
    run.note(
        body_cuts=body,
        head_cuts=head,
        best_cell_by_cv=f"{rows[bi]} + {cols[bj]}",
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
    run.save_bytes("cut_sweep.csv", _csv(rows, cols, acc, cv))
    metrics.update(
        {
            "best/test_acc": float(acc[bi, bj]),
            "best/cv_acc": float(cv[bi, bj]),
            "sweep/cells": float(np.isfinite(acc).sum()),
            "data/skipped_images": float(skipped),
            "time/extract_s": train.seconds + test.seconds,
            "time/fit_s": fit_s,  # from the end of the train extraction: the fits overlap the test extraction
            "time/total_s": time.perf_counter() - start,
        }
    )
    return metrics


def _csv(rows: list[str], cols: list[str], acc: np.ndarray, cv: np.ndarray) -> bytes:
    lines = ["feature_cut,head_cut,test_acc,cv_acc"]
    for (i, j), a in np.ndenumerate(acc):
        if np.isfinite(a):
            lines.append(f"{rows[i]},{cols[j]},{a:.4f},{cv[i, j]:.4f}")
    return ("\n".join(lines) + "\n").encode()
