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
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == {"test/acc": 0.75}
    again = Run.open(tmp_path / "r", "transfer svm", {"c": 1.0, "out": "elsewhere"})
    assert again.finished_metrics() == {"test/acc": 0.75}
    with pytest.raises(UsageError, match="already holds another run"):
        Run.open(tmp_path / "r", "transfer svm", {"c": 2.0})
