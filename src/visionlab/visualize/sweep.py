"""`visualize class-model --sweep KEY=V1,V2`: which settings vary, and the parser (no torch: parse-time checks)."""

from __future__ import annotations

SWEEPABLE = ("lr", "l2", "blur_every", "jitter", "iterations")


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """`lr=1,5,9` -> ("lr", [1.0, 5.0, 9.0]).

    Raises:
        ValueError: not KEY=V1,V2,... with KEY in `SWEEPABLE` and numbers as values.
    """
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or key not in SWEEPABLE:
        raise ValueError(f"--sweep must look like lr=1,5,9 with a key among {', '.join(SWEEPABLE)}")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--sweep values must be numbers: {values!r}") from None
    if not numbers:
        raise ValueError("--sweep needs at least one value")
    if key in ("blur_every", "jitter", "iterations") and any(v < 0 or v != int(v) for v in numbers):
        raise ValueError(f"--sweep {key} values must be whole numbers >= 0")
    return key, numbers
