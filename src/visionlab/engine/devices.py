"""Compute devices, seeding and per-device random generators.

Every tensor a step creates lives on the compute device: random draws take `device=` (and, where a
seeded stream is wanted, a generator made by `device_generator` on that same device).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from visionlab.errors import UsageError

PRECISIONS = ("32-true", "16-mixed", "bf16-mixed")


def select_device(name: str = "auto") -> torch.device:
    """Pick a device: `auto` tries cuda, then mps, then cpu; an unavailable one is a usage error."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise UsageError("--device cuda: no CUDA device is available", "use --device cpu or auto")
    if name == "mps" and not mps:
        raise UsageError("--device mps: no Apple MPS device is available", "use --device cpu or auto")
    if name not in {"cpu", "cuda", "mps"}:
        raise UsageError(f"unknown device {name!r}", "use auto, cpu, cuda or mps")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (every device); make CPU results repeatable. Returns a CPU generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def device_generator(device: torch.device | str, seed: int) -> torch.Generator | None:
    """A random generator on `device`, seeded with `seed`, for draws made on that device.

    On the CPU this is the same stream as `torch.Generator().manual_seed(seed)`. The `meta` device (used by
    the tests to prove that a step creates its tensors on the compute device) has no generator and no
    values: None is returned, and a draw with `generator=None` works there.
    """
    device = torch.device(device)
    if device.type == "meta":
        return None
    return torch.Generator(device=device).manual_seed(seed)


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision the device cannot run (16-bit float autocast needs a CUDA GPU)."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}", f"choose one of {', '.join(PRECISIONS)}")
    if precision == "16-mixed" and device.type != "cuda":
        raise UsageError(
            f"--precision 16-mixed needs a CUDA GPU, not {device.type}", "use --precision bf16-mixed or 32-true"
        )
