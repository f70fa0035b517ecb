"""DCGAN and conditional-GAN training on the shared loop, then samples, figures and metrics.

Each step updates D on a real and a generated batch (binary cross-entropy on logits), then G with
either the non-saturating loss -log D(G(z)) or the original minimax log(1 - D(G(z))) (Goodfellow 2014,
whose gradient vanishes when D rejects the samples). Radford et al. (2015) give the architecture,
the N(0, 0.02) initialization and Adam(2e-4, beta1 = 0.5). The conditional GAN's D is matching-aware
by default (Reed et al. 2016): real images with a wrong label also count as fake; its G gets the
mode-seeking term of MSGAN (Mao et al. 2019) so that it does not ignore its noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from visionlab.engine import Loop, TensorBatches, load_checkpoint, save_checkpoint, seed_everything, select_device
from visionlab.errors import UsageError
from visionlab.generate.data import GanData, load_gan_data, to_uint8
from visionlab.generate.nets import build
from visionlab.runs import Run


@dataclass
class Trained:
    """A trained pair and its record: per-epoch mean logs, fixed-noise frames, training time."""

    g: nn.Module
    d: nn.Module
    history: list[dict[str, float]]
    frames: dict[int, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    steps: int = 0
    already_finished: bool = False


def effective(cfg: Any) -> dict[str, int]:
    """Budgets after --quick (at most 2 epochs of at most 384 images): epochs, limit, every."""
    epochs = min(cfg.epochs, 2) if cfg.quick else cfg.epochs
    limit = min(cfg.limit or 384, 384) if cfg.quick else cfg.limit
    every = cfg.every or max(1, epochs // 6)
    return {"epochs": epochs, "limit": limit, "every": every}


def load_data(cfg: Any, run: Run, attribute: int | None = None) -> GanData:
    """The training images (as the config says), recorded in config.json."""
    data = load_gan_data(
        cfg.data, cfg.data_root, cfg.download, cfg.seed, effective(cfg)["limit"], attribute, cfg.workers
    )
    run.set_data(data.description)
    return data


def _fixed_inputs(cfg: Any, data: GanData, conditional: bool, device: torch.device) -> tuple[torch.Tensor, Any]:
    """The fixed noise of the progress frames: 64 vectors, or 10 per class (one row per class)."""
    g = torch.Generator().manual_seed(cfg.seed + 1)
    if not conditional:
        return torch.randn(64, cfg.nz, generator=g).to(device), None
    k = len(data.classes)
    y = torch.arange(k).repeat_interleave(10)
    return torch.randn(10 * k, cfg.nz, generator=g).to(device), F.one_hot(y, k).float().to(device)


@torch.no_grad()
def generate(g: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None, batch: int = 500) -> torch.Tensor:
    """uint8 images (N, C, 32, 32) from noise (and soft or one-hot labels), G in eval mode."""
    was = g.training
    g.eval()
    cond = (lambda i: ()) if y is None else (lambda i: (y[i : i + batch],))
    parts = [to_uint8(g(z[i : i + batch], *cond(i))) for i in range(0, len(z), batch)]
    g.train(was)
    return torch.cat(parts).cpu()


def generator_loss(logit: torch.Tensor, kind: str) -> torch.Tensor:
    """G's loss from D's logits on generated images.

    `non-saturating`: -log D(G(z)), gradient sigmoid(l) - 1 per logit, strong when D rejects the samples.
    `minimax`: log(1 - D(G(z))) (Goodfellow 2014), gradient -sigmoid(l), which vanishes as D(G(z)) -> 0.
    """
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(logit, torch.zeros_like(logit))
    return F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))


def discriminator_loss(
    real_logit: torch.Tensor, fake_logit: torch.Tensor, wrong_logit: torch.Tensor | None = None, mismatch: float = 0.0
) -> torch.Tensor:
    """D's binary cross-entropy: real images are real, the rest fake.

    With `wrong_logit` (D on real images paired with a wrong label) this is the matching-aware loss of
    GAN-CLS (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"):
    -log D(x, y) - (1 - w) log(1 - D(G(z), y)) - w log(1 - D(x, y')), w = `mismatch`; w = 0.5 is
    Reed's average of the two negatives, w = 0 the plain conditional GAN. A D that ignores the label
    cannot reject (x, y'), so it must learn the label, and G then has to follow it.
    """
    loss = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
    fake = F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
    if wrong_logit is None or mismatch == 0:
        return loss + fake
    wrong = F.binary_cross_entropy_with_logits(wrong_logit, torch.zeros_like(wrong_logit))
    return loss + (1 - mismatch) * fake + mismatch * wrong


def wrong_labels(labels: torch.Tensor, k: int) -> torch.Tensor:
    """A uniformly random label different from each given one: (y + U{1..k-1}) mod k."""
    return (labels + torch.randint(1, k, labels.shape, device=labels.device)) % k


def mode_seeking_loss(
    a: torch.Tensor, b: torch.Tensor, za: torch.Tensor, zb: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """MSGAN's term for G (Mao et al. 2019, "Mode Seeking GANs"): 1 / (mean|a - b| / mean|za - zb| + eps).

    a = G(za, y), b = G(zb, y) share their labels; G lowers the term by making the images differ as much as
    their noise vectors do, which fights a conditional G that ignores its noise.
    """
    ratio = (a - b).abs().mean() / (za - zb).abs().mean()
    return 1.0 / (ratio + eps)


def _step_fn(
    g: nn.Module,
    d: nn.Module,
    opt_g: Any,
    opt_d: Any,
    cfg: Any,
    k: int,
    backward: Any = None,
    noise: torch.Generator | None = None,
) -> Any:
    """The loop's step; `backward` is Fabric's under DDP, `noise` a per-process generator of z there."""
    backward = backward or (lambda loss: loss.backward())
    mismatch = float(getattr(cfg, "mismatch", 0.0)) if k else 0.0
    seek = float(getattr(cfg, "mode_seeking", 0.0)) if k else 0.0

    def step(batch: tuple[torch.Tensor, ...], progress: float) -> dict[str, Any]:
        x, labels = batch
        cond = () if k == 0 else (F.one_hot(labels, k).float(),)
        z = torch.randn(len(x), cfg.nz, device=x.device, generator=noise)
        fake = g(z, *cond)
        real_logit, fake_logit = d(x, *cond), d(fake.detach(), *cond)
        wrong_logit = d(x, F.one_hot(wrong_labels(labels, k), k).float()) if mismatch else None
        loss_d = discriminator_loss(real_logit, fake_logit, wrong_logit, mismatch)
        opt_d.zero_grad(set_to_none=True)
        backward(loss_d)
        opt_d.step()
        loss_g = generator_loss(d(fake, *cond), cfg.g_loss)
        if seek:
            z2 = torch.randn(z.shape, device=z.device, generator=noise)
            loss_g = loss_g + seek * mode_seeking_loss(fake, g(z2, *cond), z, z2)
        opt_g.zero_grad(set_to_none=True)
        backward(loss_g)
        opt_g.step()
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(real_logit.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logit.detach()).mean(),
        }

    return step


def _load_frames(path: Path) -> dict[int, np.ndarray]:
    if not path.exists():
        return {}
    with np.load(path) as f:
        return {int(e): f["frames"][i] for i, e in enumerate(f["epochs"])}


def _save_frames(path: Path, frames: dict[int, np.ndarray]) -> None:
    import io

    from visionlab.runs import atomic_write_bytes

    buf = io.BytesIO()
    epochs = sorted(frames)
    np.savez_compressed(buf, epochs=np.array(epochs), frames=np.stack([frames[e] for e in epochs]))
    atomic_write_bytes(path, buf.getvalue())


def train_gan(cfg: Any, run: Run, data: GanData, conditional: bool, name: str = "gan", desc: str = "") -> Trained:
    """Train (or resume) a GAN with `cfg`'s settings; checkpoints/<name>.pt after every epoch.

    With `cfg.devices` > 1 the training runs data-parallel in that many processes (DDP through Lightning
    Fabric, `ddp_spawn`): each process takes every N-th training image and batch_size / N of each batch,
    rank 0 writes the checkpoints and frames, and the trained pair comes back to this process.
    """
    devices = int(getattr(cfg, "devices", 1))
    if devices == 1:
        return _train(None, cfg, run, data, conditional, name, desc)
    from visionlab.engine import make_fabric

    device = select_device(cfg.device)
    if device.type == "cuda" and torch.cuda.device_count() < devices:
        raise UsageError(
            f"--devices {devices}: only {torch.cuda.device_count()} CUDA device(s) here", "lower --devices"
        )
    fabric = make_fabric(cfg.device, devices=devices, strategy="ddp_spawn")
    run.note(
        data_parallel=f"{devices} processes (DDP, Lightning Fabric ddp_spawn on {fabric.device.type}), each with "
        f"every {devices}-th training image and {cfg.batch_size // devices} images of each {cfg.batch_size}-image batch"
    )
    out = fabric.launch(_train_worker, cfg, run, data, conditional, name, desc)
    # The pair comes back through rank 0's checkpoint: a spawned process's return value travels through a
    # pipe that the launcher reads only after every process ended, so it must stay small.
    ckpt = load_checkpoint(run.checkpoints / f"{name}.pt")
    g, d = build(
        conditional, cfg.nz, cfg.ngf, cfg.ndf, data.channels, len(data.classes) if conditional else 0, cfg.init
    )
    g.load_state_dict(ckpt["state"]["G"])
    d.load_state_dict(ckpt["state"]["D"])
    frames = _load_frames(run.checkpoints / f"{name}-frames.npz")
    return Trained(g.to(device), d.to(device), list(ckpt["history"]), frames, out["seconds"], out["steps"], out["done"])


def _train_worker(fabric: Any, *args: Any) -> dict[str, Any]:
    """One DDP process: train its shard (rank 0 checkpoints every epoch); returns the timing record."""
    if fabric.device.type == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads() // fabric.world_size))
    t = _train(fabric, *args)
    return {"seconds": t.seconds, "steps": t.steps, "done": t.already_finished}


def _train(
    fabric: Any, cfg: Any, run: Run, data: GanData, conditional: bool, name: str = "gan", desc: str = ""
) -> Trained:
    """The training itself, in one process (`fabric` None) or in one DDP process."""
    from visionlab.engine import all_reduce_means
    from visionlab.generate.figures import grid

    rank, world = (fabric.global_rank, fabric.world_size) if fabric is not None else (0, 1)
    device = fabric.device if fabric is not None else select_device(cfg.device)
    budget = effective(cfg)
    k = len(data.classes) if conditional else 0
    if fabric is not None:
        seed_everything(cfg.seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    g, d = build(conditional, cfg.nz, cfg.ngf, cfg.ndf, data.channels, k, cfg.init)
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    step_nets: tuple[Any, ...] = (g, d, opt_g, opt_d)
    backward, noise = None, None
    if fabric is not None:
        g_ddp, opt_g_ddp = fabric.setup(g, opt_g)
        d_ddp, opt_d_ddp = fabric.setup(d, opt_d)
        step_nets = (g_ddp, d_ddp, opt_g_ddp, opt_d_ddp)
        backward = fabric.backward
        noise = torch.Generator(device=device).manual_seed(cfg.seed * 1009 + rank)  # z differs across processes
    batches = TensorBatches(
        data.train[rank::world].to(device),
        data.labels[rank::world].to(device),
        batch_size=cfg.batch_size // world,
        seed=cfg.seed,
        drop_last=True,
    )
    z_fixed, y_fixed = _fixed_inputs(cfg, data, conditional, device)
    frames_path = run.checkpoints / f"{name}-frames.npz"
    frames = _load_frames(frames_path)

    def end_epoch(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        last = epoch + 1 == budget["epochs"]
        if rank == 0 and (epoch == 0 or (epoch + 1) % budget["every"] == 0 or last):
            frames[epoch + 1] = grid(generate(g, z_fixed, y_fixed), nrow=10 if conditional else 8)
            _save_frames(frames_path, frames)
        return {}

    loop = Loop(
        epochs=budget["epochs"],
        batches=batches.set_epoch,
        step=_step_fn(*step_nets, cfg, k, backward, noise),
        state={"G": g, "D": d, "opt_G": opt_g, "opt_D": opt_d},
        checkpoint=run.checkpoints / f"{name}.pt",
        end_epoch=end_epoch,
        desc=desc or name,
        is_main=rank == 0,
        reduce=all_reduce_means(fabric) if fabric is not None else None,
    )
    result = loop.run()
    return Trained(g, d, result.history, frames, result.seconds, result.steps, result.already_finished)


def sample_set(
    cfg: Any, trained: Trained, data: GanData, conditional: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`cfg.samples` generated images (balanced labels for a conditional model) from a seeded noise."""
    device = next(trained.g.parameters()).device
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    z = torch.randn(cfg.samples, cfg.nz, generator=gen).to(device)
    if not conditional:
        return generate(trained.g, z), None
    k = len(data.classes)
    labels = torch.arange(cfg.samples) % k
    return generate(trained.g, z, F.one_hot(labels, k).float().to(device)), labels


def save_generator(run: Run, cfg: Any, g: nn.Module, data: GanData, conditional: bool) -> Path:
    """checkpoints/generator.pt: the generator's weights and what rebuilds it (for `generate interpolate`)."""
    path = run.checkpoints / "generator.pt"
    save_checkpoint(
        path,
        {
            "kind": "cgan" if conditional else "dcgan",
            "nz": cfg.nz,
            "ngf": cfg.ngf,
            "nc": data.channels,
            "classes": list(data.classes),
            "digits": data.digits,
            "state": {k: v.cpu() for k, v in g.state_dict().items()},
        },
    )
    return path


def _run(cfg: Any, run: Run, conditional: bool) -> dict[str, float]:
    from visionlab.generate.evaluate import finish_run

    data = load_data(cfg, run, cfg.attribute if conditional and cfg.data == "celeba" else None)
    if conditional and len(data.classes) < 2:
        from visionlab.errors import MissingDataError

        raise MissingDataError(f"{data.description}: a conditional GAN needs at least 2 classes")
    trained = train_gan(cfg, run, data, conditional, desc="cgan" if conditional else "dcgan")
    save_generator(run, cfg, trained.g, data, conditional)
    return finish_run(cfg, run, data, trained, conditional)


def run_dcgan(cfg: Any, run: Run) -> dict[str, float]:
    """`generate dcgan`: train, then figures, samples.npz and metrics."""
    return _run(cfg, run, conditional=False)


def run_cgan(cfg: Any, run: Run) -> dict[str, float]:
    """`generate cgan`: train the conditional GAN, then figures (one row per class), samples.npz, metrics."""
    return _run(cfg, run, conditional=True)
