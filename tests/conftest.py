"""Shared fixtures: the CLI as a function, tiny data, and the real datasets when present."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from visionlab.cli import main

torch.set_num_threads(min(2, os.cpu_count() or 1))


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `visionlab ARGS...` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True)
def _isolated_data_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees an empty data root unless it passes one: no test depends on a user's cache."""
    monkeypatch.setenv("VISIONLAB_DATA", str(tmp_path_factory.mktemp("data-root")))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test session has its own cache (shared by its tests, never the user's)."""
    monkeypatch.setenv("VISIONLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def shared_data(name: str) -> Path:
    """A real dataset from $VISIONLAB_TEST_DATA (set by the Makefile when one is beside the checkout)."""
    base = os.environ.get("VISIONLAB_TEST_DATA")
    path = Path(base) / name if base else None
    if path is None or not path.exists():
        pytest.skip(f"real dataset {name!r} not available (set VISIONLAB_TEST_DATA)")
    return path
