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

_CHOICES = {"init": ("paper", "default"), "g_loss": ("non-saturating", "minimax")}


def _value(key: str, text: str) -> dict[str, Any]:
    """The config fields one sweep value sets."""
    if key == "ngf_ndf":
        parts = text.split("/")
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise ValueError(f"ngf_ndf values look like 256/8, got {text!r}")
        return {"ngf": int(parts[0]), "ndf": int(parts[1])}
    if key in _CHOICES:
        if text not in _CHOICES[key]:
            raise ValueError(f"{key} values are {', '.join(_CHOICES[key])}, got {text!r}")
        return {key: text}
    if key in ("nz", "epochs"):
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{key} values are integers >= 1, got {text!r}")
        return {key: int(text)}
    if key == "lr":
        try:
            lr = float(text)
        except ValueError:
            lr = -1.0
        if lr <= 0:
            raise ValueError(f"lr values are numbers > 0, got {text!r}")
        return {"lr": lr}
    raise ValueError(f"--param: unknown setting {key!r}")


def parse_param(text: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """`ngf_ndf=256/8,8/256` -> ("ngf_ndf", [(name, fields), ...]); ValueError on a bad spec."""
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not items:
        raise ValueError(f"--param looks like KEY=V1,V2, got {text!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"--param repeats a value: {text!r}")
    return key, [(f"{key}={v}", _value(key, v)) for v in items]


def _slug(name: str) -> str:
    return name.replace("=", "-").replace("/", "_")


def _caption(m: dict[str, float], prefix: str, seconds: float) -> str:
    if f"{prefix}/fd" not in m:
        return f"{seconds:.0f} s"
    return (
        f"FD {m[f'{prefix}/fd']:.1f}, digits >= 3%: {m[f'{prefix}/digits_covered']:.0f}/10, "
        f"entropy {m[f'{prefix}/class_entropy']:.2f}, {seconds:.0f} s"
    )


def run(cfg: Any, run: Any) -> dict[str, float]:
    """Train every variant, then one figure and `<variant>/...` metrics (plus the real-vs-real floor)."""
    import numpy as np
    import torch

    from visionlab.generate.evaluate import reference, training_metrics
    from visionlab.generate.figures import progress_figure, sweep_figure
    from visionlab.generate.metrics import digit_metrics
    from visionlab.generate.train import load_data, sample_set, train_gan

    key, variants = parse_param(cfg.param)
    data = load_data(cfg, run)
    out: dict[str, float] = {}
    rows, images, index = [], [], []
    ref = reference(cfg) if data.digits else None
    for i, (name, fields) in enumerate(variants):
        vcfg = dataclasses.replace(cfg, **fields)
        slug = _slug(name)
        trained = train_gan(vcfg, run, data, conditional=False, name=slug, desc=f"sweep {name}")
        samples, _ = sample_set(vcfg, trained, data, conditional=False)
        m = {f"{slug}/{k.split('/', 1)[1]}": v for k, v in training_metrics(trained, cfg.batch_size).items()}
        seconds = m.get(f"{slug}/train_s", 0.0)
        if ref is not None:
            pick = torch.randperm(len(ref.test_features), generator=torch.Generator().manual_seed(cfg.seed))
            digit = digit_metrics(ref, samples, None, pick[: len(samples)], cfg.seed, 10 if cfg.quick else 50)
            out.update({"classifier/test_acc": ref.test_acc, "real/fd_floor": digit.pop("real/fd_floor")})
            out["real/kid_floor"] = digit.pop("real/kid_floor")
            m.update({f"{slug}/{k.split('/', 1)[1]}": v for k, v in digit.items() if "entropy_max" not in k})
        out.update(m)
        run.save_figure(progress_figure(trained.frames, name), f"progress_{slug}")
        rows.append({"name": name, "frame": trained.frames[max(trained.frames)], "history": trained.history,
                     "caption": _caption(m, slug, seconds)})  # fmt: skip
        images.append(samples)
        index.append(torch.full((len(samples),), i))
    run.save_figure(sweep_figure(rows, f"DCGAN sweep over {key}"), "sweep")
    stacked = torch.cat(images).permute(0, 2, 3, 1).numpy()
    stacked = stacked[..., 0] if stacked.shape[-1] == 1 else stacked
    run.save_npz(images=np.ascontiguousarray(stacked), variant=torch.cat(index).numpy(),
                 variants=np.array([n for n, _ in variants]))  # fmt: skip
    run.note(sweep=f"{key}: {', '.join(n for n, _ in variants)}; same seed and data order for every variant")
    return out
