"""Every `visionlab transfer` command end to end with --quick, and the bad inputs users meet first."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionlab.demo import demo_steps, step_config
from visionlab.transfer.commands import COMMANDS, DEMO


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `root`: relative path -> (size, modification time in ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _class_folder(folder: Path, n: int, level: int) -> None:
    """`n` grey images of one class: horizontal stripes when `level` < 128, vertical ones otherwise, with noise."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(level)
    stripes = (np.arange(48) // 6 % 2 * 160 + 40)[None, :].repeat(48, 0)
    base = stripes if level >= 128 else stripes.T
    for i in range(n):
        pixels = np.clip(base + rng.normal(0, 10, size=base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")


def test_svm_quick_on_the_offline_default_says_it_fell_back(cli, tmp_path) -> None:
    out = tmp_path / "svm"
    result = cli("transfer", "svm", "--quick", "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    m = _metrics(out)
    assert m["test/acc"] > 0.3 and m["data/train_images"] == 100 and m["features/dim"] == 1280
    assert {f"test/acc_{d}" for d in range(10)} <= set(m) and m["svm/C"] in (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    # 10 test digits per class: the accuracy is the mean of the per-class accuracies
    assert m["test/acc"] == pytest.approx(np.mean([m[f"test/acc_{d}"] for d in range(10)]))
    assert m["test/acc"] == pytest.approx(m["test/mean_class_acc"])
    cfg = _config(out)
    assert cfg["config"]["per_class"] == 10 and cfg["config"]["size"] == 96 and cfg["config"]["folds"] == 3
    assert "bundled" in cfg["data"] and "bundled MNIST" in cfg["notes"]["data_fallback"]
    assert "training split only" in cfg["notes"]["model_selection"]
    assert "bundled MNIST" in result.out
    assert (out / "figures" / "confusion.png").exists()


def test_cut_sweep_then_svm_reuses_the_cached_features(cli, tmp_path) -> None:
    sweep = tmp_path / "sweep"
    args = ["--quick", "--device", "cpu"]
    result = cli("transfer", "cut-sweep", "--body-cuts", "block2,block4", "--head-cuts", "pool", "--out", sweep, *args)
    assert result.code == 0, result.err
    m = _metrics(sweep)
    assert m["sweep/cells"] == 5 and {"test/acc_block2+pool", "test/acc_-+pool", "test/acc_block4+-"} <= set(m)
    assert (sweep / "figures" / "cut_sweep.png").exists() and (sweep / "cut_sweep.csv").exists()
    svm = tmp_path / "svm"
    assert cli("transfer", "svm", "--cut", "block4", "--out", svm, *args).code == 0
    assert _config(svm)["notes"]["features_cached"] == ["block4"] and _metrics(svm)["time/extract_s"] == 0


def test_ensemble_quick_chooses_blocks_by_cv_and_reads_test_once(cli, tmp_path) -> None:
    out = tmp_path / "ens"
    args = ["--quick", "--backbones", "efficientnet_lite0", "--cuts", "block3,pool", "--out", out, "--device", "cpu"]
    result = cli("transfer", "ensemble", *args)
    assert result.code == 0, result.err
    m, cfg = _metrics(out), _config(out)
    notes = cfg["notes"]
    assert m["data/train_images"] == 100 and m["data/test_images"] == 100 and m["test/acc"] > 0.3
    assert set(notes["chosen_blocks"]) <= {"efficientnet_lite0.block3", "efficientnet_lite0.pool"}
    assert m["choice/blocks"] == len(notes["chosen_blocks"]) and m["svm/C"] == 1.0  # the quick grid is C = 1
    dims = {"efficientnet_lite0.block3": 80, "efficientnet_lite0.pool": 1280}
    assert m["features/dim"] == sum(dims[b] for b in notes["chosen_blocks"])
    setting = f"{notes['chosen_view']}_{notes['chosen_norm']}"  # quick: l2 only, crop view and flip by CV
    assert sorted(notes["cv_path"]) == ["five_l2", "flip_l2", "plain_l2", "ten_l2"] and m["choice/sqrt"] == 0
    assert m["choice/flip"] == (notes["chosen_view"] in ("flip", "ten"))
    assert m["choice/five_crops"] == (notes["chosen_view"] in ("five", "ten"))
    assert m["cv/acc"] == pytest.approx(max(path[-1] for path in notes["cv_path"].values()), abs=1e-4)
    first = notes["chosen_blocks"][0]
    assert m[f"cv/alone_{setting}_{first}"] == max(m[f"cv/alone_{setting}_{b}"] for b in dims)  # best block first
    assert "training split only" in notes["model_selection"] and notes["image_sizes"] == {"efficientnet_lite0": 96}
    assert (out / "figures" / "selection.png").exists() and (out / "figures" / "confusion.png").exists()


def test_c_sweep_quick_reports_score_and_fit_time_per_c(cli, tmp_path) -> None:
    out = tmp_path / "cs"
    result = cli("transfer", "c-sweep", "--quick", "--cs", "1e-4,1e-2,1", "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    m = _metrics(out)
    scores = {c: m[f"cv/acc_C{c}"] for c in ("0.0001", "0.01", "1")}
    assert all(m[f"time/fit_s_C{c}"] > 0 for c in scores)
    assert m["cv/best_acc"] == max(scores.values())  # the C with the best CV score is chosen, then tested
    assert m["svm/C"] == float(max(scores, key=scores.get)) and m["test/acc"] > 0.3
    assert (out / "figures" / "c_sweep.png").exists()


def test_finetune_quick_frozen_then_a_rerun_is_reused(cli, tmp_path) -> None:
    out = tmp_path / "freeze"
    result = cli("transfer", "finetune", "--quick", "--freeze", "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    m = _metrics(out)
    notes = _config(out)["notes"]
    assert notes["split"] == {"train": 80, "val": 20, "test": 100} and notes["image_size"] == 96  # --quick
    assert m["model/trainable_params"] == 12_810  # 1280 x 10 + 10: the new head only
    assert (out / "figures" / "curves.png").exists() and (out / "checkpoints" / "efficientnet_lite0.pt").exists()
    assert "last epoch" in _config(out)["notes"]["model_selection"]
    again = cli("transfer", "finetune", "--quick", "--freeze", "--out", out, "--device", "cpu")
    assert again.code == 0 and "already finished" in again.out and _metrics(out) == m


def test_compare_reports_missing_weights_and_finishes_the_others(cli, tmp_path) -> None:
    out = tmp_path / "cmp"
    result = cli(
        "transfer", "compare", "--backbones", "efficientnet_lite0,vgg16", "--quick", "--augment",
        "--out", out, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    m = _metrics(out)
    assert m["vgg16/missing"] == 1 and m["efficientnet_lite0/missing"] == 0 and m["compare/trained"] == 1
    assert "vgg16" not in {k.split("/")[0] for k in m if not k.endswith("missing")}
    table = (out / "compare.md").read_text()
    assert "| vgg16 | missing |" in table and (out / "figures" / "compare.png").exists()
    n_train = m["efficientnet_lite0/images_per_s"] * m["efficientnet_lite0/s_per_epoch"]  # training images per epoch
    assert n_train >= 1 and abs(n_train - round(n_train)) < 1e-6 and "| images/s |" in table
    assert m["efficientnet_lite0/params"] > 3e6 and "train only" in json.dumps(_config(out))  # all layers, augmented


def test_inspect_vgg16_without_weights_and_activations(cli, tmp_path) -> None:
    out = tmp_path / "inspect"
    assert cli("transfer", "inspect", "--backbone", "vgg16", "--weights", "none", "--out", out).code == 0
    m = _metrics(out)
    assert round(m["params/total"] / 1e6) == 138 and m["params/fc_share"] > 0.85 and m["output/size"] == 1000
    act = tmp_path / "act"
    assert cli("transfer", "activations", "bundled:coffee", "--out", act, "--device", "cpu").code == 0
    assert _metrics(act)["maps/channels"] == 32 and (act / "figures" / "activations.png").exists()


def test_unknown_cut_exits_2_listing_the_valid_ones(cli, tmp_path) -> None:
    result = cli("transfer", "svm", "--cut", "relu7", "--quick", "--out", tmp_path / "x")
    assert result.code == 2
    assert "unknown cut point 'relu7'" in result.err and "block3" in result.err and "pool" in result.err
    assert "Traceback" not in result.err


def test_folder_without_images_or_with_one_class_exits_3(cli, tmp_path) -> None:
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    result = cli("transfer", "svm", "--data", "folder", "--data-root", empty, "--out", tmp_path / "o1")
    assert result.code == 3 and "no images" in result.err
    one = tmp_path / "one"
    _class_folder(one / "only", 4, 100)
    result = cli("transfer", "svm", "--data", "folder", "--data-root", one, "--out", tmp_path / "o2")
    assert result.code == 3 and "1 class(es)" in result.err


def test_corrupt_jpegs_are_skipped_and_counted(cli, tmp_path) -> None:
    root = tmp_path / "folder"
    _class_folder(root / "dark", 8, 60)
    _class_folder(root / "bright", 8, 190)
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(buf, format="JPEG")
    (root / "dark" / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])  # header fine, data cut
    (root / "bright" / "garbage.jpg").write_bytes(b"not a jpeg at all")  # header unreadable
    out = tmp_path / "svm"
    before = _tree(root)
    result = cli(
        "transfer", "svm", "--data", "folder", "--data-root", root, "--size", "64", "--folds", "3",
        "--out", out, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert _tree(root) == before  # the user's data folder is left as it was: the feature cache is elsewhere
    assert len(list((Path(os.environ["VISIONLAB_CACHE"]) / "features").glob("*.npz"))) >= 2
    m = _metrics(out)
    assert m["data/skipped_images"] == 2 and m["test/acc"] == 1.0
    assert _config(out)["notes"]["skipped_images"] == 2 and "skipped 2 unreadable" in result.out


def test_every_command_registered_and_demo_steps_build() -> None:
    names = {c.name for c in COMMANDS}
    assert names == {"inspect", "activations", "svm", "cut-sweep", "c-sweep", "ensemble", "finetune", "compare"}
    steps = [s for s in demo_steps() if s.part == "transfer"]
    assert [s.label for s in steps] == [label for label, _, _ in DEMO]
    demo = dataclasses.make_dataclass("D", [("force", bool), ("device", str), ("data_root", object)])
    for step in steps:
        cfg = step_config(step, Path("demo"), demo(False, "cpu", None))
        assert cfg.out == Path("demo") / step.name
