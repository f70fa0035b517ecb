"""Weight files: reading a state dict a user names, and fetching torchvision's ImageNet weights.

Both end in one-line errors (exit 3) that name the file or address and say how to fix it; neither leaves
torch's text about `weights_only` nor an empty cache folder behind.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from visionlab.errors import MissingDataError, reason


def read_state_dict(path: Path) -> dict[str, Any]:
    """A state dict from `path`, read with only tensors and plain containers allowed.

    Raises:
        MissingDataError: the file is not a PyTorch state dict (garbage, truncated, or a pickled object).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, UnicodeDecodeError) as err:
        raise MissingDataError(
            f"{path} is not a readable PyTorch state dict ({reason(err)})",
            "pass a file saved with torch.save(model.state_dict(), PATH), or --weights none",
        ) from None
    if not isinstance(state, dict):
        raise MissingDataError(f"{path} holds a {type(state).__name__}, not a state dict", "save model.state_dict()")
    return state


def fetch(url: str) -> None:
    """Download `url` into torch's hub cache (checked by hash); on failure, remove the folders it made.

    Raises:
        MissingDataError: the download failed (offline, for instance).
    """
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True, weights_only=True)
    except OSError as err:
        for path in made:  # deepest first: only the folders this call made, and only while empty
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        raise MissingDataError(f"cannot download {url}: {err}", "check the network, or pass --weights PATH") from None
