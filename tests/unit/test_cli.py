"""The command line's contract on bad input: one line, the right exit code, nothing of the user's lost."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from visionlab.commands import all_commands


def test_every_registered_command_resolves_to_a_function() -> None:
    labels = [c.label for c in all_commands()]
    assert len(labels) == len(set(labels)) and len(labels) >= 28
    for cmd in all_commands():
        assert callable(cmd.function()), cmd.target


def test_a_number_that_is_not_finite_is_refused(cli, tmp_path: Path) -> None:
    result = cli("generate", "dcgan", "--lr", "inf", "--out", tmp_path / "r")
    assert result.code == 2 and "not a finite number: 'inf'" in result.err and result.err.count("\n") == 1
    assert not (tmp_path / "r").exists() and not list(tmp_path.iterdir())
    assert cli("visualize", "adversarial", "--eps", "nan").code == 2


def test_negative_values_reach_validation(cli) -> None:
    result = cli("adapt", "grl-sweep", "--lambdas", "-1,0.1", "--quick")
    assert result.code == 2 and "--lambdas must be >= 0" in result.err


def test_config_files_that_cannot_be_read(cli, tmp_path: Path) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"lr": 0.1, "note": "caf\xe9"}'.encode("latin-1"))
    result = cli("generate", "dcgan", "--config", latin)
    assert result.code == 2 and "latin.json is not valid JSON" in result.err
    assert cli("generate", "dcgan", "--config", tmp_path / "none.json").code == 2


def test_out_that_is_a_file_or_holds_something_else(cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep me")
    result = cli("transfer", "inspect", "--out", tmp_path / "file")
    assert result.code == 2 and "is a file" in result.err
    assert (tmp_path / "file").read_text() == "keep me"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{ not json")
    result = cli("transfer", "inspect", "--out", tmp_path / "bad")
    assert result.code == 2 and "config.json is not valid JSON" in result.err


def test_force_over_another_run_keeps_it_until_the_new_one_finishes(cli, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "r"
    assert cli("transfer", "inspect", "--out", out).code == 0
    before = {p.name: p.read_bytes() for p in (out / "figures").iterdir()}
    import visionlab.transfer.inspection as inspection

    def broken(cfg, run):  # noqa: ANN001, ANN202 - the replacement fails half-way
        (run.figures / "half.png").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(inspection, "run", broken)
    assert cli("transfer", "inspect", "--out", out, "--force").code == 1
    assert {p.name: p.read_bytes() for p in (out / "figures").iterdir()} == before
    assert json.loads((out / "config.json").read_text())["status"] == "done"


def test_sigterm_marks_the_run_interrupted(cli, tmp_path: Path, monkeypatch) -> None:
    import visionlab.transfer.inspection as inspection

    def killed(cfg, run):  # noqa: ANN001, ANN202
        os.kill(os.getpid(), signal.SIGTERM)
        pytest.fail("SIGTERM did not stop the run")

    monkeypatch.setattr(inspection, "run", killed)
    handler = signal.getsignal(signal.SIGTERM)
    result = cli("transfer", "inspect", "--out", tmp_path / "r")
    assert result.code == 130 and "interrupted" in result.err
    partial = json.loads((tmp_path / ".r.partial" / "config.json").read_text())
    assert partial["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) == handler  # restored after the call
