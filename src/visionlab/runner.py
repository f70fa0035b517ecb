"""Running one experiment command in its run folder: the one path shared by the CLI, the demo and the API.

`prepare` applies the two things that are decided once, where a run starts: the budget (`--quick`, see
`RunOptions.budgeted`) and the data root (`--data-root`, else `$VISIONLAB_DATA`, else the default). The
config that comes out is the one the run uses and records in config.json.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from visionlab.commands import Command
from visionlab.config import to_dict
from visionlab.options import DataOptions, RunOptions


def prepare(cfg: RunOptions) -> RunOptions:
    """The config a run uses: budget applied, data root resolved to a path."""
    from visionlab.data.base import default_root

    cfg = cfg.budgeted()
    if isinstance(cfg, DataOptions):
        cfg = dataclasses.replace(cfg, data_root=default_root(cfg.data_root))
    return cfg


def execute(cmd: Command, cfg: RunOptions, argv: list[str]) -> tuple[dict[str, Any], bool, Path]:
    """Run `cmd` with `cfg` in its run folder; a finished run of the same config is reused.

    Returns:
        (metrics, reused, folder): the run's metrics, whether they come from an earlier finished run,
        and the run folder.
    """
    from visionlab.engine import seed_everything
    from visionlab.runs import Run, default_out

    cfg = prepare(cfg)
    out = cfg.out or default_out(cmd.group or "", cmd.name)
    run = Run.open(out, cmd.label, to_dict(cfg), argv, force=cfg.force)
    done = None if cfg.force else run.finished_metrics()
    if done is not None:
        print(f"{cmd.label}: already finished in {run.final} (add --force to run it again)")
        print_metrics(done, run.final)
        return done, True, run.final
    if run.resumed:
        print(f"{cmd.label}: resuming the unfinished run in {run.path} from its checkpoints", flush=True)
    run.start()
    seed_everything(cfg.seed)
    start = time.perf_counter()
    try:
        metrics = cmd.function()(cfg, run)
    except KeyboardInterrupt:
        run.fail("interrupted", status="interrupted")
        raise
    except BaseException as err:
        run.fail(str(err) or type(err).__name__)
        raise
    clean = run.finish(metrics, time.perf_counter() - start)
    print_metrics(clean, run.final)
    return clean, False, run.final


def print_metrics(metrics: dict[str, Any], path: Path) -> None:
    """Print metrics one per line, then the run folder."""
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        shown = "n/a" if value is None else f"{value:.4g}"
        print(f"  {key:<{width}}  {shown}")
    print(f"run folder: {path}")
