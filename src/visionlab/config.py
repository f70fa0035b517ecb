"""Typed configurations: dataclasses are the single source of defaults, help texts and types.

Every command has a dataclass config. `opt()` declares a field with its help text; `add_arguments`
turns the dataclass into argparse options (`data_root` -> `--data-root`), and `from_mapping`
builds a config from a JSON object (a `--config FILE` or a run's `config.json`), naming any unknown
key or wrong type. A config's own `validate()` checks the values that types alone cannot.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import types
import typing
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any, Literal

from visionlab.errors import UsageError

_MISSING = dataclasses.MISSING


def opt(
    default: Any = _MISSING,
    help: str = "",
    *,
    positional: bool = False,
    parse: Callable[[str], Any] | None = None,
    metavar: str | None = None,
    cli: bool = True,
    required: bool = False,
    short: str | None = None,
) -> Any:
    """Declare a config field.

    Args:
        default: the default value; a list default is copied per instance.
        help: one sentence for `--help`.
        positional: take the value from positional arguments (lists take one or more).
        parse: turns the command-line string into the value (for `2/255`, comma lists...).
        metavar: the placeholder shown in `--help`.
        cli: False for fields that are set by code only (never on the command line).
        required: a positional list that needs at least one value.
        short: a one-letter alias such as `-o`.
    """
    meta = {
        "help": help,
        "positional": positional,
        "parse": parse,
        "metavar": metavar,
        "cli": cli,
        "required": required,
        "short": short,
    }
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def parse_float(text: str) -> float:
    """Parse a finite float (`inf` and `nan` are refused: no option means them)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def parse_fraction(text: str) -> float:
    """Parse `0.01`, `2/255` or `8e-3` into a finite float."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number or fraction: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def parse_csv(text: str) -> list[str]:
    """Parse `a,b,c` into a list of non-empty strings."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """Return (inner type, optional) for `X | None`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _converter(tp: Any) -> Callable[[str], Any]:
    if tp is Path:
        return Path
    if tp is float:
        return parse_float
    if tp in (int, str):
        return tp
    raise TypeError(f"unsupported config type {tp!r}")


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one option (or positional) per field of the dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        tp, _ = _unwrap(hints[f.name])
        default = f.default if f.default is not _MISSING else f.default_factory()  # type: ignore[misc]
        kwargs: dict[str, Any] = {"help": _help_text(meta.get("help", ""), default)}
        origin = typing.get_origin(tp)
        if origin is Literal:
            kwargs["choices"] = list(typing.get_args(tp))
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is list:
            (item,) = typing.get_args(tp)
            if meta.get("positional"):
                kwargs["nargs"] = "+" if meta.get("required") else "*"
                kwargs["type"] = meta.get("parse") or _converter(item)
            else:
                kwargs["type"] = meta.get("parse") or parse_csv
        elif origin is not Literal:
            kwargs["type"] = meta.get("parse") or _converter(tp)
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if meta.get("positional"):
            if origin is not list:
                kwargs["nargs"] = "?"
            parser.add_argument(f.name, default=default, **kwargs)
        else:
            names = ([meta["short"]] if meta.get("short") else []) + ["--" + f.name.replace("_", "-")]
            parser.add_argument(*names, dest=f.name, default=default, **kwargs)


def _help_text(text: str, default: Any) -> str:
    if default is None or default == [] or isinstance(default, bool):
        return text
    return f"{text} (default: {default})".replace("%", "%%")


def from_namespace(cls: type, ns: argparse.Namespace) -> Any:
    """Build the dataclass `cls` from parsed arguments, then validate it."""
    values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls) if hasattr(ns, f.name)}
    cfg = cls(**values)
    validate(cfg)
    return cfg


def from_mapping(cls: type, values: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Check a JSON object (or Python keyword arguments) against `cls`; return the values as the field types.

    Raises:
        UsageError: for an unknown key (with the valid ones) or a value of the wrong type.
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in names:
            raise UsageError(f"{source}: unknown key {key!r}", f"valid keys: {', '.join(sorted(names))}")
        out[key] = _coerce(hints[key], value, f"{source}: key {key!r}")
    return out


def _coerce(tp: Any, value: Any, where: str) -> Any:
    inner, optional = _unwrap(tp)
    if value is None:
        if optional:
            return None
        raise UsageError(f"{where} may not be null")
    origin = typing.get_origin(inner)
    if origin is Literal:
        if value not in typing.get_args(inner):
            raise UsageError(f"{where} must be one of {list(typing.get_args(inner))}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise UsageError(f"{where} must be a list, got {value!r}")
        (item,) = typing.get_args(inner)
        return [_coerce(item, v, where) for v in value]
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        Path: lambda v: isinstance(v, (str, os.PathLike)),
    }[inner]
    if not ok(value):
        raise UsageError(f"{where} must be of type {inner.__name__}, got {value!r}")
    if inner is float and not math.isfinite(value):
        raise UsageError(f"{where} must be a finite number, got {value!r}")
    return Path(value) if inner is Path else (float(value) if inner is float else value)


def validate(cfg: Any) -> None:
    """Run the config's own `validate()` (if any): it raises `UsageError` on bad values."""
    check = getattr(cfg, "validate", None)
    if callable(check):
        check()


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of the config (paths as strings)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, list):
            value = [str(v) if isinstance(v, Path) else v for v in value]
        out[f.name] = value
    return out


def require(condition: bool, what: str, fix: str | None = None) -> None:
    """Raise `UsageError(what, fix)` unless `condition` holds: for `validate()` methods."""
    if not condition:
        raise UsageError(what, fix)
