"""Which frozen-feature blocks to put side by side: greedy forward selection by cross-validation (train only).

A block is the features of one backbone at one cut (Razavian et al. 2014 concatenate layers; Azizpour et al.
2015 show that the best layer depends on the target task). Every block is first scaled to unit length per image,
so that neither a block's magnitude nor its dimension decides its weight. Starting from nothing, each step adds
the block whose concatenation with the chosen ones gives the best k-fold CV accuracy of a linear SVM (its C and
normalization chosen by the same CV, see `svm.grid_search`); the selection stops when no block adds at least
`min_gain` or `max_blocks` are chosen (Kohavi & John 1997, wrapper selection). Only training features reach
this module: the test split is read once, by the caller, after the choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visionlab.transfer.svm import grid_search, norm_name


def unit(block: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    return block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)


def side_by_side(blocks: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """The unit-length blocks `names`, concatenated: (N, sum of their D)."""
    return np.concatenate([unit(blocks[n]) for n in names], axis=1)


@dataclass
class Score:
    """The best CV accuracy of one set of blocks, with the C and normalization that reached it."""

    cv: float
    C: float
    norm: str


@dataclass
class Selection:
    """The greedy path: `chosen` in the order they were added, the CV score after each addition, every
    candidate's score at every step (`steps[k][name]`), and the final set's C and normalization."""

    chosen: list[str] = field(default_factory=list)
    path: list[Score] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)

    @property
    def best(self) -> Score:
        return self.path[-1]


@dataclass
class SvmGrid:
    """The CV protocol of every score: the C grid, the normalizations, folds, parallel fits, seed."""

    cs: list[float]
    norms: list[str]
    folds: int = 5
    jobs: int = 2
    seed: int = 0

    def score(self, x: np.ndarray, y: np.ndarray) -> Score:
        search = grid_search(x, y, self.cs, self.norms, self.folds, self.jobs, self.seed, refit=False)
        res = search.cv_results_
        i = int(np.argmax(res["mean_test_score"]))  # the first best: grids run from small C up
        params: dict[str, Any] = res["params"][i]
        return Score(float(res["mean_test_score"][i]), float(params["svm__C"]), norm_name(params["norm"]))


def greedy(
    blocks: dict[str, np.ndarray],
    y: np.ndarray,
    grid: SvmGrid,
    max_blocks: int = 4,
    min_gain: float = 0.002,
    progress: Any = None,
) -> Selection:
    """Forward selection of blocks by CV accuracy on (blocks, y), training features only.

    Args:
        blocks: name -> (N, D) training features, N the same for all.
        y: (N,) training labels.
        grid: how each candidate set is scored.
        max_blocks: stop after this many blocks.
        min_gain: a block joins only if it raises the CV accuracy by at least this much (the first always joins).
        progress: optional callable(step, name, score) told of every scored candidate.
    """
    sel = Selection()
    while len(sel.chosen) < min(max_blocks, len(blocks)):
        scores: dict[str, Score] = {}
        for name in blocks:
            if name in sel.chosen:
                continue
            scores[name] = grid.score(side_by_side(blocks, [*sel.chosen, name]), y)
            if progress is not None:
                progress(len(sel.chosen), name, scores[name])
        sel.steps.append({n: s.cv for n, s in scores.items()})
        name = max(scores, key=lambda n: scores[n].cv)  # ties: the first candidate in the given order
        if sel.path and scores[name].cv < sel.best.cv + min_gain:
            break
        sel.chosen.append(name)
        sel.path.append(scores[name])
    return sel


def figure(selections: dict[str, Selection], title: str) -> Any:
    """Left: every block's CV accuracy alone (first step), one bar group per setting; right: the greedy path,
    CV accuracy after each added block, one line per setting, the chosen ones marked."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
    names = list(next(iter(selections.values())).steps[0])
    width = 0.8 / len(selections)
    for k, (label, sel) in enumerate(selections.items()):
        alone = [sel.steps[0].get(n, np.nan) for n in names]
        left.bar(np.arange(len(names)) + k * width, alone, width, label=label)
        right.plot(range(1, len(sel.path) + 1), [s.cv for s in sel.path], marker="o", label=label)
        for i, (n, s) in enumerate(zip(sel.chosen, sel.path)):
            right.annotate(n, (i + 1, s.cv), fontsize=7, rotation=20, xytext=(3, 3), textcoords="offset points")
    left.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=60, ha="right", fontsize=7)
    lo = np.nanmin([v for s in selections.values() for v in s.steps[0].values()])
    left.set_ylim(max(0.0, lo - 0.05), 1.0)
    left.set_ylabel("CV accuracy, block alone")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.set_xlabel("blocks chosen")
    right.set_ylabel("CV accuracy (training split)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
