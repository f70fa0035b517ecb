"""What a trained generator gives: uint8 images from noise, the fixed progress noise, the measured sample set.

Every draw is made on the generator's device with a generator from `engine.device_generator` (on the CPU
the same stream as a seeded `torch.Generator()`); images stay on that device until they are saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from visionlab.engine import device_generator, eval_mode
from visionlab.generate.data import to_uint8

# The seeds of the fixed progress noise and of the measured samples are `--seed` plus these offsets, so that
# they differ from each other and from the training noise.
FIXED_NOISE_SEED_OFFSET = 1
SAMPLES_SEED_OFFSET = 2
# Frames of an InfoGAN show one row per code value, for this many values at most.
MAX_CODE_ROWS = 16


@dataclass
class Trained:
    """A trained pair and its record: per-epoch mean logs, fixed-noise frames, training time.

    `g` is the generator samples come from: the moving average of G's weights under `--ema`, then `last_g` is
    the last G itself (None without `--ema`).
    """

    g: nn.Module
    d: nn.Module
    history: list[dict[str, float]]
    frames: dict[int, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    steps: int = 0
    already_finished: bool = False
    last_g: nn.Module | None = None


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's parameters."""
    return next(module.parameters()).device


@torch.no_grad()
def generate(g: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None, batch: int = 500) -> torch.Tensor:
    """uint8 images (N, C, 32, 32) on z's device from noise (and soft or one-hot labels), G in eval mode."""
    with eval_mode(g):
        cond = (lambda i: ()) if y is None else (lambda i: (y[i : i + batch],))
        return torch.cat([to_uint8(g(z[i : i + batch], *cond(i))) for i in range(0, len(z), batch)])


def fixed_inputs(
    nz: int, classes: int, seed: int, device: torch.device, codes: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The fixed noise of the progress frames: 64 vectors, or 10 per class (one row per class; `classes` 0: none),
    or for an InfoGAN code (`codes` > 0) 8 per code value, one row per value (the first 16 values at most)."""
    gen = device_generator(device, seed + FIXED_NOISE_SEED_OFFSET)
    if codes:
        rows = min(codes, MAX_CODE_ROWS)
        z = torch.randn(8 * rows, nz, generator=gen, device=device)
        z[:, :codes] = F.one_hot(torch.arange(rows, device=device).repeat_interleave(8), codes).to(z.dtype)
        return z, None
    if not classes:
        return torch.randn(64, nz, generator=gen, device=device), None
    y = torch.arange(classes, device=device).repeat_interleave(10)
    return torch.randn(10 * classes, nz, generator=gen, device=device), F.one_hot(y, classes).float()


def sample_set(g: nn.Module, count: int, nz: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`count` generated uint8 images on G's device (balanced labels for a conditional G, `classes` > 0)."""
    device = device_of(g)
    z = torch.randn(count, nz, generator=device_generator(device, seed + SAMPLES_SEED_OFFSET), device=device)
    if not classes:
        return generate(g, z), None
    labels = torch.arange(count, device=device) % classes
    return generate(g, z, F.one_hot(labels, classes).float()), labels
