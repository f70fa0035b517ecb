"""Checkpoints: torch.save written atomically, read back with only tensors and plain containers allowed."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from visionlab.errors import MissingDataError, reason
from visionlab.files import atomic_write_bytes


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint`.

    Raises:
        MissingDataError: the file is truncated, corrupt or not a visionlab checkpoint (exit 3, the file named).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as err:
        raise MissingDataError(
            f"checkpoint {path} is unreadable ({reason(err, 120)})",
            "delete that file to train that part again, or run with --force to start over",
        ) from None


def save_checkpoint(path: Path, obj: dict[str, Any]) -> None:
    """Save `obj` with torch.save, atomically (a kill never leaves a torn checkpoint)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())
