"""The errors a user can act on. Each one becomes one line on stderr and an exit code.

The command-line contract: exit 2 for a bad command line or configuration, 3 for missing data or
weights, 1 for anything else. The message says what went wrong and, in parentheses, how to fix it.
"""

from __future__ import annotations


class VisionlabError(Exception):
    """An error with a one-line message, an optional fix, and an exit code."""

    code = 1

    def __init__(self, what: str, fix: str | None = None) -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what} ({fix})" if fix else what)


class UsageError(VisionlabError):
    """Bad command line or configuration value (exit 2)."""

    code = 2


class MissingDataError(VisionlabError):
    """A dataset, an image or a weight file is not where it should be, or cannot be read (exit 3)."""

    code = 3


class DivergenceError(VisionlabError):
    """Training produced NaN or infinite values (exit 1); the last good checkpoint is kept."""

    code = 1


def reason(err: BaseException, limit: int = 100) -> str:
    """A library exception's reason in one short line (torch's unpickler text shrinks to its actual cause)."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(err).__name__)
    return line.split(". ", 1)[0].rstrip(".")[:limit]  # the first sentence: the cause, not the advice
