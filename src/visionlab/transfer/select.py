"""Which frozen-feature blocks to put side by side: greedy forward selection by cross-validation (train only).

A block is the features of one backbone at one cut (Razavian et al. 2014 concatenate layers; Azizpour et al.
2015 show that the best layer depends on the target task). Every block is normalized per image, to unit length
(`l2`) or by its signed square root and then to unit length (`sqrt`, the power normalization of Perronnin et al.
2010), so that neither a block's magnitude nor its dimension decides its weight. Starting from nothing, each
step adds the block whose concatenation with the chosen ones gives the best k-fold CV accuracy of a linear SVM
(C chosen by the same CV); the selection stops when no block adds at least `min_gain` or `max_blocks` are
chosen (Kohavi & John 1997, wrapper selection). Only training features reach this module: the test split is
read once, by the caller, after the choice.

The SVM is libsvm's (`SVC`, one-vs-one, hinge loss) on the linear kernel, given as a precomputed Gram matrix:
the Gram matrix of blocks side by side is the sum of the blocks' Gram matrices, so each block's is computed
once and a candidate set costs a sum of (N, N) matrices and SVM fits on them, whatever its dimension. It is
the same linear classifier as `SVC(kernel="linear")` on the concatenated vectors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NORMS = ("l2", "sqrt")


def unit(block: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    return block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)


def normalize(block: np.ndarray, norm: str) -> np.ndarray:
    """`l2`: unit length; `sqrt`: signed square root of every value, then unit length. float64."""
    x = block.astype(np.float64)
    return unit(np.sign(x) * np.sqrt(np.abs(x)) if norm == "sqrt" else x)


def side_by_side(blocks: dict[str, np.ndarray], names: list[str], norm: str = "l2") -> np.ndarray:
    """The normalized blocks `names`, concatenated: (N, sum of their D)."""
    return np.concatenate([normalize(blocks[n], norm) for n in names], axis=1)


def kernel(rows: dict[str, np.ndarray], cols: dict[str, np.ndarray], names: list[str], norm: str) -> np.ndarray:
    """The linear kernel between the side-by-side vectors of `rows` and `cols` (both raw blocks): (N_rows, N_cols)."""
    return sum(normalize(rows[n], norm) @ normalize(cols[n], norm).T for n in names)  # type: ignore[return-value]


@dataclass
class Score:
    """The best CV accuracy of one set of blocks, with the C that reached it."""

    cv: float
    C: float


@dataclass
class Selection:
    """The greedy path: `chosen` in the order they were added, the CV score after each addition, every
    candidate's CV accuracy at every step (`steps[k][name]`)."""

    chosen: list[str] = field(default_factory=list)
    path: list[Score] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)

    @property
    def best(self) -> Score:
        return self.path[-1]


@dataclass
class SvmGrid:
    """The CV protocol of every score: the C grid, stratified folds (shuffled by seed), parallel fits."""

    cs: list[float]
    folds: int = 5
    jobs: int = 2
    seed: int = 0

    def score(self, gram: np.ndarray, y: np.ndarray) -> Score:
        """Best mean CV accuracy over the C grid of an SVM on the precomputed linear kernel `gram` (N, N)."""
        from joblib import parallel_config
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.svm import SVC

        cv = StratifiedKFold(min(self.folds, int(np.bincount(y).min())), shuffle=True, random_state=self.seed)
        search = GridSearchCV(SVC(kernel="precomputed"), {"C": list(self.cs)}, cv=cv, n_jobs=self.jobs, refit=False)
        with warnings.catch_warnings(), parallel_config(backend="threading"):
            warnings.simplefilter("ignore", UserWarning)
            search.fit(gram, y)
        means = search.cv_results_["mean_test_score"]
        i = int(np.argmax(means))  # the first best: the grid runs from small C up
        return Score(float(means[i]), float(search.cv_results_["params"][i]["C"]))


def final_model(gram: np.ndarray, y: np.ndarray, c: float) -> Any:
    """The chosen SVM refitted on the whole training split's kernel."""
    from sklearn.svm import SVC

    return SVC(kernel="precomputed", C=c).fit(gram, y)


def greedy(
    blocks: dict[str, np.ndarray],
    y: np.ndarray,
    grid: SvmGrid,
    norm: str = "l2",
    max_blocks: int = 4,
    min_gain: float = 0.002,
    progress: Any = None,
) -> Selection:
    """Forward selection of blocks by CV accuracy on (blocks, y), training features only.

    Args:
        blocks: name -> (N, D) raw training features, N the same for all.
        y: (N,) training labels.
        grid: how each candidate set is scored.
        norm: how every block is normalized (`NORMS`).
        max_blocks: stop after this many blocks.
        min_gain: a block joins only if it raises the CV accuracy by at least this much (the first always joins).
        progress: optional callable(step, name, score) told of every scored candidate.
    """
    grams = {n: kernel(blocks, blocks, [n], norm) for n in blocks}
    sel = Selection()
    current = np.zeros((len(y), len(y)))
    while len(sel.chosen) < min(max_blocks, len(blocks)):
        scores: dict[str, Score] = {}
        for name in blocks:
            if name in sel.chosen:
                continue
            scores[name] = grid.score(current + grams[name], y)
            if progress is not None:
                progress(len(sel.chosen), name, scores[name])
        sel.steps.append({n: s.cv for n, s in scores.items()})
        name = max(scores, key=lambda n: scores[n].cv)  # ties: the first candidate in the given order
        if sel.path and scores[name].cv < sel.best.cv + min_gain:
            break
        sel.chosen.append(name)
        sel.path.append(scores[name])
        current = current + grams[name]
    return sel


def figure(selections: dict[str, Selection], title: str, winner: str | None = None) -> Any:
    """Left: every block's CV accuracy alone (first step), one bar group per setting; right: the greedy path,
    CV accuracy after each added block, one line per setting (the `winner` setting's marked), blocks named."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
    names = list(next(iter(selections.values())).steps[0])
    width = 0.8 / len(selections)
    for k, (setting, sel) in enumerate(selections.items()):
        label = f"{setting} (chosen)" if setting == winner else setting
        alone = [sel.steps[0].get(n, np.nan) for n in names]
        left.bar(np.arange(len(names)) + k * width, alone, width, label=label)
        right.plot(range(1, len(sel.path) + 1), [s.cv for s in sel.path], marker="o", label=label)
        for i, (n, s) in enumerate(zip(sel.chosen, sel.path)):
            right.annotate(_short(n), (i + 1, s.cv), fontsize=7, rotation=20, xytext=(3, 3), textcoords="offset points")
    left.set_xticks(
        np.arange(len(names)) + 0.4 - width / 2, [_short(n) for n in names], rotation=60, ha="right", fontsize=7
    )
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


def _short(block: str) -> str:
    return block.replace("efficientnet_", "")
