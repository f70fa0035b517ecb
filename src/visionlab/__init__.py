"""visionlab: four classic deep-learning practicals on images as reproducible commands.

From Python (see `visionlab.api`)::

    import visionlab as vl
    r = vl.run("transfer svm", quick=True)   # a Result: r.metrics, r.figures, r.config; a card in Jupyter
    vl.load(r.path)                          # the same run, from its folder

`import visionlab` stays light: the API is imported on first use (the deep-learning libraries only when a run
needs them).
"""

from __future__ import annotations

import importlib
from typing import Any

from visionlab.errors import MissingDataError, UsageError, VisionlabError

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access.
_LAZY = {
    "run": "visionlab.api",
    "experiments": "visionlab.api",
    "parameters": "visionlab.api",
    "load": "visionlab.result",
    "Result": "visionlab.result",
}

__all__ = ["MissingDataError", "UsageError", "VisionlabError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'visionlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
