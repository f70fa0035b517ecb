"""The Python API: the command line's experiments, configs and run folders, called from Python or Jupyter.

    import visionlab as vl

    r = vl.run("transfer svm", per_class=30, size=112, out="runs/svm")   # same as `visionlab transfer svm ...`
    r.metrics["test/acc"], r.figures, r.config, r.data
    r                                    # in Jupyter: the run's card (figures, numbers, configuration)
    vl.load("runs/svm")                  # a finished run, from its folder
    vl.experiments()                     # the commands `run` takes
    vl.parameters("transfer svm")        # their keyword arguments: type, default, help

`run` checks its keyword arguments as the command line checks options (an unknown name or a wrong type names
the key; a value out of range raises the same `UsageError`, with the same message, as the CLI's option), then
runs through the same path as the CLI (`runner.execute`): a finished run of the same config in `out` is reused,
an unfinished one resumes from its checkpoints, and `force=True` runs it again.
"""

from __future__ import annotations

import dataclasses
import html
import typing
from dataclasses import dataclass
from typing import Any, Literal

from visionlab.commands import Command, all_commands
from visionlab.config import from_mapping, validate
from visionlab.errors import UsageError
from visionlab.result import Result, load
from visionlab.runner import execute

__all__ = ["Parameter", "Parameters", "experiments", "parameters", "run"]


def experiments() -> dict[str, str]:
    """The experiment commands `run` takes, `"group name"` -> what it does."""
    return {c.label: c.help for c in all_commands() if c.experiment}


def _command(name: str) -> Command:
    """The experiment command called `name` (`"transfer svm"`).

    Raises:
        UsageError: no experiment command has that name.
    """
    found = {c.label: c for c in all_commands() if c.experiment}
    label = " ".join(str(name).split())
    if label not in found:
        raise UsageError(f"unknown experiment {name!r}", f"choose among: {', '.join(found)}")
    return found[label]


def run(command: str, /, **overrides: Any) -> Result:
    """Run the experiment `command` (e.g. `"transfer svm"`) with the given settings; return its `Result`.

    Keyword arguments are the command's options with underscores (`--per-class 30` -> `per_class=30`,
    `--no-cache` -> `cache=False`, lists as Python lists); the others keep their defaults. `out` names the run
    folder (default `runs/<group>-<command>-<time>`), `quick=True` gives the tiny budget, `force=True` runs a
    finished run again.

    Raises:
        UsageError: an unknown command or keyword, a wrong type, or a value the command refuses.
        MissingDataError: the data or weights are not there.
    """
    cmd = _command(command)
    values = from_mapping(cmd.config, overrides, source=f"run({cmd.label!r})")
    cfg = cmd.config(**values)
    validate(cfg)
    _, reused, folder = execute(cmd, cfg, command_line(cmd, values))
    return dataclasses.replace(load(folder), reused=reused)


def command_line(cmd: Command, values: dict[str, Any]) -> list[str]:
    """The `visionlab` arguments that set `values` (recorded in config.json: the same run from a shell)."""
    argv, positional = cmd.label.split(), []
    for f in dataclasses.fields(cmd.config):
        if f.name not in values or values[f.name] is None:
            continue
        value, flag = values[f.name], "--" + f.name.replace("_", "-")
        if f.metadata.get("positional"):
            positional += [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif isinstance(value, bool):
            argv.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, list):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, str(value)]
    return argv + positional


@dataclass(frozen=True)
class Parameter:
    """One keyword argument of `run` for a command: its command-line option, type, default and help."""

    name: str
    option: str
    type: str
    default: Any
    help: str


class Parameters(list[Parameter]):
    """The answer of `parameters()`: a list of `Parameter`, shown as a table in Jupyter and by `print`."""

    def __str__(self) -> str:
        width = max((len(p.name) for p in self), default=0)
        return "\n".join(f"{p.name:<{width}}  {p.type} = {p.default!r}\n{'':<{width}}  {p.help}" for p in self)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{p.name}</code></td><td>{html.escape(p.type)}</td>"
            f"<td><code>{html.escape(repr(p.default))}</code></td><td>{html.escape(p.help)}</td></tr>"
            for p in self
        )
        head = "<tr><th>keyword</th><th>type</th><th>default</th><th>what it sets</th></tr>"
        return f'<table class="visionlab-parameters">{head}{rows}</table>'


def parameters(command: str) -> Parameters:
    """The keyword arguments `run(command, ...)` takes: every option of the command, with its default and help."""
    cmd = _command(command)
    hints = typing.get_type_hints(cmd.config)
    out = Parameters()
    for f in dataclasses.fields(cmd.config):
        if not f.metadata.get("cli", True):
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        option = "--" + f.name.replace("_", "-") if not f.metadata.get("positional") else f.name.upper()
        out.append(Parameter(f.name, option, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return out


def _type_name(tp: Any) -> str:
    """`int`, `list[float]`, `'center' | 'full'`, `Path | None`: a type as a user reads it."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if args and origin is not None:  # a union such as `Path | None`
        return " | ".join(_type_name(a) for a in args)
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))
