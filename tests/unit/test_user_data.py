"""Nothing the user made is lost, and every error a user can fix names the file, the value and the fix (issue 13)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.data import mnist_m
from visionlab.data.base import read_image
from visionlab.data.folders import load_folder
from visionlab.engine import load_checkpoint
from visionlab.errors import MissingDataError, UsageError
from visionlab.runs import Run


def _one_line(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def _fake_build(tmp: Path, root: Path | None, backgrounds: Path | None, seed: int) -> None:
    """A tiny MNIST-M in the release's layout (instead of 5,000 blended digits)."""
    for split in ("train", "test"):
        (tmp / f"mnist_m_{split}").mkdir()
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp / f"mnist_m_{split}" / "0.png")
        (tmp / f"mnist_m_{split}_labels.txt").write_text("0.png 7\n")
    (tmp / mnist_m._MARKER).write_text(json.dumps({"description": "fake"}))


# --- item 1: an MNIST-M folder is never replaced --------------------------------------------------------


def _users_folder(root: Path) -> Path:
    (root / "mnist_m" / "train").mkdir(parents=True)
    (root / "mnist_m" / "NOTES.txt").write_text("notes")
    return root / "mnist_m"


def test_synthesize_never_replaces_a_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(mnist_m, "_build", _fake_build)
    folder = _users_folder(tmp_path)
    with pytest.raises(MissingDataError, match="exists but holds no MNIST-M"):
        mnist_m.synthesize(tmp_path)
    assert (folder / "NOTES.txt").read_text() == "notes" and sorted(p.name for p in tmp_path.iterdir()) == ["mnist_m"]
    (folder / "mnist_m_test").mkdir()  # a partial release: still theirs
    with pytest.raises(UsageError, match="MNIST-M is already in"):
        mnist_m.synthesize(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["NOTES.txt", "mnist_m_test", "train"]
    fresh = tmp_path / "fresh"
    capsys.readouterr()
    assert mnist_m.synthesize(fresh) == fresh / "mnist_m" and sorted(p.name for p in fresh.iterdir()) == ["mnist_m"]
    assert f"synthesizing MNIST-M once in {fresh / 'mnist_m'}" in capsys.readouterr().err


def test_prepare_and_adapt_keep_a_users_mnist_m_folder(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(mnist_m, "_build", _fake_build)
    folder = _users_folder(tmp_path)
    result = cli("data", "prepare", "mnist_m", "--synthesize", "--data-root", tmp_path)
    assert result.code == 3 and _one_line(result.err) and str(folder) in result.err
    result = cli("adapt", "dann", "--data-root", tmp_path, "--quick", "--out", tmp_path / "run")
    assert result.code == 3 and "exists but holds no MNIST-M" in result.err
    assert _one_line(result.err) and "synthesizing" not in result.err  # no announcement of a build that never ran
    assert (folder / "NOTES.txt").read_text() == "notes" and sorted(p.name for p in folder.iterdir()) == [
        "NOTES.txt",
        "train",
    ]


def test_a_data_root_that_cannot_be_written(cli, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(mnist_m, "_build", _fake_build)
    monkeypatch.setenv("VISIONLAB_CACHE", str(tmp_path / "cache"))
    afile = tmp_path / "afile"
    afile.write_text("x")
    built = mnist_m.synthesize(afile)  # adapt's build falls back to the cache, and reuses it there
    assert built == tmp_path / "cache" / "mnist_m" and mnist_m.synthesize(afile) == built
    with pytest.raises(UsageError, match="cannot write to the data root"):
        mnist_m.synthesize(afile, fallback=False)
    err = capsys.readouterr().err
    assert err.count("synthesizing MNIST-M once in") == 1 and str(built) in err  # said once, when it builds there
    for name in ("mnist_m", "cifar10"):
        result = cli("data", "prepare", name, "--synthesize", "--data-root", afile)
        assert result.code == 2 and "is a file" in result.err and _one_line(result.err)
    assert afile.read_text() == "x"


# --- item 2: --force keeps the old run until the new one has finished ----------------------------------


def test_force_over_another_commands_run_keeps_none_of_its_files(cli, tmp_path: Path) -> None:
    out = tmp_path / "r"
    gan = Run.open(out, "generate dcgan", {"nz": 100}, ["generate", "dcgan"])
    gan.start()
    (gan.figures / "samples.png").write_bytes(b"png")
    gan.save_bytes("generator.pt", b"weights")
    gan.finish({"samples/fd": 1.0}, 1.0)
    result = cli("transfer", "inspect", "--out", out, "--force", "--backbone", "resnet18", "--weights", "none")
    assert result.code == 0, result.err
    assert "samples.png" not in {p.name for p in (out / "figures").iterdir()} and not (out / "generator.pt").exists()
    assert json.loads((out / "config.json").read_text())["experiment"] == "transfer inspect"


def test_a_run_that_fails_validation_does_not_block_its_out(cli, tmp_path: Path, monkeypatch) -> None:
    import visionlab.transfer.inspection as inspection

    real = inspection.run

    def refuses(cfg, run):  # noqa: ANN001, ANN202 - a check that only the run can make
        raise UsageError("--backbone resnet18 does not fit", "choose another")

    monkeypatch.setattr(inspection, "run", refuses)
    args = ("transfer", "inspect", "--out", tmp_path / "r", "--weights", "none")
    assert cli(*args, "--backbone", "resnet18").code == 2 and not (tmp_path / "r").exists()
    monkeypatch.setattr(inspection, "run", real)
    result = cli(*args, "--backbone", "alexnet")
    assert result.code == 0, result.err


# --- items 4, 5: no silent wrong answers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "what"),
    [("0.png 12", "'0.png 12'"), ("0.png", "'0.png'"), ("0.png seven", "'0.png seven'"), ("0.png 1 2", "")],
)
def test_mnist_m_label_lines_are_checked(tmp_path: Path, line: str, what: str) -> None:
    _fake_build(tmp_path, None, None, 0)
    (tmp_path / "mnist_m_test_labels.txt").write_text(f"0.png 3\n{line}\n")
    with pytest.raises(MissingDataError, match=r"mnist_m_test_labels\.txt, line 2: expected `NAME LABEL`") as err:
        mnist_m.load_mnist_m(tmp_path)
    assert what in str(err.value) and "0..9" in str(err.value)


def test_labels_csv_class_index_out_of_range(tmp_path: Path) -> None:
    from visionlab.visualize.inputs import _folder_items

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    for bad in ("5000", "-1", "cat"):
        (tmp_path / "labels.csv").write_text(f"filename,class_index\na.png,281\na.png,{bad}\n")
        with pytest.raises(UsageError, match=rf"labels\.csv, line 3: class_index '{bad}' is not an ImageNet class"):
            _folder_items(tmp_path)
    (tmp_path / "labels.csv").write_text("filename,class_index\na.png,281\n")
    assert _folder_items(tmp_path) == [(tmp_path / "a.png", (281,))]


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32896, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert read_image(tmp_path / "deep.png", "L")[0, 0].tolist() == [0, 1, 128, 255]
    assert read_image(tmp_path / "deep.png", "RGB")[:, 0, 2].tolist() == [128, 128, 128]


# --- fixable errors: one line, the file named, exit 2 or 3 ---------------------------------------------


def test_a_decompression_bomb_is_refused_by_name(tmp_path: Path, monkeypatch, recwarn) -> None:
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(MissingDataError, match=r"bomb\.png is too large to decode safely"):
        read_image(tmp_path / "bomb.png")
    assert read_image(tmp_path / "bomb.png", strict=False) is None
    assert "bomb.png" in str(recwarn[0].message)


def test_corrupt_checkpoint_and_garbage_weights_are_named(cli, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MissingDataError, match=r"checkpoint .*garbage\.pt is unreadable"):
        load_checkpoint(garbage)
    result = cli("transfer", "inspect", "--backbone", "resnet18", "--weights", garbage, "--out", tmp_path / "r")
    assert result.code == 3 and _one_line(result.err)
    assert "garbage.pt is not a readable PyTorch state dict (Unsupported operand" in result.err
    assert "weights_only" not in result.err
    torch.save([1, 2], tmp_path / "list.pt")
    result = cli("transfer", "inspect", "--backbone", "resnet18", "--weights", tmp_path / "list.pt")
    assert result.code == 3 and "not a state dict" in result.err


def test_demo_and_report_outputs_that_are_the_wrong_kind(cli, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("keep")
    result = cli("demo", "--out", tmp_path / "afile")
    assert result.code == 2 and "--out" in result.err and "is a file" in result.err and _one_line(result.err)
    assert (tmp_path / "afile").read_text() == "keep"
    run = Run.open(tmp_path / "runs" / "a", "transfer svm", {}, [])
    run.start()
    run.finish({"test/acc": 0.5}, 1.0)
    result = cli("report", tmp_path / "runs", "-o", tmp_path)
    assert result.code == 2 and "is a folder" in result.err and _one_line(result.err)


def test_report_skips_damaged_runs_and_says_which(cli, tmp_path: Path) -> None:
    for name in ("good", "torn-metrics", "torn-config"):
        run = Run.open(tmp_path / name, "transfer svm", {}, [])
        run.start()
        run.finish({"test/acc": 0.5}, 1.0)
    (tmp_path / "torn-metrics" / "metrics.json").write_text('{"test/acc": 0.')
    (tmp_path / "torn-config" / "config.json").write_bytes(b"\xff{")
    old = os.umask(0o022)
    try:
        result = cli("report", tmp_path)
    finally:
        os.umask(old)
    assert result.code == 0, result.err
    assert result.err.count("warning: skipping run") == 2
    assert "torn-metrics" in result.err and "torn-config" in result.err
    html = (tmp_path / "report.html").read_text()
    assert "good" in html and "torn-metrics" not in html
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644  # the umask's mode, not 0600


def test_offline_models_prepare_leaves_no_hub_folder(cli, tmp_path: Path, monkeypatch) -> None:
    def offline(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch" / "hub"))
    result = cli("models", "prepare", "resnet50")
    assert result.code == 3 and _one_line(result.err) and "cannot download" in result.err
    assert not (tmp_path / "torch").exists()


def test_celeba_without_gdown_says_how(cli, tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gdown" else real(name, *a))
    result = cli("data", "prepare", "celeba", "--data-root", tmp_path / "root")
    assert result.code == 3 and "pip install gdown" in result.err and _one_line(result.err)
    assert not (tmp_path / "root").exists()


def test_folder_with_two_images_per_class_says_the_test_split_is_empty(tmp_path: Path) -> None:
    for c in range(3):
        (tmp_path / f"c{c}").mkdir()
        for i in range(2):
            Image.fromarray(np.full((8, 8, 3), c * 50, np.uint8)).save(tmp_path / f"c{c}" / f"{i}.png")
    with pytest.raises(MissingDataError, match="leave the test split empty"):
        load_folder(tmp_path)


def test_an_out_that_cannot_be_written(cli, tmp_path: Path, monkeypatch) -> None:
    real = Path.mkdir

    def read_only(self: Path, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - as chmod 555 would (tests run as root)
        if self.is_relative_to(tmp_path / "ro"):
            raise PermissionError(13, "Permission denied", str(self))
        real(self, *args, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(Path, "mkdir", read_only)
    result = cli("transfer", "inspect", "--out", tmp_path / "ro" / "run")
    assert result.code == 2 and _one_line(result.err) and "cannot write the run folder beside" in result.err
    assert "Permission denied" in result.err and "choose a writable --out" in result.err
