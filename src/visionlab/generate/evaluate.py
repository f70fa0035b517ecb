"""After training: samples.npz, the figures and the metrics of one GAN run."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionlab.generate.data import GanData
from visionlab.runs import Run

SKIP_INCEPTION = "skipped: torch-fidelity's Inception weights are not in torch's cache (no download here)"


@functools.lru_cache(maxsize=2)
def _mnist(root: Path | None) -> GanData:
    from visionlab.generate.data import load_gan_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the training data's loader already said which MNIST it is
        return load_gan_data("mnist", root, seed=0)


def reference(cfg: Any) -> Any:
    """The digit classifier (trained once on the MNIST training split, cached) and the real digits' features."""
    from visionlab.data import default_root
    from visionlab.generate.metrics import digit_classifier

    mnist = _mnist(cfg.data_root)
    assert mnist.test is not None and mnist.test_labels is not None
    return digit_classifier(
        mnist.train_uint8(), mnist.labels, mnist.test, mnist.test_labels, default_root(cfg.data_root) / "generate",
        seed=0, epochs=1 if cfg.quick else 8,
    )  # fmt: skip


def measure(cfg: Any, run: Run, data: GanData, samples: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
    """Digit-feature FD/KID (+ floor), label accuracy or class histogram, Inception FID/KID when possible."""
    from visionlab.generate.figures import histogram_figure
    from visionlab.generate.metrics import class_histogram, digit_metrics, inception_metrics, inception_weights

    out: dict[str, float] = {}
    if data.digits:
        ref = reference(cfg)
        n_test, n_train = len(ref.test_features), len(ref.train_features)
        pick = torch.randperm(n_test, generator=torch.Generator().manual_seed(cfg.seed))[: len(samples)]
        out["classifier/test_acc"] = ref.test_acc
        out.update(digit_metrics(ref, samples, labels, pick, cfg.seed, subsets=10 if cfg.quick else 50))
        run.note(
            digit_features="a small CNN trained on the MNIST training split (penultimate 128-d layer); "
            f"FD/KID of {len(samples)} samples and of {len(pick)} held-out real digits (the floor) "
            f"against the {n_train} training digits"
        )
        if labels is None:
            from visionlab.generate.metrics import predict

            shares = class_histogram(predict(ref.model, samples)[1].argmax(1))
            run.save_figure(histogram_figure(shares, f"classes of {len(samples)} samples"), "class_histogram")
    else:
        run.note(digit_metrics="skipped: the digit classifier applies to MNIST only")
    if inception_weights() is not None:
        real = data.test if data.test is not None else data.train_uint8()
        out.update(inception_metrics(samples, real))
    else:
        run.note(inception=SKIP_INCEPTION)
    return out


def training_metrics(trained: Any, batch_size: int) -> dict[str, float]:
    """The last epoch's mean logs and this session's training speed."""
    last = trained.history[-1]
    out = {f"train/{k}": v for k, v in last.items() if k != "epoch"}
    out["train/epochs"] = float(len(trained.history))
    if trained.steps:
        out["time/train_s"] = trained.seconds
        out["time/images_per_s"] = trained.steps * batch_size / trained.seconds
    return out


def finish_run(cfg: Any, run: Run, data: GanData, trained: Any, conditional: bool) -> dict[str, float]:
    """samples.npz, figures (samples, progress + GIF, curves) and metrics of a trained dcgan/cgan run."""
    from visionlab.generate.figures import progress_figure, sample_figure, training_figure
    from visionlab.generate.train import sample_set
    from visionlab.report.figures import gif_bytes

    samples, labels = sample_set(cfg, trained, data, conditional)
    images = samples.permute(0, 2, 3, 1).numpy()
    images = images[..., 0] if images.shape[-1] == 1 else images
    arrays = {"images": np.ascontiguousarray(images)}
    if labels is not None:
        arrays.update(labels=labels.numpy(), classes=np.array(data.classes))
    run.save_npz(**arrays)
    kind = "CGAN" if conditional else "DCGAN"
    title = f"{kind}, nz {cfg.nz}, ngf {cfg.ngf}, ndf {cfg.ndf}, {cfg.init} init, {cfg.g_loss} G loss"
    frames = trained.frames
    last = max(frames)
    rows = data.classes if conditional else None
    run.save_figure(sample_figure(frames[last], f"{kind} samples from a fixed noise, epoch {last}", rows), "samples")
    run.save_figure(progress_figure(frames, title), "progress")
    run.save_bytes("figures/progress.gif", gif_bytes([frames[e] for e in sorted(frames)]))
    run.save_figure(training_figure(trained.history, title), "training")
    out = training_metrics(trained, cfg.batch_size)
    out["samples/count"] = float(len(samples))
    out.update(measure(cfg, run, data, samples, labels))
    return out
