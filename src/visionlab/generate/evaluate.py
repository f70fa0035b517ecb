"""After training: samples.npz, the figures and the metrics of one GAN run."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch

from visionlab.data.base import cache_root
from visionlab.engine import device_generator
from visionlab.generate.check import Check, check_classifier, check_metrics
from visionlab.generate.commands import CganConfig, DcganConfig, SweepConfig
from visionlab.generate.data import CLASSIFIER_SETS, GanData, load_gan_data
from visionlab.generate.figures import histogram_figure, progress_figure, sample_figure, training_figure
from visionlab.generate.metrics import (
    Reference,
    SampleReadings,
    class_histogram,
    digit_classifier,
    digit_metrics,
    inception_metrics,
    inception_weights,
    sample_readings,
)
from visionlab.generate.sampler import MAX_CODE_ROWS, Trained, sample_set
from visionlab.report.figures import gif_bytes
from visionlab.runs import Run

SKIP_INCEPTION = "skipped: torch-fidelity's Inception weights are not in torch's cache (no download here)"


@functools.lru_cache(maxsize=2)
def _reference_data(name: str, root: Path | None) -> GanData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the training data's loader already said which MNIST it is
        return load_gan_data(name, root, seed=0)


def reference(data_root: Path | None, epochs: int, device: torch.device, dataset: str = "mnist") -> Reference:
    """The evaluation classifier of `dataset` (one of CLASSIFIER_SETS; trained once on its training split,
    cached outside the data root) and the real images' features, on `device`."""
    real = _reference_data(dataset, data_root)
    assert real.test is not None and real.test_labels is not None
    return digit_classifier(
        real.train_uint8(), real.labels, real.test, real.test_labels, cache_root() / "generate",
        seed=0, epochs=epochs, device=device, name=CLASSIFIER_SETS[dataset].cache_name,
    )  # fmt: skip


def independent_check(data_root: Path | None, epochs: int, device: torch.device) -> Check:
    """The independent digit check classifier (another architecture and seed, trained once on the same MNIST
    training split, cached outside the data root), on `device`."""
    mnist = _reference_data("mnist", data_root)
    assert mnist.test is not None and mnist.test_labels is not None
    return check_classifier(
        mnist.train_uint8(), mnist.labels, mnist.test, mnist.test_labels, cache_root() / "generate", epochs, device
    )


def held_out_pick(ref: Reference, count: int, seed: int) -> torch.Tensor:
    """A seeded choice of `count` held-out real digits (the real-vs-real floor), drawn on their device."""
    n, device = len(ref.test_features), ref.test_features.device
    return torch.randperm(n, generator=device_generator(device, seed), device=device)[:count]


def sample_metrics(
    readings: SampleReadings, cfg: DcganConfig | CganConfig | SweepConfig, dataset: str
) -> dict[str, float]:
    """`metrics.digit_metrics` of `dataset`'s classifier readings; the coverage count is named for the set
    (`samples/digits_covered` for MNIST, `samples/classes_covered` for Fashion-MNIST)."""
    out = digit_metrics(readings, cfg.seed, cfg.kid_subsets, cfg.kid_rows)
    out[f"samples/{CLASSIFIER_SETS[dataset].unit}_covered"] = out.pop("samples/digits_covered")
    return out


def measure(
    cfg: DcganConfig | CganConfig, run: Run, data: GanData, samples: torch.Tensor, labels: torch.Tensor | None
) -> dict[str, float]:
    """Digit-feature FD/KID (+ floor), label accuracy or class histogram, Inception FID/KID when possible."""
    out: dict[str, float] = {}
    if data.classifier_set is not None:
        words = CLASSIFIER_SETS[data.classifier_set]
        ref = reference(cfg.data_root, cfg.classifier_epochs, samples.device, data.classifier_set)
        pick = held_out_pick(ref, len(samples), cfg.seed)
        readings = sample_readings(ref, samples, labels, pick)
        out["classifier/test_acc"] = ref.test_acc
        out["classifier/train_images"] = float(len(ref.train_features))
        out.update(sample_metrics(readings, cfg, data.classifier_set))
        if data.digits and cfg.check_epochs:
            check = independent_check(cfg.data_root, cfg.check_epochs, samples.device)
            out.update(check_metrics(check, samples, labels))
        key = "digit_features" if data.classifier_set == "mnist" else "classifier_features"
        run.note(**{
            key: f"a small CNN trained on the {words.title} training split (penultimate "
            f"128-d layer); FD/KID of {len(samples)} samples and of {len(pick)} held-out real {words.items} "
            f"(the floor) against the {len(ref.train_features)} training {words.items}"
        })  # fmt: skip
        if labels is None:
            shares = class_histogram(readings.predicted)
            names = None if data.classifier_set == "mnist" else data.classes  # digits: the bar positions say it
            figure = histogram_figure(shares, f"classes of {len(samples)} samples", names)
            run.save_figure(figure, "class_histogram")
    else:
        run.note(digit_metrics="skipped: the sample classifiers (digits, Fashion-MNIST) apply to those two sets only")
    if inception_weights() is not None:
        real = data.test if data.test is not None else data.train_uint8()
        out.update(inception_metrics(samples, real))
    else:
        run.note(inception=SKIP_INCEPTION)
    return out


# What the last G's samples are measured by, next to the moving average's (--ema): the EMA's gain in one run.
LAST_G_KEYS = ("samples/fd", "samples/label_acc", "samples/class_min_share", "samples/class_entropy",
               "samples/label_acc_check", "samples/class_min_share_check")  # fmt: skip


def last_g_metrics(cfg: DcganConfig | CganConfig, g: torch.nn.Module, classes: int, dataset: str) -> dict[str, float]:
    """`last_g/...`: the same sample metrics for the last G itself (the same seeded noise and labels)."""
    samples, labels = sample_set(g, cfg.samples, cfg.nz, classes, cfg.seed)
    ref = reference(cfg.data_root, cfg.classifier_epochs, samples.device, dataset)
    readings = sample_readings(ref, samples, labels, held_out_pick(ref, len(samples), cfg.seed))
    out = digit_metrics(readings, cfg.seed, cfg.kid_subsets, cfg.kid_rows)
    if dataset == "mnist" and cfg.check_epochs:
        out.update(check_metrics(independent_check(cfg.data_root, cfg.check_epochs, samples.device), samples, labels))
    return {"last_g/" + k.split("/", 1)[1]: v for k, v in out.items() if k in LAST_G_KEYS}


def training_metrics(trained: Trained, batch_size: int) -> dict[str, float]:
    """The last epoch's mean logs and this session's training speed."""
    last = trained.history[-1]
    out = {f"train/{k}": v for k, v in last.items() if k != "epoch"}
    out["train/epochs"] = float(len(trained.history))
    if trained.steps:
        out["time/train_s"] = trained.seconds
        out["time/images_per_s"] = trained.steps * batch_size / trained.seconds
    return out


def finish_run(
    cfg: DcganConfig | CganConfig, run: Run, data: GanData, trained: Trained, conditional: bool
) -> dict[str, float]:
    """samples.npz, figures (samples, progress + GIF, curves) and metrics of a trained dcgan/cgan run."""
    classes = len(data.classes) if conditional else 0
    samples, labels = sample_set(trained.g, cfg.samples, cfg.nz, classes, cfg.seed)
    images = samples.permute(0, 2, 3, 1).cpu().numpy()
    images = images[..., 0] if images.shape[-1] == 1 else images
    arrays = {"images": np.ascontiguousarray(images)}
    if labels is not None:
        arrays.update(labels=labels.cpu().numpy(), classes=np.array(data.classes))
    run.save_npz(**arrays)
    kind = "CGAN" if conditional else "DCGAN"
    title = f"{kind}, nz {cfg.nz}, ngf {cfg.ngf}, ndf {cfg.ndf}, {cfg.init} init, {cfg.g_loss} G loss"
    codes = cfg.info_codes if isinstance(cfg, DcganConfig) else 0
    if codes:
        title += f", InfoGAN code of {codes}"
    frames = trained.frames
    last = max(frames)
    rows = data.classes if conditional else [f"code {c}" for c in range(min(codes, MAX_CODE_ROWS))] or None
    run.save_figure(sample_figure(frames[last], f"{kind} samples from a fixed noise, epoch {last}", rows), "samples")
    run.save_figure(progress_figure(frames, title), "progress")
    run.save_bytes("figures/progress.gif", gif_bytes([frames[e] for e in sorted(frames)]))
    run.save_figure(training_figure(trained.history, title), "training")
    out = training_metrics(trained, cfg.batch_size)
    out["samples/count"] = float(len(samples))
    out.update(measure(cfg, run, data, samples, labels))
    if trained.last_g is not None and data.classifier_set is not None:
        out.update(last_g_metrics(cfg, trained.last_g, classes, data.classifier_set))
    return out
