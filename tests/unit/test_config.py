"""Configs: dataclass -> options, one-line errors with exit 2, --config files."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import pytest

from visionlab.config import add_arguments, from_mapping, opt, parse_fraction, to_dict
from visionlab.errors import UsageError
from visionlab.options import ComputeOptions, RunOptions


@dataclass
class _Cfg:
    images: list[str] = opt([], "images", positional=True)
    lr: float = opt(0.1, "learning rate")
    epochs: int = opt(3, "epochs")
    mode: Literal["a", "b"] = opt("a", "mode")
    root: Path | None = opt(None, "root")
    flag: bool = opt(False, "flag")
    names: list[str] = opt(["x"], "names")
    eps: float = opt(0.0, "eps", parse=parse_fraction)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser, _Cfg)
    return parser.parse_args(argv)


def test_fields_become_typed_options() -> None:
    ns = _parse(
        [
            "a.png",
            "b.png",
            "--lr",
            "0.5",
            "--epochs",
            "7",
            "--mode",
            "b",
            "--root",
            "/r",
            "--flag",
            "--names",
            "p,q",
            "--eps",
            "2/255",
        ]
    )
    assert ns.images == ["a.png", "b.png"]
    assert ns.lr == 0.5 and ns.epochs == 7 and ns.mode == "b" and ns.root == Path("/r") and ns.flag is True
    assert ns.names == ["p", "q"]
    assert ns.eps == pytest.approx(2 / 255)


def test_defaults_come_from_the_dataclass() -> None:
    ns = _parse([])
    assert (ns.lr, ns.epochs, ns.mode, ns.root, ns.flag, ns.names) == (0.1, 3, "a", None, False, ["x"])


def test_fraction_parser() -> None:
    assert parse_fraction("8/255") == pytest.approx(8 / 255)
    assert parse_fraction("0.25") == 0.25
    with pytest.raises(argparse.ArgumentTypeError):
        parse_fraction("1/0")


def test_mapping_names_unknown_key_and_wrong_type() -> None:
    assert from_mapping(_Cfg, {"lr": 1, "root": "/x"}) == {"lr": 1.0, "root": Path("/x")}
    with pytest.raises(UsageError, match="unknown key 'lrr'"):
        from_mapping(_Cfg, {"lrr": 1})
    with pytest.raises(UsageError, match="'epochs' must be of type int"):
        from_mapping(_Cfg, {"epochs": "3"})
    with pytest.raises(UsageError, match="must be one of"):
        from_mapping(_Cfg, {"mode": "c"})


def test_to_dict_is_json_ready() -> None:
    cfg = _Cfg(root=Path("/r"))
    assert json.loads(json.dumps(to_dict(cfg)))["root"] == "/r"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["classify", "bundled:cat", "--top", "x"], "argument --top: invalid int value: 'x'"),
        (["classify", "bundled:cat", "--bogus"], "unrecognized arguments: --bogus"),
        (["classify", "bundled:cat", "--top", "0"], "--top must be between 1 and 1000"),
        (["classify", "bundled:cat", "--device", "gpu"], "invalid choice: 'gpu'"),
        (["classify"], "the following arguments are required: IMAGE"),
        (["nosuchcommand"], "invalid choice: 'nosuchcommand'"),
        (["classify", "bundled:dog"], "unknown bundled photo 'dog'"),
        (["classify", "bundled:cat", "--backbone", "resnet51"], "did you mean resnet50"),
    ],
)
def test_bad_command_lines_exit_2_with_one_line(cli, argv: list[str], needle: str) -> None:
    result = cli(*argv)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.err
    assert "Traceback" not in result.err


def test_the_budget_caps_numbers_sets_lists_and_keeps_a_zero_that_switches_off() -> None:
    @dataclass
    class Budgeted(RunOptions):
        QUICK: ClassVar[dict] = {"epochs": 2, "limit": 100, "tsne": 50, "grid": (1, 2)}
        QUICK_KEEPS_ZERO: ClassVar[frozenset] = frozenset({"tsne"})
        epochs: int = 10
        limit: int = 0
        tsne: int = 0
        grid: tuple = field(default=(1, 2, 3, 4))

    assert Budgeted(epochs=1).budgeted() == Budgeted(epochs=1)  # no --quick: untouched
    quick = Budgeted(quick=True).budgeted()
    assert (quick.epochs, quick.limit, quick.tsne, quick.grid) == (2, 100, 0, (1, 2))
    assert Budgeted(quick=True, epochs=1, tsne=500).budgeted().epochs == 1
    assert Budgeted(quick=True, tsne=500).budgeted().tsne == 50
    with pytest.raises(UsageError, match="16-mixed needs a CUDA GPU"):
        ComputeOptions(precision="16-mixed").check_compute(64, device="cpu")
    ComputeOptions(precision="16-mixed").check_compute(64, device="auto")  # decided where the device is picked
