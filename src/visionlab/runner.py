"""Running one experiment command inside its run folder: the path shared by the CLI and the demo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from visionlab.commands import Command
from visionlab.config import to_dict


def execute(cmd: Command, cfg: Any, argv: list[str]) -> tuple[dict[str, Any], bool]:
    """Run `cmd` with `cfg` in its run folder; a finished run of the same config is reused.

    Returns:
        (metrics, reused): the run's metrics, and whether they come from an earlier finished run.
    """
    from visionlab.engine import seed_everything
    from visionlab.runs import Run, default_out

    out = cfg.out or default_out(cmd.group or "", cmd.name)
    run = Run.open(out, cmd.label, to_dict(cfg), argv, force=cfg.force)
    done = None if cfg.force else run.finished_metrics()
    if done is not None:
        print(f"{cmd.label}: already finished in {run.path} (add --force to run it again)")
        print_metrics(done, run.path)
        return done, True
    run.start()
    seed_everything(cfg.seed)
    start = time.perf_counter()
    try:
        metrics = cmd.function()(cfg, run)
    except BaseException as err:
        run.fail(str(err) or type(err).__name__)
        raise
    clean = run.finish(metrics, time.perf_counter() - start)
    print_metrics(clean, run.path)
    return clean, False


def print_metrics(metrics: dict[str, Any], path: Path) -> None:
    """Print metrics one per line, then the run folder."""
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        shown = "n/a" if value is None else f"{value:.4g}"
        print(f"  {key:<{width}}  {shown}")
    print(f"run folder: {path}")
