"""`generate sweep`: one DCGAN per value of a setting, as in the practical's comparisons.

Settings: the ngf/ndf balance (256/8: a weak discriminator, 8/256: a weak generator), the
initialization (Radford et al. 2015's N(0, 0.02) against PyTorch's default), the generator loss
(non-saturating against the original minimax of Goodfellow et al. 2014), the noise size nz, the learning
rate, the epochs. Every variant trains with the same seed and data order, checkpoints under its own name
(a killed sweep resumes), and appears in one figure of sample grids and curves, with its metrics.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from visionlab.engine import select_device
from visionlab.generate.check import check_metrics
from visionlab.generate.commands import SweepConfig
from visionlab.generate.data import CLASSIFIER_SETS
from visionlab.generate.evaluate import held_out_pick, independent_check, reference, sample_metrics, training_metrics
from visionlab.generate.figures import progress_figure, sweep_figure
from visionlab.generate.metrics import sample_readings
from visionlab.generate.params import parse_param
from visionlab.generate.sampler import sample_set
from visionlab.generate.train import load_data, train_gan
from visionlab.runs import Run

__all__ = ["parse_param", "run"]


def _slug(name: str) -> str:
    return name.replace("=", "-").replace("/", "_")


def _caption(m: dict[str, float], prefix: str, seconds: float, unit: str = "digits") -> str:
    if f"{prefix}/fd" not in m:
        return f"{seconds:.0f} s"
    return (
        f"FD {m[f'{prefix}/fd']:.1f}, {unit} >= 3%: {m[f'{prefix}/{unit}_covered']:.0f}/10, "
        f"entropy {m[f'{prefix}/class_entropy']:.2f}, {seconds:.0f} s"
    )


def run(cfg: SweepConfig, run: Run) -> dict[str, float]:
    """Train every variant, then one figure and `<variant>/...` metrics (plus the real-vs-real floors)."""
    key, variants = parse_param(cfg.param)
    data = load_data(cfg, run)
    out: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    images, index = [], []
    evaluated = data.classifier_set
    ref = reference(cfg.data_root, cfg.classifier_epochs, select_device(cfg.device), evaluated) if evaluated else None
    unit = CLASSIFIER_SETS[evaluated].unit if evaluated else "digits"
    check = None
    if ref is not None and data.digits and cfg.check_epochs:
        check = independent_check(cfg.data_root, cfg.check_epochs, ref.test_features.device)
    for i, (name, fields) in enumerate(variants):
        vcfg = dataclasses.replace(cfg, **fields).budgeted()  # a swept value (e.g. epochs) stays under --quick
        slug = _slug(name)
        trained = train_gan(vcfg, run, data, conditional=False, name=slug, desc=f"sweep {name}")
        samples, _ = sample_set(trained.g, vcfg.samples, vcfg.nz, 0, vcfg.seed)
        m = {f"{slug}/{k.split('/', 1)[1]}": v for k, v in training_metrics(trained, cfg.batch_size).items()}
        seconds = m.get(f"{slug}/train_s", 0.0)
        if ref is not None:
            readings = sample_readings(ref, samples, None, held_out_pick(ref, len(samples), cfg.seed))
            digit = sample_metrics(readings, cfg, evaluated)
            out.update({"classifier/test_acc": ref.test_acc, "real/fd_floor": digit.pop("real/fd_floor")})
            out["real/kid_floor"] = digit.pop("real/kid_floor")
            out["real/class_min_share"] = digit.pop("real/class_min_share")
            m.update({f"{slug}/{k.split('/', 1)[1]}": v for k, v in digit.items() if "entropy_max" not in k})
        if check is not None:
            checked = check_metrics(check, samples, None)
            out["check/test_acc"] = checked.pop("check/test_acc")
            m.update({f"{slug}/{k.split('/', 1)[1]}": v for k, v in checked.items()})
        out.update(m)
        run.save_figure(progress_figure(trained.frames, name), f"progress_{slug}")
        rows.append({"name": name, "frame": trained.frames[max(trained.frames)], "history": trained.history,
                     "caption": _caption(m, slug, seconds, unit)})  # fmt: skip
        images.append(samples.cpu())
        index.append(torch.full((len(samples),), i))
    run.save_figure(sweep_figure(rows, f"DCGAN sweep over {key}"), "sweep")
    stacked = torch.cat(images).permute(0, 2, 3, 1).numpy()
    stacked = stacked[..., 0] if stacked.shape[-1] == 1 else stacked
    run.save_npz(images=np.ascontiguousarray(stacked), variant=torch.cat(index).numpy(),
                 variants=np.array([n for n, _ in variants]))  # fmt: skip
    run.note(sweep=f"{key}: {', '.join(n for n, _ in variants)}; same seed and data order for every variant")
    return out
