"""`generate interpolate`: walk the latent space of a trained generator (Radford et al. 2015, section 6.1).

Images of G((1 - a) z1 + a z2) for a from 0 to 1 show whether the generator maps nearby noise to
nearby images (smooth strips) or jumps; for a CGAN, G(z, (1 - a) y1 + a y2) walks between two labels.
Metrics: the mean step between neighbouring images (RMS in [0, 1] pixel units), the largest step over the
mean (1 = evenly spaced), and, for digits, how often the digit classifier's reading changes along a strip.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from visionlab.engine import load_checkpoint
from visionlab.errors import MissingDataError
from visionlab.generate.nets import CondGenerator, Generator


def load_generator(folder: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The generator saved by a dcgan/cgan run (checkpoints/generator.pt) and its description."""
    path = folder / "checkpoints" / "generator.pt"
    if not path.exists():
        raise MissingDataError(
            f"no trained generator in {folder}", "run `visionlab generate dcgan --out DIR` (or cgan) first"
        )
    ckpt = load_checkpoint(path)
    if ckpt["kind"] == "cgan":
        g: torch.nn.Module = CondGenerator(ckpt["nz"], ckpt["ngf"], ckpt["nc"], len(ckpt["classes"]))
    else:
        g = Generator(ckpt["nz"], ckpt["ngf"], ckpt["nc"])
    g.load_state_dict(ckpt["state"])
    return g.eval(), ckpt


def strip_stats(strip: torch.Tensor) -> tuple[float, float]:
    """(mean step, largest step / mean step) between neighbours of one uint8 strip (S, C, H, W)."""
    x = strip.float() / 255
    steps = (x[1:] - x[:-1]).flatten(1).pow(2).mean(1).sqrt()
    mean = float(steps.mean())
    return mean, float(steps.max()) / max(mean, 1e-8)


def _strips(g: Any, ckpt: dict[str, Any], cfg: Any) -> tuple[list[torch.Tensor], list[str], list[tuple[int, int]]]:
    from visionlab.generate.train import generate

    gen = torch.Generator().manual_seed(cfg.seed)
    z1, z2 = torch.randn(cfg.pairs, ckpt["nz"], generator=gen), torch.randn(cfg.pairs, ckpt["nz"], generator=gen)
    alpha = torch.linspace(0, 1, cfg.steps)[:, None]
    k = len(ckpt["classes"])
    strips, names, label_pairs = [], [], []
    for i in range(cfg.pairs):
        z = (1 - alpha) * z1[i] + alpha * z2[i]
        if ckpt["kind"] == "cgan":
            y = F.one_hot(torch.full((cfg.steps,), i % k), k).float()
            strips.append(generate(g, z, y))
            names.append(f"z1 -> z2 ({ckpt['classes'][i % k]})")
        else:
            strips.append(generate(g, z))
            names.append(f"z1 -> z2 (pair {i + 1})")
    if ckpt["kind"] == "cgan":
        for i in range(cfg.pairs):
            a, b = i % k, (i + 1) % k
            y = (1 - alpha) * F.one_hot(torch.tensor(a), k).float() + alpha * F.one_hot(torch.tensor(b), k).float()
            strips.append(generate(g, z1[i].expand(cfg.steps, -1), y))
            names.append(f"{ckpt['classes'][a]} -> {ckpt['classes'][b]}")
            label_pairs.append((a, b))
    return strips, names, label_pairs


def run(cfg: Any, run: Any) -> dict[str, float]:
    """Noise strips (and label strips for a CGAN), their figure, samples.npz and smoothness metrics."""
    from visionlab.generate.figures import grid, strips_figure

    g, ckpt = load_generator(cfg.run)
    run.set_data(f"the generator of the {ckpt['kind']} run {cfg.run.name} (nz {ckpt['nz']})")
    strips, names, label_pairs = _strips(g, ckpt, cfg)
    n_noise = cfg.pairs
    arts = [grid(s, nrow=cfg.steps) for s in strips]
    title = "alpha from 0 (left) to 1 (right)"
    run.save_figure(strips_figure(arts[:n_noise], names[:n_noise], f"noise interpolation, {title}"), "interpolation")
    if label_pairs:
        run.save_figure(strips_figure(arts[n_noise:], names[n_noise:], f"label interpolation, {title}"), "labels")
    stats = [strip_stats(s) for s in strips[:n_noise]]
    out = {"interp/step_rms": float(np.mean([s[0] for s in stats])),
           "interp/max_step_over_mean": float(np.mean([s[1] for s in stats]))}  # fmt: skip
    if ckpt.get("digits"):
        out.update(_digit_readings(cfg, strips, n_noise, label_pairs))
    images = torch.stack(strips).flatten(0, 1).permute(0, 2, 3, 1).numpy()
    run.save_npz(images=np.ascontiguousarray(images[..., 0] if images.shape[-1] == 1 else images),
                 alpha=np.tile(np.linspace(0, 1, cfg.steps), len(strips)))  # fmt: skip
    return out


def _digit_readings(cfg: Any, strips: list[torch.Tensor], n_noise: int, pairs: list[tuple[int, int]]) -> dict:
    """How often the digit read along a noise strip changes; whether label strips end on their labels."""
    from visionlab.generate.evaluate import reference
    from visionlab.generate.metrics import predict

    ref = reference(cfg)
    reads = [predict(ref.model, s)[1].argmax(1) for s in strips]
    out = {"interp/class_changes": float(np.mean([(r[1:] != r[:-1]).sum().item() for r in reads[:n_noise]]))}
    if pairs:
        ends = [(r[0].item() == a) + (r[-1].item() == b) for r, (a, b) in zip(reads[n_noise:], pairs)]
        out["interp/label_end_acc"] = float(np.sum(ends)) / (2 * len(pairs))
    return out
