"""`visionlab`: one entry point that parses the command line and dispatches; nothing else.

Errors the user can act on print one line `error: <what> (<how to fix>)` and exit 2 (bad command
line or config), 3 (missing data or weights) or 1; `--debug` anywhere shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from visionlab import __version__
from visionlab.commands import GROUPS, Command, all_commands
from visionlab.config import add_arguments, from_mapping, from_namespace
from visionlab.errors import UsageError, VisionlabError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that name the bad option and point at --help.

    A value that starts with a minus sign and a digit (`-1`, `-1,0.1`, `-2/255`) is a value, not an option.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"see `{self.prog} --help`")


def build_parser(commands: list[Command]) -> _Parser:
    """The full parser: tools, then one sub-parser per group, one per command."""
    parser = _Parser(
        prog="visionlab", description="Four classic deep-learning practicals on images, as reproducible commands."
    )
    parser.add_argument("--version", action="version", version=f"visionlab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    top = parser.add_subparsers(dest="_top", metavar="COMMAND", required=True, parser_class=_Parser)
    groups: dict[str, Any] = {}
    for cmd in commands:
        if cmd.group is None:
            sub = top.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        else:
            if cmd.group not in groups:
                gp = top.add_parser(cmd.group, help=GROUPS[cmd.group], description=GROUPS[cmd.group])
                groups[cmd.group] = gp.add_subparsers(
                    dest="_cmd", metavar="COMMAND", required=True, parser_class=_Parser
                )
            sub = groups[cmd.group].add_parser(cmd.name, help=cmd.help, description=cmd.help)
        add_arguments(sub, cmd.config)
        if cmd.experiment:
            sub.add_argument(
                "--config",
                dest="_config_file",
                type=Path,
                metavar="FILE",
                help="take option values from a JSON file (a run's config.json reproduces that run)",
            )
        sub.set_defaults(_command=cmd, _parser=sub)
    for name, help_text in GROUPS.items():  # groups whose commands are not there yet still show in --help
        if name not in groups:
            top.add_parser(name, help=help_text, description=help_text)
    return parser


def _parse(argv: list[str]) -> tuple[Command, Any]:
    parser = build_parser(all_commands())
    ns, extra = parser.parse_known_args(argv)
    cmd: Command | None = getattr(ns, "_command", None)
    if cmd is None:
        raise UsageError(f"`visionlab {ns._top}` has no commands yet", "see `visionlab --help`")
    if extra:
        raise UsageError(f"unrecognized arguments: {' '.join(extra)}", f"see `visionlab {cmd.label} --help`")
    file = getattr(ns, "_config_file", None)
    if file is not None:
        ns._parser.set_defaults(**_config_values(cmd, file))
        ns = parser.parse_args(argv)
    return cmd, from_namespace(cmd.config, ns)


def _config_values(cmd: Command, file: Path) -> dict[str, Any]:
    from visionlab.files import read_json

    try:
        data = read_json(file)
    except OSError as err:
        raise UsageError(f"cannot read config file {file}: {err.strerror}", "give a readable JSON file") from None
    if data is None:
        raise UsageError(f"config file {file} not found", "give the path of a JSON file, e.g. a run's config.json")
    if isinstance(data, dict) and "config" in data and "experiment" in data:
        data = data["config"]  # a run's config.json
    if not isinstance(data, dict):
        raise UsageError(f"config file {file} must hold a JSON object", 'write {"option_name": value, ...}')
    data.pop("out", None)
    return from_mapping(cmd.config, data, source=str(file))


def _show_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (a job scheduler, `kill`) stops like Ctrl-C: the run is marked interrupted, its checkpoints kept."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run `visionlab` with `argv` (default: the process's arguments); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    with warnings.catch_warnings():  # one-line warnings for this call only, restored afterwards
        warnings.showwarning = _show_warning
        previous = signal.getsignal(signal.SIGTERM)
        main_thread = _in_main_thread()
        if main_thread:
            signal.signal(signal.SIGTERM, _terminate)
        try:
            return _main(argv, debug)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _main(argv: list[str], debug: bool) -> int:
    try:
        cmd, cfg = _parse(argv)
        if cmd.experiment:
            from visionlab.runner import execute

            execute(cmd, cfg, argv)
            return 0
        return int(cmd.function()(cfg) or 0)
    except VisionlabError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.code
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted (finished work is kept; run the same command again to resume)", file=sys.stderr)
        return 130
    except OSError as err:  # a file or folder we could not read or write: name it
        if debug:
            raise
        where = f" {err.filename}" if err.filename else ""
        reason = err.strerror or str(err)
        print(f"error: cannot access{where}: {reason} (check the path and its permissions)", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - the last resort: one line, not a traceback
        if debug:
            raise
        print(f"error: {type(err).__name__}: {err} (run again with --debug for the traceback)", file=sys.stderr)
        return 1
