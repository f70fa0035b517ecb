"""The `visionlab adapt` commands: config dataclasses and the functions they run."""

from __future__ import annotations

from visionlab.commands import Command

COMMANDS: list[Command] = []
