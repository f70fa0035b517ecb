"""Run folders: atomic writes that survive a kill, flat numeric metrics, reuse of finished runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from visionlab.errors import UsageError
from visionlab.runs import Run, clean_metrics

_WRITER = """
import sys
from visionlab.runs import atomic_write_json
path = sys.argv[1]
i = 0
while True:
    i += 1
    atomic_write_json(path, {"i": i, "payload": ["x" * 1000] * 2000})
"""


def test_atomic_json_survives_kill(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)])
    try:
        deadline = time.time() + 60
        while not target.exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    data = json.loads(target.read_text())  # a whole file, never a truncated one
    assert data["i"] >= 1 and len(data["payload"]) == 2000
    leftovers = [p for p in os.listdir(tmp_path) if p != "metrics.json"]
    assert all(p.endswith(".tmp") for p in leftovers)


def test_metrics_must_be_flat_numbers() -> None:
    assert clean_metrics({"test/acc": 0.5, "n": 3, "bad": float("nan")}) == {"test/acc": 0.5, "n": 3.0, "bad": None}
    with pytest.raises(TypeError):
        clean_metrics({"nested": {"a": 1}})
    with pytest.raises(TypeError):
        clean_metrics({"flag": True})


def test_run_folder_files(tmp_path: Path) -> None:
    run = Run.open(tmp_path / "r", "transfer svm", {"c": 1.0, "out": "x"}, ["transfer", "svm"])
    run.start()
    run.set_data("mnist (bundled 5,000-digit subset: 4,000 train / 1,000 test)")
    run.finish({"test/acc": 0.75}, 1.5)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["status"] == "done" and config["data"].startswith("mnist (bundled")
    assert config["command_line"] == "visionlab transfer svm"
    assert "torch" in config["versions"]
    assert config["compute"]["torch_threads"] == torch.get_num_threads() >= 1
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == {"test/acc": 0.75}
    again = Run.open(tmp_path / "r", "transfer svm", {"c": 1.0, "out": "elsewhere"})
    assert again.finished_metrics() == {"test/acc": 0.75}
    with pytest.raises(UsageError, match="already holds another run"):
        Run.open(tmp_path / "r", "transfer svm", {"c": 2.0})


def _finish(path: Path, config: dict, force: bool = False, figure: str = "a", value: float = 0.5) -> Run:
    run = Run.open(path, "generate dcgan", config, ["generate", "dcgan"], force=force)
    run.start()
    (run.figures / f"{figure}.png").write_bytes(b"png")
    run.finish({"samples/fd": value}, 1.0)
    return run


def test_a_run_works_beside_out_and_appears_only_when_finished(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run = Run.open(out, "generate dcgan", {"nz": 100}, ["generate", "dcgan"])
    run.start()
    assert run.path == tmp_path / ".r.partial" and not out.exists()  # --out holds a finished run or nothing
    run.fail("boom")
    assert not out.exists() and json.loads((run.path / "config.json").read_text())["status"] == "failed"
    run = _finish(out, {"nz": 100})
    assert run.path == out and (out / "figures" / "a.png").exists() and not (tmp_path / ".r.partial").exists()


def test_force_replaces_a_finished_run_only_once_the_new_one_has_finished(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _finish(out, {"nz": 100})
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "generator.pt").write_bytes(b"weights")
    failing = Run.open(out, "generate dcgan", {"nz": 100}, force=True)
    failing.start()
    failing.fail("data missing")  # the replacement failed: the old run is intact
    assert json.loads((out / "config.json").read_text())["status"] == "done"
    assert (out / "checkpoints" / "generator.pt").read_bytes() == b"weights"
    assert json.loads((out / "metrics.json").read_text()) == {"samples/fd": 0.5}
    _finish(out, {"nz": 7}, force=True, figure="b", value=0.25)  # another config replaces it, nothing stale
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["b.png"]
    assert not (out / "checkpoints").exists() and json.loads((out / "metrics.json").read_text()) == {"samples/fd": 0.25}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_a_kill_between_the_two_renames_of_a_force_loses_no_run(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _finish(out, {"nz": 100})
    out.rename(tmp_path / ".r.replaced")  # killed after the old run moved away, before the new one moved in
    run = Run.open(out, "generate dcgan", {"nz": 100})
    assert run.finished_metrics() == {"samples/fd": 0.5}  # the old run is back where it was
    assert not (tmp_path / ".r.replaced").exists()


def test_resume_and_what_out_may_hold(tmp_path: Path) -> None:
    out = tmp_path / "r"
    first = Run.open(out, "generate dcgan", {"nz": 100})
    first.start()
    (first.checkpoints).mkdir()
    (first.checkpoints / "gan.pt").write_bytes(b"epoch 3")
    again = Run.open(out, "generate dcgan", {"nz": 100})
    assert again.resumed and (again.checkpoints / "gan.pt").exists()
    with pytest.raises(UsageError, match="checkpoints of an unfinished run with other settings"):
        Run.open(out, "generate dcgan", {"nz": 5})
    fresh = Run.open(out, "generate dcgan", {"nz": 5}, force=True)  # --force discards them
    assert not fresh.resumed and not fresh.checkpoints.exists()
    nothing = Run.open(out, "generate dcgan", {"nz": 6})  # a partial run without checkpoints: nothing to lose
    assert not nothing.resumed
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        Run.open(tmp_path / "file", "generate dcgan", {})
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds files that are not a visionlab run"):
        Run.open(tmp_path / "mine", "generate dcgan", {}, force=True)
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "config.json").write_bytes(b'{"experiment": "generate dc')
    with pytest.raises(UsageError, match=r"torn/config\.json is not valid JSON"):
        Run.open(tmp_path / "torn", "generate dcgan", {})


def test_run_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        _finish(tmp_path / "r", {"nz": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "r" / "metrics.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "r" / "config.json").stat().st_mode & 0o777 == 0o644


def test_a_partial_named_folder_someone_else_filled_is_refused_not_deleted(tmp_path: Path) -> None:
    """`.NAME.partial` is where a run is built; a folder of that name holding files but no run record is not ours."""
    theirs = tmp_path / ".r.partial"
    theirs.mkdir()
    (theirs / "draft.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a visionlab run's"):
        Run.open(tmp_path / "r", "generate dcgan", {"nz": 6})
    assert (theirs / "draft.txt").read_text() == "mine"
    (theirs / "draft.txt").unlink()  # an empty one (a kill before config.json was written) is ours to replace
    (theirs / "figures").mkdir()
    assert Run.open(tmp_path / "r", "generate dcgan", {"nz": 6}).path == theirs
