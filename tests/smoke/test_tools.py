"""Smoke tests of the catalog commands and of `--help` on every command."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from visionlab.commands import all_commands


@pytest.mark.parametrize("label", [c.label for c in all_commands()])
def test_every_command_has_help(cli, label: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli(*label.split(), "--help")
    assert info.value.code == 0


def test_data_list(cli) -> None:
    result = cli("data", "list")
    assert result.code == 0
    for name in ("mnist", "mnist_m", "scene15", "cifar10", "celeba", "folder"):
        assert name in result.out
    assert "bundled 5,000-digit subset" in result.out


def test_models_list(cli) -> None:
    result = cli("models", "list", "--cuts")
    assert result.code == 0
    assert "efficientnet_lite0" in result.out and "relu5_3" in result.out


def test_prepare_mnist_m_synthesize(cli, tmp_path) -> None:
    result = cli("data", "prepare", "mnist_m", "--synthesize", "--data-root", tmp_path)
    assert result.code == 0, result.err
    assert (tmp_path / "mnist_m" / "mnist_m_test_labels.txt").exists()
    assert "present" in cli("data", "list", "--data-root", tmp_path).out


@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_offline_prepare_exits_3_and_leaves_nothing(cli, tmp_path, monkeypatch, name: str) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "fresh"
    result = cli("data", "prepare", name, "--data-root", root)
    assert result.code == 3
    assert result.err.startswith("error: cannot download") and result.err.count("\n") == 1
    assert not root.exists()


def test_prepare_without_a_download_says_how(cli) -> None:
    result = cli("data", "prepare", "mnist_m")
    assert result.code == 3 and "--synthesize" in result.err
    assert cli("data", "prepare", "nosuch").code == 2
