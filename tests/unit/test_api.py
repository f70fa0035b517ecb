"""The Python API (`visionlab.run`, `load`, `experiments`, `parameters`) against the command line it stands for."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import visionlab as vl
from visionlab.api import _command, command_line
from visionlab.cli import _parse
from visionlab.report.html import _fmt

# The quick SVM run on the offline default (bundled digits, EfficientNet-Lite0): a few seconds on a CPU.
SVM = {"quick": True, "device": "cpu", "per_class": 5, "cs": [0.1, 1.0], "norms": ["l2"], "folds": 2}


@pytest.fixture(scope="module")
def svm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vl.Result]:
    """One quick `transfer svm` run through the API, in its own data root and cache."""
    base = tmp_path_factory.mktemp("api")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VISIONLAB_DATA", str(base / "data"))
        mp.setenv("VISIONLAB_CACHE", str(base / "cache"))
        yield vl.run("transfer svm", out=base / "svm", **SVM)


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def _untimed(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.startswith("time/")}


def test_run_gives_the_cli_metrics_for_the_same_config(svm: vl.Result, cli, tmp_path: Path) -> None:
    assert svm.command == "transfer svm" and svm.status == "done" and not svm.reused
    assert svm.metrics == _metrics(svm.path) and 0.3 <= svm.metrics["test/acc"] <= 1.0
    argv = shlex.split(svm.command_line)[1:]  # the command line recorded for the API run, without `visionlab`
    assert argv[:2] == ["transfer", "svm"] and "--quick" in argv
    assert argv[argv.index("--out") + 1] == str(svm.path)
    out = tmp_path / "cli"
    argv[argv.index("--out") + 1] = str(out)
    result = cli(*argv, "--data-root", svm.config["data_root"])
    assert result.code == 0, result.err
    assert _untimed(_metrics(out)) == pytest.approx(_untimed(svm.metrics))
    cli_config = json.loads((out / "config.json").read_text())["config"]
    assert {k: v for k, v in cli_config.items() if k != "out"} == {k: v for k, v in svm.config.items() if k != "out"}


@pytest.mark.parametrize(
    ("override", "argv"),
    [({"seed": -1}, ["--seed", "-1"]), ({"size": 20}, ["--size", "20"]), ({"cs": [0.0]}, ["--cs", "0"])],
)
def test_a_bad_value_raises_the_cli_error_with_its_message(cli, override: dict, argv: list[str]) -> None:
    expected = cli("transfer", "svm", *argv, "--quick").err.strip()
    with pytest.raises(vl.UsageError) as caught:
        vl.run("transfer svm", quick=True, **override)
    assert f"error: {caught.value}" == expected and caught.value.code == 2


def test_unknown_keywords_types_and_commands_are_named(tmp_path: Path) -> None:
    with pytest.raises(vl.UsageError, match=r"unknown key 'per_clas'.*valid keys: .*per_class"):
        vl.run("transfer svm", per_clas=3, out=tmp_path / "x")
    with pytest.raises(vl.UsageError, match=r"key 'per_class' must be of type int, got '3'"):
        vl.run("transfer svm", per_class="3", out=tmp_path / "x")
    with pytest.raises(vl.UsageError, match=r"unknown experiment 'transfer svn'.*transfer svm"):
        vl.run("transfer svn")
    assert not (tmp_path / "x").exists()


def test_load_round_trips(svm: vl.Result) -> None:
    again = vl.load(svm.path)
    for name in ("path", "command", "metrics", "config", "data", "seconds", "status", "command_line", "figures"):
        assert getattr(again, name) == getattr(svm, name), name
    assert set(svm.figures) == {p.stem for p in (svm.path / "figures").glob("*.png")} and svm.figures
    assert "bundled 5,000-digit subset" in (svm.data or "") and svm.samples == {} and svm.config["quick"] is True
    assert svm.figure(next(iter(svm.figures)))._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(vl.UsageError, match="has no figure 'nope'"):
        svm.figure("nope")


def test_load_of_a_folder_that_is_not_a_run_exits_3(tmp_path: Path) -> None:
    with pytest.raises(vl.MissingDataError, match="not a visionlab run folder") as caught:
        vl.load(tmp_path)
    assert caught.value.code == 3


def test_the_card_holds_every_figure_and_every_number(svm: vl.Result) -> None:
    html = svm._repr_html_()
    assert html.count("data:image/png;base64,") == len(svm.figures)
    for path in svm.figures.values():
        assert base64.b64encode(path.read_bytes()).decode() in html
    for key, value in svm.metrics.items():
        assert f'<span>{key}</span><span class="v">{_fmt(value)}</span>' in html
    assert "transfer svm" in html and "bundled 5,000-digit subset" in html and "per_class" in html
    assert "reused the finished run" not in html


def test_a_second_run_reuses_the_first_and_force_runs_again(svm: vl.Result) -> None:
    again = vl.run("transfer svm", out=svm.path, data_root=svm.config["data_root"], **SVM)
    assert again.reused and again.metrics == svm.metrics and again.seconds == svm.seconds
    assert "reused the finished run" in again._repr_html_()


def test_command_line_says_every_kind_of_value() -> None:
    images = ["bundled:cat", "bundled:coffee"]
    values = {"images": images, "seed": 3, "quick": True, "force": False, "weights": None, "backbones": ["a", "b"]}
    argv = command_line(_command("visualize  saliency"), {**values, "noise": 0.5})
    assert argv == [
        *("visualize", "saliency", "--seed", "3", "--quick", "--no-force", "--backbones", "a,b", "--noise", "0.5"),
        *images,
    ]
    parsed, cfg = _parse(argv)  # the CLI reads it back as the same config
    assert parsed.label == "visualize saliency" and cfg.images == images and cfg.backbones == ["a", "b"]
    assert (cfg.seed, cfg.quick, cfg.force, cfg.weights, cfg.noise) == (3, True, False, None, 0.5)


def test_experiments_and_parameters_come_from_the_registry() -> None:
    names = vl.experiments()
    assert {"transfer svm", "visualize saliency", "adapt dann", "generate dcgan"} <= set(names)
    assert "demo" not in names and "data list" not in names
    params = {p.name: p for p in vl.parameters("transfer svm")}
    assert params["per_class"].default == 0 and params["per_class"].option == "--per-class"
    assert params["per_class"].type == "int" and "per class" in params["per_class"].help
    assert params["crop"].type == "'center' | 'full'" and params["cs"].type == "list[float]"
    assert "<td><code>per_class</code></td>" in vl.parameters("transfer svm")._repr_html_()


def test_import_visionlab_stays_light() -> None:
    code = "import sys, visionlab as vl; vl.experiments(); print('torch' in sys.modules, vl.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", vl.__version__]
