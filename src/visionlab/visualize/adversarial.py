"""`visionlab visualize adversarial`: fool a backbone with naive, FGSM, PGD or Carlini-Wagner examples.

Every attack works on [0, 1] images with the backbone's normalization inside the model, so eps is in
pixel units (2/255 = two grey levels). Targets are drawn once per image (seeded) and shared by every
attack of the run, so attacks compare side by side on the same task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from visionlab.engine import device_generator, progress, select_device
from visionlab.report.figures import image_grid
from visionlab.runs import Run
from visionlab.visualize import attacks
from visionlab.visualize.commands import AdversarialConfig
from visionlab.visualize.inputs import class_name, load_inputs, resolve_class
from visionlab.visualize.nets import gradient_backbone, predict, resize_for


def choose_targets(target: str, labels: torch.Tensor, n_classes: int, seed: int) -> torch.Tensor:
    """Per image: a named class, a random class other than the label (seeded), or -1 (untargeted).

    Drawn on `labels`' device (on the CPU the same draw as `torch.Generator().manual_seed(seed)`).
    """
    if target == "untargeted":
        return torch.full_like(labels, -1)
    if target == "random":
        g = device_generator(labels.device, seed)
        offset = torch.randint(1, n_classes, labels.shape, generator=g, device=labels.device)
        return (labels + offset) % n_classes  # uniform over the other classes
    return torch.full_like(labels, resolve_class(target))


def run_attack(
    name: str,
    cfg: AdversarialConfig,
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    seed: int,
) -> attacks.AttackResult:
    """One attack on a batch, with the config's settings (every tensor on `images`' device)."""
    steps = cfg.steps or attacks.DEFAULT_STEPS[name]
    if name == "naive":
        return attacks.naive(model, images, labels, targets, cfg.step_size, steps)
    if name == "fgsm":
        return attacks.fgsm(model, images, labels, targets, cfg.eps)
    if name == "pgd":
        alpha = cfg.alpha if cfg.alpha is not None else cfg.eps / 4
        g = device_generator(images.device, seed)
        return attacks.pgd(model, images, labels, targets, cfg.eps, alpha, steps, cfg.random_start, generator=g)
    return attacks.cw(model, images, labels, targets, cfg.cw_c, cfg.cw_lr, steps)


def attack_all(
    name: str,
    cfg: AdversarialConfig,
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
) -> attacks.AttackResult:
    """`run_attack` over batches of `cfg.batch_size`, with a progress bar."""
    advs, steps = [], []
    starts = range(0, len(images), cfg.batch_size)
    for i in progress(starts, f"{name}", total=len(starts)):
        sl = slice(i, i + cfg.batch_size)
        res = run_attack(name, cfg, model, images[sl], labels[sl], targets[sl], cfg.seed + i)
        advs.append(res.images)
        steps.append(res.steps)
    return attacks.AttackResult(torch.cat(advs), torch.cat(steps))


def _panel(x: torch.Tensor, adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The difference shown around mid-grey, and magnified to fill the range (with its factor)."""
    delta = adv - x
    peak = float(delta.abs().max().clamp_min(1e-8))
    return 0.5 + delta, 0.5 + delta * (0.5 / peak), 0.5 / peak


def four_panel(
    name: str,
    images: torch.Tensor,
    adv: torch.Tensor,
    p_clean: torch.Tensor,
    p_adv: torch.Tensor,
    targets: torch.Tensor,
    rows: int,
) -> Any:
    """Original, adversarial, difference, magnified difference: one row per image."""
    tiles, titles = [], []
    for i in range(min(rows, len(images))):
        diff, magnified, factor = _panel(images[i], adv[i])
        c, a = int(p_clean[i].argmax()), int(p_adv[i].argmax())
        goal = "untargeted" if targets[i] < 0 else f"target: {class_name(int(targets[i]))[:16]}"
        tiles += [images[i], adv[i], diff, magnified]
        titles += [
            f"{class_name(c)[:18]} {p_clean[i, c]:.0%}",
            f"{class_name(a)[:18]} {p_adv[i, a]:.0%}",
            f"difference ({goal})",
            f"difference x{factor:.0f}",
        ]
    return image_grid(tiles, ncols=4, titles=titles, size=2.2, suptitle=f"{name}: original, adversarial, difference")


def _summary(
    prefix: str, ok: torch.Tensor, linf: torch.Tensor, l2: torch.Tensor, steps: torch.Tensor, p_target: torch.Tensor
) -> dict[str, float]:
    return {
        f"{prefix}/success_rate": float(ok.float().mean()),
        f"{prefix}/linf_mean": float(linf.mean()),
        f"{prefix}/linf_max": float(linf.max()),
        f"{prefix}/l2_mean": float(l2.mean()),
        f"{prefix}/steps_mean": float(steps.float().mean()),
        f"{prefix}/target_prob_mean": float(p_target.mean()),
    }


def run(cfg: AdversarialConfig, run: Run) -> dict[str, float]:
    """Attack every image with every listed attack; metrics per attack, `attack/*` for the first."""
    device = select_device(cfg.device)
    model = gradient_backbone(cfg.backbone, cfg.weights, device)
    inputs = load_inputs(cfg.images, model.preprocess(), cfg.size, cfg.limit)
    run.set_data(inputs.source)
    images = inputs.images.to(device)
    p_clean = predict(model, images, cfg.batch_size)
    known_label = torch.tensor([lab is not None for lab in inputs.labels], device=device)
    given = torch.tensor([lab or 0 for lab in inputs.labels], device=device)
    labels = torch.where(known_label, given, p_clean.argmax(1))  # the known label, else the clean prediction
    targets = choose_targets(cfg.target, labels, p_clean.shape[1], cfg.seed)
    p_clean = p_clean.cpu()  # read once, for the metrics and figures
    predicted = p_clean.argmax(dim=1)
    known = [i for i, a in enumerate(inputs.accept) if a]
    metrics: dict[str, float] = {"clean/images": len(labels)}
    if known:
        metrics["clean/top1_acc"] = sum(int(predicted[i]) in inputs.accept[i] for i in known) / len(known)
    other = gradient_backbone(cfg.transfer_to, cfg.transfer_weights, device) if cfg.transfer_to else None
    p_other = predict(other, resize_for(other, images), cfg.batch_size).cpu() if other is not None else None
    run.note(
        backbone=model.weights,
        target=cfg.target,
        label_source="labels where known, else the clean prediction",
        **({"transfer_to": other.weights} if other is not None else {}),
        skipped_files=inputs.skipped,
    )
    samples: dict[str, np.ndarray] = {"original": _uint8(images[: cfg.examples])}
    for n, name in enumerate(cfg.attack):
        part, adv, ok = _one_attack(name, cfg, run, model, images, labels, targets, p_clean)
        if other is not None:
            part.update(_transfer(name, other, adv, labels.cpu(), targets.cpu(), p_other, ok, cfg.batch_size))
        metrics.update(part)
        if n == 0:  # attack/* and transfer/* repeat the first attack's numbers
            metrics.update({k.replace(f"{name}/", "attack/", 1): v for k, v in part.items() if k.startswith(name)})
            metrics.update(
                {
                    k.replace(f"transfer/{name}_", "transfer/", 1): v
                    for k, v in part.items()
                    if k.startswith("transfer/")
                }
            )
        samples[name] = _uint8(adv[: cfg.examples])
    run.save_npz(**samples)
    return metrics


def _one_attack(
    name: str,
    cfg: AdversarialConfig,
    run: Run,
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    p_clean: torch.Tensor,
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Run one attack on every image and save its figure: (its metrics, the examples, which ones succeeded).

    `images`, `labels` and `targets` are on the compute device; the numbers are read once, at the end.
    """
    res = attack_all(name, cfg, model, images, labels, targets)
    p_adv = predict(model, res.images, cfg.batch_size).cpu()
    labels, targets = labels.cpu(), targets.cpu()
    ok = attacks.success(p_adv, labels, targets)
    linf, l2 = attacks.perturbation_norms(images.cpu(), res.images.cpu())
    p_goal = p_adv.gather(1, torch.where(targets >= 0, targets, labels)[:, None])[:, 0]
    run.save_figure(four_panel(name, images.cpu(), res.images.cpu(), p_clean, p_adv, targets, cfg.examples), name)
    return _summary(name, ok, linf, l2, res.steps, p_goal), res.images, ok


def _transfer(
    name: str,
    other: torch.nn.Module,
    adv: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    p_other: torch.Tensor,
    ok: torch.Tensor,
    batch_size: int,
) -> dict[str, float]:
    """Transfer to `other` (Papernot et al. 2016): `success_rate` among the examples that fool the source, the
    share that reach the same goal on `other`; `changed_rate`: the share of all examples whose `other`
    prediction differs from its prediction on the clean image."""
    p = predict(other, resize_for(other, adv), batch_size).cpu()
    hit = attacks.success(p, labels, targets)
    changed = p.argmax(1) != p_other.argmax(1)
    fooled = ok.nonzero()[:, 0]
    rate = float(hit[fooled].float().mean()) if len(fooled) else float("nan")
    return {f"transfer/{name}_success_rate": rate, f"transfer/{name}_changed_rate": float(changed.float().mean())}


def _uint8(images: torch.Tensor) -> np.ndarray:
    return (images.detach().cpu().clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
