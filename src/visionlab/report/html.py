"""The HTML report: one self-contained page from any set of run folders (figures embedded, no network).

Each run folder (a `config.json` written by `visionlab.runs`) becomes a card in its part's section:
its figures, its metrics as a table, the data actually used, and the config and command that made it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionlab.commands import GROUPS, ReportConfig
from visionlab.errors import MissingDataError, UsageError
from visionlab.runs import atomic_write_bytes, read_json

PARTS = ("transfer", "visualize", "adapt", "generate")
_MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


@dataclass
class RunRecord:
    """What the report shows of one run folder."""

    path: Path
    label: str
    experiment: str
    part: str
    status: str
    data: str | None
    command_line: str
    seconds: float | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    notes: dict[str, Any]
    error: str | None
    started: str
    figures: list[tuple[str, str]] = field(default_factory=list)  # (name, data URI)


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def load_run(folder: Path, root: Path) -> RunRecord | None:
    """Read one run folder; None when its config.json is not a visionlab run."""
    config = read_json(folder / "config.json")
    if not isinstance(config, dict) or "experiment" not in config:
        return None
    experiment = str(config["experiment"])
    part = experiment.split()[0] if experiment.split()[0] in PARTS else "other"
    figures = (
        sorted(p for p in (folder / "figures").glob("*") if p.suffix.lower() in _MIME)
        if (folder / "figures").is_dir()
        else []
    )
    return RunRecord(
        path=folder,
        label=str(folder.relative_to(root)) if folder != root else folder.name,
        experiment=experiment,
        part=part,
        status=str(config.get("status", "unknown")),
        data=config.get("data"),
        command_line=str(config.get("command_line", "")),
        seconds=config.get("seconds"),
        config=config.get("config", {}),
        metrics=read_json(folder / "metrics.json") or {},
        notes=config.get("notes", {}),
        error=config.get("error"),
        started=str(config.get("started", "")),
        figures=[(p.stem.replace("_", " "), _data_uri(p)) for p in figures],
    )


def collect_runs(root: Path) -> list[RunRecord]:
    """Every run folder under `root` (itself included), in part order, then in the order they started."""
    root = Path(root)
    if not root.is_dir():
        raise MissingDataError(f"no folder {root}", "give a folder that holds run folders")
    folders = sorted({p.parent for p in root.rglob("config.json")})
    runs = []
    for folder in folders:
        try:
            run = load_run(folder, root)
        except UsageError as err:  # one damaged run folder does not stop the report
            print(f"warning: skipping run {folder}: {err.what}", file=sys.stderr)
            continue
        if run is not None:
            runs.append(run)
    order = {p: i for i, p in enumerate((*PARTS, "other"))}
    return sorted(runs, key=lambda r: (order[r.part], r.started, r.label))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _environment() -> Any:
    """The Jinja2 environment of the report's templates (the page, the card, the notebook card)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("visionlab.report", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    env.filters["fmt"] = _fmt
    return env


def render_card(run: RunRecord, reused: bool = False) -> str:
    """One run as the report's card, styled on its own: what a `visionlab.Result` shows in Jupyter."""
    return _environment().get_template("result.html.j2").render(run=run, reused=reused)


def render(runs: list[RunRecord], title: str, summary: dict[str, Any] | None = None) -> str:
    """The report page as HTML text."""
    env = _environment()
    sections = [
        (part, GROUPS.get(part, "other runs"), [r for r in runs if r.part == part]) for part in (*PARTS, "other")
    ]
    return env.get_template("report.html.j2").render(
        title=title,
        sections=[s for s in sections if s[2] or s[0] in PARTS],
        runs=runs,
        summary=summary,
        generated=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    )


def write_report(runs_dir: Path, output: Path | None = None, title: str = "visionlab report") -> Path:
    """Render the report of every run under `runs_dir` into `output` (default RUNS_DIR/report.html), atomically."""
    runs_dir = Path(runs_dir)
    runs = collect_runs(runs_dir)
    if not runs:
        raise MissingDataError(
            f"no run folders under {runs_dir}", "give a folder holding visionlab run folders (config.json)"
        )
    output = Path(output) if output else runs_dir / "report.html"
    if output.is_dir():
        raise UsageError(f"-o {output} is a folder", f"give a file name, e.g. -o {output / 'report.html'}")
    try:
        summary = read_json(runs_dir / "demo_summary.json")
    except UsageError as err:
        print(f"warning: leaving out the demo summary: {err.what}", file=sys.stderr)
        summary = None
    atomic_write_bytes(output, render(runs, title, summary).encode())
    return output


def main(cfg: ReportConfig) -> int:
    """`visionlab report RUNS_DIR [-o FILE]`."""
    path = write_report(cfg.runs_dir, cfg.output)
    print(f"report: {path}")
    return 0
