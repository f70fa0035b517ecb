"""`visionlab demo`: a short version of every part on the embedded default, then one HTML report.

The steps come from each part's `DEMO` list (in `visionlab.<part>.commands`). Each step is an ordinary
run folder `<out>/<part>-<label>`: a finished step is reused when the demo runs again, so a killed demo
resumes where it stopped, and the report is written (atomically) only from what is on disk.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionlab.commands import GROUP_MODULES, Command, DemoConfig, all_commands
from visionlab.config import from_mapping, validate
from visionlab.errors import UsageError, VisionlabError
from visionlab.options import RunOptions

PARTS = ("transfer", "visualize", "adapt", "generate")
_KEY_HINTS = ("target/acc", "label_acc", "test/acc", "acc", "success_rate", "prob", "frechet", "fd", "auc", "spearman")


@dataclass
class Step:
    """One demo step: a command of a part with its short-budget overrides."""

    part: str
    label: str
    command: Command
    overrides: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.part}-{self.label}"


def demo_steps() -> list[Step]:
    """Every part's DEMO list, in part order."""
    commands = {(c.group, c.name): c for c in all_commands()}
    steps = []
    for part in PARTS:
        for label, name, overrides in getattr(importlib.import_module(GROUP_MODULES[part]), "DEMO", []):
            steps.append(Step(part, label, commands[(part, name)], dict(overrides)))
    return steps


def step_config(step: Step, out: Path, cfg: DemoConfig) -> RunOptions:
    """The step's config: command defaults, the step's overrides, then the demo's out/device/data root."""
    values = {k: (v.replace("{demo}", str(out)) if isinstance(v, str) else v) for k, v in step.overrides.items()}
    values = from_mapping(step.command.config, values, source=f"demo step {step.name}")
    fields = {f.name for f in dataclasses.fields(step.command.config)}
    values.update(out=out / step.name, force=cfg.force)
    if "device" in fields:
        values["device"] = cfg.device
    if "data_root" in fields and cfg.data_root is not None and "data_root" not in step.overrides:
        values["data_root"] = cfg.data_root
    config = step.command.config(**values)
    validate(config)
    return config


def key_metrics(metrics: dict[str, Any], n: int = 3) -> dict[str, Any]:
    """The few numbers worth a summary line: accuracies, success rates, distances first."""
    ranked = sorted(metrics, key=lambda k: next((i for i, h in enumerate(_KEY_HINTS) if h in k), len(_KEY_HINTS)))
    return {k: metrics[k] for k in ranked[:n]}


def run_step(step: Step, out: Path, cfg: DemoConfig) -> dict[str, Any]:
    """Run one step; its failure is recorded, not raised (the other steps still run)."""
    from visionlab.runner import execute

    start = time.perf_counter()
    record: dict[str, Any] = {"label": step.name, "part": step.part, "command": step.command.label}
    try:
        metrics, reused, _ = execute(step.command, step_config(step, out, cfg), ["demo", step.command.label])
        record.update(status="done", reused=reused, key_metrics=key_metrics(metrics))
    except VisionlabError as err:
        record.update(status="failed", error=str(err), key_metrics={})
    except Exception as err:  # noqa: BLE001 - one broken step must not lose the others
        record.update(status="failed", error=f"{type(err).__name__}: {err}", key_metrics={})
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


def main(cfg: DemoConfig) -> int:
    """Run every step, write demo_summary.json and report.html, print the summary."""
    from visionlab.engine import progress
    from visionlab.report.html import write_report
    from visionlab.runs import atomic_write_json

    out = Path(cfg.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        why = "is a file" if out.exists() and not out.is_dir() else f"cannot be made ({err.strerror})"
        raise UsageError(f"--out {out} {why}", "give a new or writable folder for --out") from None
    steps = demo_steps()
    records = []
    for i, step in enumerate(progress(steps, "demo", total=len(steps), leave=True)):
        print(f"\n[{i + 1}/{len(steps)}] {step.command.label} ({step.name})", flush=True)
        records.append(run_step(step, out, cfg))
    parts = {p: round(sum(r["seconds"] for r in records if r["part"] == p), 1) for p in PARTS}
    summary = {"steps": records, "parts": parts, "total_seconds": round(sum(parts.values()), 1)}
    atomic_write_json(out / "demo_summary.json", summary)
    report = write_report(out, out / "report.html", title="visionlab demo")
    print("\nstep                              status    seconds")
    for r in records:
        print(f"{r['label']:<34}{r['status']:<10}{r['seconds']:>7}  {r.get('error', '')}")
    print(f"time per part: {', '.join(f'{p} {s} s' for p, s in parts.items())}; total {summary['total_seconds']} s")
    print(f"report: {report}")
    return 0 if all(r["status"] == "done" for r in records) else 1
