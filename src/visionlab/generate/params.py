"""The `generate sweep --param KEY=V1,V2` grammar (no torch: the command line checks it at once)."""

from __future__ import annotations

from typing import Any

SWEEP_KEYS = ("ngf_ndf", "init", "g_loss", "nz", "lr", "epochs")

_CHOICES = {"init": ("paper", "default"), "g_loss": ("non-saturating", "minimax")}


def _value(key: str, text: str) -> dict[str, Any]:
    """The config fields one sweep value sets."""
    if key == "ngf_ndf":
        parts = text.split("/")
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise ValueError(f"ngf_ndf values look like 256/8, got {text!r}")
        return {"ngf": int(parts[0]), "ndf": int(parts[1])}
    if key in _CHOICES:
        if text not in _CHOICES[key]:
            raise ValueError(f"{key} values are {', '.join(_CHOICES[key])}, got {text!r}")
        return {key: text}
    if key in ("nz", "epochs"):
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{key} values are integers >= 1, got {text!r}")
        return {key: int(text)}
    if key == "lr":
        try:
            lr = float(text)
        except ValueError:
            lr = -1.0
        if lr <= 0:
            raise ValueError(f"lr values are numbers > 0, got {text!r}")
        return {"lr": lr}
    raise ValueError(f"--param: unknown setting {key!r}")


def parse_param(text: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """`ngf_ndf=256/8,8/256` -> ("ngf_ndf", [(name, fields), ...]); ValueError on a bad spec."""
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not items:
        raise ValueError(f"--param looks like KEY=V1,V2, got {text!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"--param repeats a value: {text!r}")
    return key, [(f"{key}={v}", _value(key, v)) for v in items]
