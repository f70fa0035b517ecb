"""What a run's numbers depend on besides its configuration and data: library versions and the compute setup,
recorded in every run's config.json."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

_VERSIONED = (
    "visionlab",
    "torch",
    "torchvision",
    "timm",
    "numpy",
    "scikit-learn",
    "captum",
    "torchattacks",
    "torch-fidelity",
    "lightning-fabric",
    "matplotlib",
)


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that decide the numbers."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def compute() -> dict[str, Any]:
    """What else the numbers depend on: on a CPU a float sum splits over the intra-op threads, so one seed
    trains to the same numbers only with the same thread count; the CPU architecture and the GPUs seen."""
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "cuda_devices": torch.cuda.device_count(),
    }
