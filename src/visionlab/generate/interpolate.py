"""`generate interpolate`: walk the latent space of a trained generator (Radford et al. 2015, section 6.1).

Images of G((1 - a) z1 + a z2) for a from 0 to 1 show whether the generator maps nearby noise to
nearby images (smooth strips) or jumps; for a CGAN, G(z, (1 - a) y1 + a y2) walks between two labels.
Metrics: the mean step between neighbouring images (RMS in [0, 1] pixel units), the largest step over the
mean (1 = evenly spaced), and, for MNIST and Fashion-MNIST, how often the evaluation classifier's reading
changes along a strip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from visionlab.engine import device_generator, load_checkpoint, select_device
from visionlab.errors import MissingDataError
from visionlab.generate.commands import InterpolateConfig
from visionlab.generate.evaluate import reference
from visionlab.generate.figures import grid, strips_figure
from visionlab.generate.metrics import predict
from visionlab.generate.nets import CondGenerator, Generator
from visionlab.generate.sampler import device_of, generate
from visionlab.runs import Run


def load_generator(folder: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
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
        g = Generator(ckpt["nz"], ckpt["ngf"], ckpt["nc"], ckpt.get("codes", 0))
    g.load_state_dict(ckpt["state"])
    return g.eval(), ckpt


def strip_stats(strip: torch.Tensor) -> tuple[float, float]:
    """(mean step, largest step / mean step) between neighbours of one uint8 strip (S, C, H, W)."""
    x = strip.float() / 255
    steps = (x[1:] - x[:-1]).flatten(1).pow(2).mean(1).sqrt()
    mean = float(steps.mean())
    return mean, float(steps.max()) / max(mean, 1e-8)


def strips(
    g: torch.nn.Module, ckpt: dict[str, Any], pairs: int, steps: int, seed: int
) -> tuple[list[torch.Tensor], list[str], list[tuple[int, int]]]:
    """Noise strips (and label strips for a CGAN) of uint8 images, drawn and generated on G's device."""
    device = device_of(g)
    gen = device_generator(device, seed)
    z1 = torch.randn(pairs, ckpt["nz"], generator=gen, device=device)
    z2 = torch.randn(pairs, ckpt["nz"], generator=gen, device=device)
    alpha = torch.linspace(0, 1, steps, device=device)[:, None]
    k = len(ckpt["classes"])
    out, names, label_pairs = [], [], []
    for i in range(pairs):
        z = (1 - alpha) * z1[i] + alpha * z2[i]
        if ckpt["kind"] == "cgan":
            y = F.one_hot(torch.full((steps,), i % k, device=device), k).float()
            out.append(generate(g, z, y))
            names.append(f"z1 -> z2 ({ckpt['classes'][i % k]})")
        else:
            out.append(generate(g, z))
            names.append(f"z1 -> z2 (pair {i + 1})")
    if ckpt["kind"] == "cgan":
        eye = torch.eye(k, device=device)
        for i in range(pairs):
            a, b = i % k, (i + 1) % k
            out.append(generate(g, z1[i].expand(steps, -1), (1 - alpha) * eye[a] + alpha * eye[b]))
            names.append(f"{ckpt['classes'][a]} -> {ckpt['classes'][b]}")
            label_pairs.append((a, b))
    return out, names, label_pairs


def run(cfg: InterpolateConfig, run: Run) -> dict[str, float]:
    """Noise strips (and label strips for a CGAN), their figure, samples.npz and smoothness metrics."""
    assert cfg.run is not None  # validate() requires it
    g, ckpt = load_generator(cfg.run)
    g = g.to(select_device(cfg.device))
    run.set_data(f"the generator of the {ckpt['kind']} run {cfg.run.name} (nz {ckpt['nz']})")
    on_device, names, label_pairs = strips(g, ckpt, cfg.pairs, cfg.steps, cfg.seed)
    made = [s.cpu() for s in on_device]  # read out once: figures, statistics and samples.npz are on the host
    n_noise = cfg.pairs
    arts = [grid(s, nrow=cfg.steps) for s in made]
    title = "alpha from 0 (left) to 1 (right)"
    run.save_figure(strips_figure(arts[:n_noise], names[:n_noise], f"noise interpolation, {title}"), "interpolation")
    if label_pairs:
        run.save_figure(strips_figure(arts[n_noise:], names[n_noise:], f"label interpolation, {title}"), "labels")
    stats = [strip_stats(s) for s in made[:n_noise]]
    out = {"interp/step_rms": float(np.mean([s[0] for s in stats])),
           "interp/max_step_over_mean": float(np.mean([s[1] for s in stats]))}  # fmt: skip
    evaluated = ckpt.get("classifier_set", "mnist" if ckpt.get("digits") else None)  # runs saved before it had one
    if evaluated:
        out.update(_digit_readings(cfg, on_device, n_noise, label_pairs, evaluated))
    images = torch.stack(made).flatten(0, 1).permute(0, 2, 3, 1).numpy()
    run.save_npz(images=np.ascontiguousarray(images[..., 0] if images.shape[-1] == 1 else images),
                 alpha=np.tile(np.linspace(0, 1, cfg.steps), len(made)))  # fmt: skip
    return out


def _digit_readings(
    cfg: InterpolateConfig, made: list[torch.Tensor], n_noise: int, pairs: list[tuple[int, int]], dataset: str
) -> dict[str, float]:
    """How often the class read along a noise strip changes; whether label strips end on their labels."""
    ref = reference(cfg.data_root, cfg.classifier_epochs, made[0].device, dataset)
    reads = predict(ref.model, torch.cat(made))[1].argmax(1).view(len(made), -1)  # (strips, steps)
    out = {"interp/class_changes": float((reads[:n_noise, 1:] != reads[:n_noise, :-1]).sum(1).float().mean())}
    if pairs:
        ends = torch.tensor(pairs, device=reads.device)
        hits = (reads[n_noise:, 0] == ends[:, 0]).sum() + (reads[n_noise:, -1] == ends[:, 1]).sum()
        out["interp/label_end_acc"] = float(hits) / (2 * len(pairs))
    return out
