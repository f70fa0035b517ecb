"""DCGAN and conditional-GAN training on the shared loop (Radford et al. 2015; Mirza & Osindero 2014).

`train_gan` runs the loop through `engine.launch`: one process, or N data-parallel processes (DDP through
Lightning Fabric), each with its share of every global batch; `--precision` picks Fabric's autocast.
Radford et al. give the architecture, the N(0, 0.02) initialization and Adam(2e-4, beta1 = 0.5); the step
itself (D, then G) is in `steps.py`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionlab.engine import (
    Loop,
    TensorBatches,
    all_reduce_means,
    device_generator,
    launch,
    load_checkpoint,
    rank_world,
    save_checkpoint,
    seed_everything,
)
from visionlab.errors import MissingDataError
from visionlab.files import atomic_write_bytes
from visionlab.generate.commands import CganConfig, DcganConfig, SweepConfig
from visionlab.generate.data import GanData, load_gan_data
from visionlab.generate.ema import EmaGenerator, averaging
from visionlab.generate.evaluate import finish_run
from visionlab.generate.figures import grid
from visionlab.generate.nets import DSpec, build
from visionlab.generate.sampler import Trained, fixed_inputs, generate
from visionlab.generate.steps import StepSettings, make_step
from visionlab.runs import Run

GanConfig = DcganConfig | CganConfig | SweepConfig

# Under DDP, process `rank` draws its noise from seed * RANK_NOISE_STRIDE + rank: z differs across processes.
RANK_NOISE_STRIDE = 1009


def frame_every(cfg: GanConfig) -> int:
    """Epochs between two fixed-noise frames: `--every`, else about 6 frames in all."""
    return cfg.every or max(1, cfg.epochs // 6)


def load_data(cfg: GanConfig, run: Run, attribute: int | None = None) -> GanData:
    """The training images (as the config says), recorded in config.json."""
    data = load_gan_data(cfg.data, cfg.data_root, cfg.download, cfg.seed, cfg.limit, attribute, cfg.workers)
    run.set_data(data.description)
    return data


def step_settings(cfg: GanConfig, classes: int) -> StepSettings:
    """The step's view of the config (the matching-aware term belongs to the CGAN, packing to the DCGAN, the
    mode-seeking term to both: on by default in the CGAN, off in the DCGAN)."""
    if isinstance(cfg, CganConfig):
        return StepSettings(cfg.nz, cfg.g_loss, classes, cfg.mismatch, cfg.mode_seeking, cfg.real_label)
    return StepSettings(cfg.nz, cfg.g_loss, classes, mode_seeking=cfg.mode_seeking, real_label=cfg.real_label,
                        pack=cfg.pack, codes=cfg.info_codes, feature_matching=cfg.feature_matching,
                        relativistic=cfg.relativistic, r1=cfg.r1)  # fmt: skip


def d_spec(cfg: GanConfig) -> DSpec:
    """The discriminator's options in the config (projection: the CGAN's; minibatch std, packing, spectral
    normalization and InfoGAN's code head: the DCGAN's)."""
    if isinstance(cfg, CganConfig):
        return DSpec(cond=cfg.d_cond)
    return DSpec(mbstd=cfg.mbstd, pack=cfg.pack, norm=cfg.d_norm, codes=cfg.info_codes)


def build_pair(cfg: GanConfig, conditional: bool, channels: int, classes: int) -> tuple[nn.Module, nn.Module]:
    """The (G, D) pair that `cfg` trains."""
    return build(conditional, cfg.nz, cfg.ngf, cfg.ndf, channels, classes, cfg.init, d_spec(cfg))


def optimizers(cfg: GanConfig, g: nn.Module, d: nn.Module) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam for G (`--lr`) and for D (`--lr-d`, else `--lr`), both with betas (`--beta1`, 0.999) as in Radford
    2015; a D faster than G is the two time-scale update rule (Heusel et al. 2017)."""
    betas = (cfg.beta1, 0.999)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=betas)
    return opt_g, torch.optim.Adam(d.parameters(), lr=cfg.lr_d or cfg.lr, betas=betas)


def _load_frames(path: Path) -> dict[int, np.ndarray]:
    if not path.exists():
        return {}
    with np.load(path) as f:
        return {int(e): f["frames"][i] for i, e in enumerate(f["epochs"])}


def _save_frames(path: Path, frames: dict[int, np.ndarray]) -> None:
    buf = io.BytesIO()
    epochs = sorted(frames)
    np.savez_compressed(buf, epochs=np.array(epochs), frames=np.stack([frames[e] for e in epochs]))
    atomic_write_bytes(path, buf.getvalue())


def train_gan(cfg: GanConfig, run: Run, data: GanData, conditional: bool, name: str = "gan", desc: str = "") -> Trained:
    """Train (or resume) a GAN with `cfg`'s settings; checkpoints/<name>.pt after every epoch.

    With `cfg.devices` > 1 the training runs data-parallel in that many processes (DDP through Lightning
    Fabric): every process draws the same global batch order and takes its share of each batch, rank 0
    writes the checkpoints and frames, and the trained pair comes back through rank 0's checkpoint.
    """
    classes = len(data.classes) if conditional else 0
    if cfg.devices > 1:
        run.note(
            data_parallel=f"{cfg.devices} processes (DDP through Lightning Fabric), each with "
            f"{cfg.batch_size // cfg.devices} images of each {cfg.batch_size}-image batch"
        )
    out = launch(
        _train, cfg, run, data, classes, name, desc, device=cfg.device, precision=cfg.precision, devices=cfg.devices
    )
    if isinstance(out, Trained):
        return out
    # A spawned process's return value travels through a pipe that the launcher reads only after every
    # process ended: it stays small, and the pair comes back through rank 0's checkpoint.
    ckpt = load_checkpoint(run.checkpoints / f"{name}.pt")
    g, d = build_pair(cfg, conditional, data.channels, classes)
    g.load_state_dict(ckpt["state"]["G"])
    d.load_state_dict(ckpt["state"]["D"])
    last_g = None
    if cfg.ema:
        ema = EmaGenerator(g, cfg.ema)
        ema.load_state_dict(ckpt["state"]["G_ema"])
        g, last_g = ema.model, g
    frames = _load_frames(run.checkpoints / f"{name}-frames.npz")
    device = torch.device(out["device"])
    last = last_g.to(device) if last_g is not None else None
    return Trained(
        g.to(device), d.to(device), list(ckpt["history"]), frames, out["seconds"], out["steps"], out["done"], last
    )


def _train(
    fabric: Any, cfg: GanConfig, run: Run, data: GanData, classes: int, name: str, desc: str
) -> Trained | dict[str, Any]:
    """The training in one process, or in one of N DDP processes (then a small timing record comes back)."""
    rank, world = rank_world(fabric)
    device = fabric.device
    # Every training starts from its own seed, whatever ran before it in this process: each variant of a sweep
    # gets the same initial weights and noise stream (torch's default generators, CPU and every CUDA device),
    # and so does every DDP process (DDP also broadcasts rank 0's weights).
    seed_everything(cfg.seed)
    g, d = build_pair(cfg, classes > 0, data.channels, classes)
    g, d = g.to(device), d.to(device)
    opt_g, opt_d = optimizers(cfg, g, d)
    g_f, opt_g_f = fabric.setup(g, opt_g)
    d_f, opt_d_f = fabric.setup(d, opt_d)
    # Samples, frames and generator.pt come from the moving average of G's weights when --ema is on.
    ema = EmaGenerator(g, cfg.ema) if cfg.ema else None
    sampler = ema.model if ema is not None else g
    # One process draws z from the device's default stream (seeded by the run); each DDP process its own.
    noise = device_generator(device, cfg.seed * RANK_NOISE_STRIDE + rank) if world > 1 else None
    batches = TensorBatches(
        data.train.to(device), data.labels.to(device), batch_size=cfg.batch_size, seed=cfg.seed, drop_last=True,
        rank=rank, world=world,
    )  # fmt: skip
    codes = 0 if classes else cfg.info_codes
    z_fixed, y_fixed = fixed_inputs(cfg.nz, classes, cfg.seed, device, codes)
    frames_path = run.checkpoints / f"{name}-frames.npz"
    frames = _load_frames(frames_path)
    every = frame_every(cfg)

    def end_epoch(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        last = epoch + 1 == cfg.epochs
        if rank == 0 and (epoch == 0 or (epoch + 1) % every == 0 or last):
            frames[epoch + 1] = grid(generate(sampler, z_fixed, y_fixed).cpu(), nrow=10 if classes else 8)
            _save_frames(frames_path, frames)
        return {}

    step = make_step(g_f, d_f, opt_g_f, opt_d_f, step_settings(cfg, classes), fabric.backward, noise)
    state = {"G": g, "D": d, "opt_G": opt_g, "opt_D": opt_d}
    if ema is not None:
        step, state["G_ema"] = averaging(step, ema, g), ema
    loop = Loop(
        epochs=cfg.epochs,
        batches=batches.set_epoch,
        step=step,
        state=state,
        checkpoint=run.checkpoints / f"{name}.pt",
        end_epoch=end_epoch,
        desc=desc or name,
        is_main=rank == 0,
        reduce=all_reduce_means(fabric),
    )
    result = loop.run()
    if world > 1:
        return {"seconds": result.seconds, "steps": result.steps, "done": result.already_finished,
                "device": str(device)}  # fmt: skip
    last_g = g if ema is not None else None
    return Trained(sampler, d, result.history, frames, result.seconds, result.steps, result.already_finished, last_g)


def save_generator(run: Run, cfg: GanConfig, g: nn.Module, data: GanData, conditional: bool) -> Path:
    """checkpoints/generator.pt: the generator's weights and what rebuilds it (for `generate interpolate`)."""
    path = run.checkpoints / "generator.pt"
    save_checkpoint(
        path,
        {
            "kind": "cgan" if conditional else "dcgan",
            "nz": cfg.nz,
            "ngf": cfg.ngf,
            "codes": 0 if conditional else cfg.info_codes,
            "nc": data.channels,
            "classes": list(data.classes),
            "digits": data.digits,
            "classifier_set": data.classifier_set,
            "state": {k: v.cpu() for k, v in g.state_dict().items()},
        },
    )
    return path


def _run(cfg: DcganConfig | CganConfig, run: Run) -> dict[str, float]:
    conditional = isinstance(cfg, CganConfig)
    attribute = cfg.attribute if isinstance(cfg, CganConfig) and cfg.data == "celeba" else None
    data = load_data(cfg, run, attribute)
    if conditional and len(data.classes) < 2:
        raise MissingDataError(f"{data.description}: a conditional GAN needs at least 2 classes")
    trained = train_gan(cfg, run, data, conditional, desc="cgan" if conditional else "dcgan")
    save_generator(run, cfg, trained.g, data, conditional)
    return finish_run(cfg, run, data, trained, conditional)


def run_dcgan(cfg: DcganConfig, run: Run) -> dict[str, float]:
    """`generate dcgan`: train, then figures, samples.npz and metrics."""
    return _run(cfg, run)


def run_cgan(cfg: CganConfig, run: Run) -> dict[str, float]:
    """`generate cgan`: train the conditional GAN, then figures (one row per class), samples.npz, metrics."""
    return _run(cfg, run)
