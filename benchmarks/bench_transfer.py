"""Frozen-feature extraction: a cut sweep's one pass against a single-cut pass, and extraction against the bare model.

Both are ratios measured side by side in one run on the same JPEG files (the bundled photos, written
as JPEGs into a temporary folder, 240 in all): `extract` decodes and prepares them in a DataLoader worker
while the backbone runs; the bare forward gets the already prepared batch. The passes are interleaved
(round after round, each variant once per round, the best round counted) so that a shared CPU's load hits
every variant alike. 240 images (about 10 s a pass on one CPU thread) make a pass long enough that its fixed
costs (starting the worker, the first batch's decoding, the features' fingerprint) weigh what they weigh on
a real dataset; with 48 images they were a quarter of the pass.

With 15-Scene under $VISIONLAB_TEST_DATA, also the wall of `transfer cut-sweep` against `transfer svm`, each
from an empty feature cache (the issue's goal: at most 1.2x), on `BENCH_SCENE_PER_CLASS` images per class and
split (default 0: all 1,500 + 2,985; a few minutes each on a 2-core CPU). `BENCH_SCENE_KEEP=DIR` keeps the two
runs (DIR/svm, DIR/sweep: metrics, figures, the sweep's CSV) instead of deleting them with the caches;
`python benchmarks/bench_transfer.py scene15` runs this comparison alone.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from visionlab.cli import main as visionlab
from visionlab.data import FileImages
from visionlab.data.photos import PHOTOS, photo_tensor
from visionlab.models import load_backbone
from visionlab.transfer.features import extract
from visionlab.transfer.targets import image_transform

SIZE = 224
COPIES = 40  # 6 photos x 40 = 240 images
ROUNDS = 3


def _files(folder: Path) -> FileImages:
    paths = []
    for i in range(COPIES):
        for name in PHOTOS:
            path = folder / f"{name}-{i}.jpg"
            Image.fromarray(photo_tensor(name).permute(1, 2, 0).numpy()).save(path, quality=90)
            paths.append(path)
    return FileImages(paths, [0] * len(paths))


def _interleaved(fns: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict[str, float]:
    """Best seconds of each function over `rounds` rounds, each round calling every function once in turn
    (after one warm-up call each)."""
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    backbone = load_backbone("efficientnet_lite0")
    cuts = list(backbone.spec.cuts)
    with tempfile.TemporaryDirectory() as tmp:
        data = _files(Path(tmp))
        kw = dict(size=SIZE, batch_size=16, workers=1)
        prep = image_transform(backbone.spec, SIZE, "center")
        batch = torch.stack([prep(data[i][0]) for i in range(len(data))]).contiguous(memory_format=torch.channels_last)
        net = backbone.to(memory_format=torch.channels_last)

        def bare() -> None:
            with torch.inference_mode():
                for i in range(0, len(batch), 16):
                    net(batch[i : i + 16])

        best = _interleaved(
            {
                "bare": bare,
                "single": lambda: extract(backbone, data, [backbone.spec.penultimate], **kw),
                "every": lambda: extract(backbone, data, cuts, **kw),
            }
        )
    n, single, every, bare_s = len(data), best["single"], best["every"], best["bare"]
    print(f"images: {n} (best of {ROUNDS} interleaved rounds)")
    print(f"cuts_captured: {len(cuts)}")
    print(f"single_cut_extract_s: {single:.2f}")
    print(f"all_cuts_one_pass_s: {every:.2f}")
    print(f"all_cuts_over_single_cut_ratio: {every / single:.2f}")
    print(f"naive_separate_passes_ratio: {len(cuts):.0f}")
    print(f"bare_forward_images_per_s: {n / bare_s:.1f}")
    print(f"extract_images_per_s: {n / single:.1f}")
    print(f"extract_over_bare_ratio: {bare_s / single:.2f}")


def _wall(args: list[str], cache: Path) -> float:
    """Seconds of one `visionlab` command run in this process with `cache` as its (empty) feature cache."""
    os.environ["VISIONLAB_FEATURE_CACHE"] = str(cache)
    start = time.perf_counter()
    code = visionlab(args)
    if code != 0:
        raise SystemExit(f"visionlab {' '.join(args)} exited {code}")
    return time.perf_counter() - start


def scene15_walls() -> None:
    """`cut-sweep` wall over `svm` wall on 15-Scene, both from empty caches, side by side."""
    base = os.environ.get("VISIONLAB_TEST_DATA")
    if not base or not (Path(base) / "15scene").exists():
        print("scene15_walls: skipped (no 15scene under $VISIONLAB_TEST_DATA)")
        return
    per_class = os.environ.get("BENCH_SCENE_PER_CLASS", "0")
    keep = os.environ.get("BENCH_SCENE_KEEP")
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(keep) if keep else Path(tmp)
        common = ["--data", "scene15", "--data-root", base, "--per-class", per_class, "--device", "cpu", "--force"]
        svm = _wall(["transfer", "svm", *common, "--out", str(runs / "svm")], Path(tmp, "cache-svm"))
        sweep = _wall(["transfer", "cut-sweep", *common, "--out", str(runs / "sweep")], Path(tmp, "cache-sweep"))
        parts = {name: json.loads((runs / name / "metrics.json").read_text()) for name in ("svm", "sweep")}
    print(f"scene15_per_class: {per_class}")
    print(f"svm_wall_s: {svm:.1f}")
    print(f"cut_sweep_wall_s: {sweep:.1f}")
    for name, m in parts.items():  # where the seconds went
        print(f"{name}_extract_s: {m['time/extract_s']:.1f}")
        print(f"{name}_fit_s: {m['time/fit_s']:.1f}")
    print(f"cut_sweep_over_svm_ratio: {sweep / svm:.2f}")
    if keep:
        print(f"runs_kept_in: {runs}")


if __name__ == "__main__":
    if sys.argv[1:] != ["scene15"]:
        main()
    scene15_walls()
