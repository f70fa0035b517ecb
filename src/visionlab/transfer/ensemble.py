"""`transfer ensemble`: several backbones and cuts side by side -> one linear SVM, every choice by CV on train.

Candidates are blocks `backbone.cut` (each backbone at its own input size, or `--size` scaled to it), in
up to four views (`views.py`): the centre crop or the mean of five crops (corners and centre), each with and
without flip averaging (the mean of an image's and its mirror image's features). With several `--sizes`,
every backbone at every size is a source of blocks, named `backbone@pixels.cut`, so that CV may put one
network's features at two image scales side by side (multi-scale CNN features, as in Gong et al. 2014).
Only the training features are extracted first, every cut and view of a backbone in one pass (the
five-crop flip pass yields the other three views too), and cached by content. `select.greedy` then
chooses, separately for each setting (view, `l2` or `sqrt` block normalization), which blocks go side by
side and with which C, by k-fold CV on the training split; the setting with the best CV accuracy wins.
Only then are the test images read, for the chosen blocks alone, and the refitted SVM is scored on them once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from visionlab.data import FileImages, TensorImages
from visionlab.engine import select_device
from visionlab.models import Backbone, load_backbone
from visionlab.runs import Run
from visionlab.transfer import select
from visionlab.transfer.commands import EnsembleConfig
from visionlab.transfer.features import cache_dir, extract
from visionlab.transfer.svm import confusion_figure, per_class_accuracy
from visionlab.transfer.targets import load_target
from visionlab.transfer.views import View

# view name -> (crop, flip averaging); `ten` is the five crops and their mirror images
VIEWS: dict[str, View] = {
    "plain": ("center", False), "flip": ("center", True), "five": ("five", False), "ten": ("five", True),
    "full": ("full", False), "fullflip": ("full", True),
}  # fmt: skip


@dataclass
class Candidates:
    """Training features of every candidate block, per view: view -> block name -> (N, D); labels; seconds."""

    blocks: dict[str, dict[str, np.ndarray]]
    labels: np.ndarray
    seconds: float


def block_name(backbone: str, cut: str) -> str:
    return f"{backbone}.{cut}"


def views_of(cfg: EnsembleConfig) -> list[str]:
    """The view names `--crop` and `--flip` leave to the CV choice, the cheapest first."""
    crops = ["center", "five"] if cfg.crop == "cv" else [cfg.crop]
    flips = {"cv": [False, True], "on": [True], "off": [False]}[cfg.flip]
    return [name for name, (crop, flip) in VIEWS.items() if crop in crops and flip in flips]


@dataclass
class Source:
    """One backbone at one image side: its blocks are `name.cut`."""

    name: str
    backbone: Backbone
    size: int  # pixels fed to the backbone


def sources(cfg: EnsembleConfig, backbones: dict[str, Backbone]) -> list[Source]:
    """Every backbone at every size of `--sizes` (default: `--size` alone, and then blocks keep plain names)."""
    sizes = cfg.sizes or [cfg.size]
    out = []
    for name, backbone in backbones.items():
        for size in sizes:
            px = backbone.spec.finetune_size(size)
            out.append(Source(name if len(sizes) == 1 else f"{name}@{px}", backbone, px))
    return out


def _kw(cfg: EnsembleConfig, src: Source, device: torch.device) -> dict:
    return dict(
        size=src.size,
        batch_size=cfg.batch_size,
        workers=cfg.workers,
        device=device,
        cache=cache_dir() if cfg.cache else None,
    )


def train_candidates(
    cfg: EnsembleConfig, backbones: dict[str, Backbone], train: TensorImages | FileImages, device: torch.device
) -> Candidates:
    """Every candidate block's training features in every view of `views_of(cfg)`: one pass per backbone
    and size, the costliest view's, which yields the others (or reads them all from the cache)."""
    views = views_of(cfg)
    out: dict[str, dict[str, np.ndarray]] = {v: {} for v in views}
    labels, seconds = np.zeros(0, dtype=np.int64), 0.0
    for src in sources(cfg, backbones):
        name, backbone, kw = src.name, src.backbone, _kw(cfg, src, device)
        crop, flip = VIEWS[views[-1]]
        main = extract(backbone, train, cfg.cuts, crop=crop, flip=flip, desc=f"{name} train", **kw)
        seconds += main.seconds
        for view in views:
            feats = main.by_cut if VIEWS[view] == (crop, flip) else main.byproducts.get(VIEWS[view], {})
            if not set(cfg.cuts) <= set(feats):  # the main view came from the cache: so do these (or computed)
                crop_, flip_ = VIEWS[view]
                again = extract(backbone, train, cfg.cuts, crop=crop_, flip=flip_, desc=f"{name} train", **kw)
                feats, seconds = again.by_cut, seconds + again.seconds
            out[view].update({block_name(name, c): feats[c] for c in cfg.cuts})
        labels = main.labels
    return Candidates(out, labels, seconds)


@dataclass
class Choice:
    """The winning setting (view and block normalization), its greedy selection, and every setting's."""

    view: str
    norm: str
    selection: select.Selection
    all: dict[str, select.Selection]


def choose(cfg: EnsembleConfig, cands: Candidates) -> Choice:
    """Greedy selection per setting (view x normalization); the setting whose selection has the best CV
    accuracy wins (ties: the first, the cheaper view before the costlier, l2 before sqrt)."""
    grid = select.SvmGrid(cfg.cs, cfg.folds, cfg.jobs, cfg.seed)

    def tell(step: int, name: str, score: select.Score) -> None:
        print(f"  step {step + 1}: + {name}: CV {score.cv:.4f} (C={score.C:g})", flush=True)

    sels: dict[str, select.Selection] = {}
    for view, blocks in cands.blocks.items():
        for norm in cfg.norms:
            print(f"choosing blocks ({view}, {norm}) by {cfg.folds}-fold CV on the training split", flush=True)
            sels[f"{view}_{norm}"] = select.greedy(blocks, cands.labels, grid, norm, cfg.max_blocks, cfg.min_gain, tell)
    best = max(sels, key=lambda k: sels[k].best.cv)
    view, norm = best.split("_")
    return Choice(view, norm, sels[best], sels)


def chosen_test_features(
    cfg: EnsembleConfig, backbones: dict[str, Backbone], data_test: TensorImages | FileImages, chosen: list[str],
    view: str, device: torch.device,
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:  # fmt: skip
    """The test features of the chosen blocks only (read after the choice): block -> (N, D), labels, seconds."""
    out: dict[str, np.ndarray] = {}
    labels, seconds = np.zeros(0, dtype=np.int64), 0.0
    for src in sources(cfg, backbones):
        cuts = [c for c in cfg.cuts if block_name(src.name, c) in chosen]
        if not cuts:
            continue
        crop, flip = VIEWS[view]
        kw = _kw(cfg, src, device)
        feats = extract(src.backbone, data_test, cuts, crop=crop, flip=flip, desc=f"{src.name} test", **kw)
        out.update({block_name(src.name, c): feats.by_cut[c] for c in cuts})
        labels, seconds = feats.labels, seconds + feats.seconds
    return out, labels, seconds


def run(cfg: EnsembleConfig, run: Run) -> dict[str, float]:
    """Extract train features of every candidate, choose by CV on train, then score the choice on test once."""
    start = time.perf_counter()
    device = select_device(cfg.device)
    backbones = {name: load_backbone(name) for name in cfg.backbones}
    for backbone in backbones.values():
        backbone.spec.check_cuts(cfg.cuts)
    data = load_target(cfg, cfg.seed, run)
    cands = train_candidates(cfg, backbones, data.train, device)
    select_start = time.perf_counter()
    choice = choose(cfg, cands)
    sel, view, norm = choice.selection, choice.view, choice.norm
    select_s = time.perf_counter() - select_start
    train = cands.blocks[view]
    model = select.final_model(select.kernel(train, train, sel.chosen, norm), cands.labels, sel.best.C)
    test, test_labels, test_s = chosen_test_features(cfg, backbones, data.test, sel.chosen, view, device)  # type: ignore[arg-type]
    pred = model.predict(select.kernel(test, train, sel.chosen, norm))
    cm, acc = per_class_accuracy(test_labels, pred, len(data.classes))
    run.note(
        chosen_blocks=sel.chosen,
        chosen_view=view,
        chosen_norm=norm,
        chosen_C=sel.best.C,
        image_sizes={src.name: src.size for src in sources(cfg, backbones)},
        cv_path={k: [round(s.cv, 4) for s in x.path] for k, x in choice.all.items()},
        classifier="linear SVM (libsvm, one-vs-one) on the sum of the chosen blocks' linear kernels",
        model_selection=(
            f"blocks (greedy forward), crop view, flip averaging, block normalization and C by {cfg.folds}-fold CV "
            "on the training split only; test features extracted after the choice, for the chosen blocks only, "
            "scored once"
        ),
    )
    name = data.description.split(" (")[0]
    run.save_figure(
        select.figure(choice.all, f"{name}: blocks chosen by {cfg.folds}-fold CV (training split)", f"{view}_{norm}"),
        "selection",
    )
    title = f"{' + '.join(sel.chosen)} ({view}, {norm}, C={sel.best.C:g})"
    run.save_figure(confusion_figure(cm, data.classes, title), "confusion")
    metrics: dict[str, float] = {
        "test/acc": float((pred == test_labels).mean()),
        "test/mean_class_acc": float(np.nanmean(acc)),
        "cv/acc": sel.best.cv,
        "svm/C": sel.best.C,
        "choice/flip": float(VIEWS[view][1]),
        "choice/five_crops": float(VIEWS[view][0] == "five"),
        "choice/sqrt": float(norm == "sqrt"),
        "choice/blocks": float(len(sel.chosen)),
        "features/dim": float(sum(test[b].shape[1] for b in sel.chosen)),
        "data/train_images": float(len(cands.labels)),
        "data/test_images": float(len(test_labels)),
        "time/extract_train_s": cands.seconds,
        "time/select_s": select_s,
        "time/extract_test_s": test_s,
        "time/total_s": time.perf_counter() - start,
    }
    for k, x in choice.all.items():
        metrics.update({f"cv/alone_{k}_{b}": s for b, s in x.steps[0].items()})
        metrics.update({f"cv/{k}_step{i + 1}": s.cv for i, s in enumerate(x.path)})
    return metrics
