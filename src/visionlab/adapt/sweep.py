"""`adapt grl-sweep`: DANN with fixed GRL factors and with the schedule (Ganin et al., JMLR 2016, sec. 5.2.2).

Each variant is a full DANN training; the figure shows target accuracy against the factor, with the
schedule `2 / (1 + exp(-gamma p)) - 1` as a reference line. A variant that diverges is reported as null.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionlab.adapt.commands import GrlSweepConfig
from visionlab.adapt.methods import prepare, summarize, train_method
from visionlab.adapt.train import MethodResult
from visionlab.errors import DivergenceError
from visionlab.runs import Run


def _name(lam: float | None) -> str:
    return "schedule" if lam is None else f"lambda_{lam:g}"


def sweep_figure(lambdas: list[float], table: dict[str, MethodResult | None], gamma: float) -> Any:
    """Target (and source) accuracy against the fixed GRL factor; the schedule as horizontal lines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    xs = list(range(len(lambdas)))
    for key, style in (("target/acc", "o-"), ("source/acc", "s--")):
        means, stds = [], []
        for lam in lambdas:
            r = table[_name(lam)]
            v = np.array([m[key] for m in r.per_seed]) if r else np.array([np.nan])
            means.append(v.mean())
            stds.append(v.std())
        ax.errorbar(xs, means, yerr=stds, fmt=style, capsize=3, label=f"{key}, fixed lambda")
        sched = table["schedule"]
        if sched is not None:
            ax.axhline(
                np.mean([m[key] for m in sched.per_seed]),
                linestyle=":",
                color=ax.lines[-1].get_color(),
                label=f"{key}, schedule (gamma {gamma:g})",
            )
    ax.set_xticks(xs, [f"{lam:g}" for lam in lambdas])
    ax.set_xlabel("GRL factor lambda (fixed through training)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def run(cfg: GrlSweepConfig, run: Run) -> dict[str, float]:
    """Train DANN once per fixed factor and once with the schedule; metrics `<variant>/target/acc`..."""
    data = prepare(cfg, run)
    table: dict[str, MethodResult | None] = {}
    metrics: dict[str, float] = {}
    for lam in [*cfg.lambdas, None]:
        name = _name(lam)
        try:
            result = train_method(cfg, run, data, "dann", tag=name, grl_lambda=lam)
        except DivergenceError as err:
            print(f"{name}: {err.what}", flush=True)
            table[name] = None
            metrics[f"{name}/target/acc"] = float("nan")
            continue
        table[name] = result
        metrics.update({k: v for k, v in summarize(result, f"{name}/").items() if "/seed" not in k})
    best = max((n for n in table if table[n] is not None), key=lambda n: metrics[f"{n}/target/acc"], default=None)
    run.note(
        best_variant_by_target_acc=best,
        caution="the sweep reads target labels to compare factors: "
        "it describes the method, it is not a model selection for the reported DANN numbers",
    )
    run.save_figure(sweep_figure(cfg.lambdas, table, cfg.gamma), "grl_sweep")
    return metrics
