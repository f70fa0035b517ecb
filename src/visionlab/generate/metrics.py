"""Sample metrics: Frechet distance and KID (`distances.py`) in a digit classifier's feature space, label
accuracy, class histograms (and the same histogram of as many held-out real digits). Features come
from the penultimate layer of a small CNN trained on the MNIST training split (cached outside the
data root, by the content of its training set, the epochs and the seed, so it is trained once).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from visionlab.engine import Loop, TensorBatches, eval_mode, load_checkpoint, predict_chunks, save_checkpoint
from visionlab.generate.data import to_float
from visionlab.generate.distances import frechet_distance, kid


class DigitClassifier(nn.Module):
    """A small CNN for 1x32x32 digits in [-1, 1]; `features` is its 128-d penultimate layer."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x16
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8x8
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 4x4
            nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _ShiftedBatches:
    """Each epoch a seeded order of the digits in batches of 64, each with a random shift of up to 2 pixels.

    Order and shifts are a host-side schedule from one CPU generator, drawn at the start of each epoch (the
    stream of the loop this replaced, draw for draw); the images stay on their device.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, seed: int, batch_size: int = 64) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.order = torch.arange(len(x))
        self.shifts: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def set_epoch(self, epoch: int) -> _ShiftedBatches:
        self.order = torch.randperm(len(self.x), generator=self.gen)
        self.shifts = [tuple(torch.randint(-2, 3, (2,), generator=self.gen).tolist()) for _ in range(len(self))]
        return self

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, tuple[int, int]]]:
        order = self.order.to(self.x.device)
        batches = TensorBatches(self.x[order], self.y[order], batch_size=self.batch_size, shuffle=False)
        for (x, y), shift in zip(batches, self.shifts):
            yield x, y, shift


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    """Adam, batches of 64, random shifts of up to 2 pixels as augmentation, on the shared loop."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(batch: tuple[torch.Tensor, torch.Tensor, tuple[int, int]], progress: float) -> dict[str, torch.Tensor]:
        images, labels, shift = batch
        loss = F.cross_entropy(model(torch.roll(images, shifts=shift, dims=(2, 3))), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    model.train()
    batches = _ShiftedBatches(x, y, seed)
    Loop(epochs=epochs, batches=batches.set_epoch, step=step, state={}, desc="digit classifier").run()
    model.eval()


def predict(model: DigitClassifier, images: torch.Tensor, chunk: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (N, 128), logits (N, 10)) of uint8 (N, 1, 32, 32) images, on the model's device."""

    def read(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = model.features(to_float(x))
        return f, model.head(f)

    with eval_mode(model):
        return predict_chunks(read, images, chunk, device=next(model.parameters()).device)


@dataclass
class Reference:
    """The digit classifier, its test accuracy, and the features of the real training and test digits."""

    model: DigitClassifier
    test_acc: float
    train_features: torch.Tensor
    test_features: torch.Tensor

    def to(self, device: torch.device) -> Reference:
        """The same reference with the classifier and the features on `device`."""
        return Reference(self.model.to(device), self.test_acc, self.train_features.to(device),
                         self.test_features.to(device))  # fmt: skip


def digit_classifier(
    train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor, cache: Path,
    seed: int = 0, epochs: int = 8, device: torch.device | None = None, name: str = "digit",
) -> Reference:  # fmt: skip
    """The digit classifier trained on `train` (uint8 (N, 1, 32, 32)) and the real features, cached on disk.

    It trains on `device` (default the CPU); the cache `<name>-cnn-*.pt` holds it on the host, whatever the device.
    """
    device = device or torch.device("cpu")
    key = hashlib.sha1(train.numpy().tobytes() + labels.numpy().tobytes()).hexdigest()[:12]
    path = Path(cache) / f"{name}-cnn-{key}-e{epochs}-s{seed}.pt"
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    model = DigitClassifier()
    torch.set_rng_state(state)
    if path.exists():
        ckpt = load_checkpoint(path)
        model.load_state_dict(ckpt["state"])
        ref = Reference(model.eval(), float(ckpt["test_acc"]), ckpt["train_features"], ckpt["test_features"])
        return ref.to(device)
    model.to(device)
    _fit(model, to_float(train.to(device)), labels.to(device), epochs, seed)
    f_test, logits = predict(model, test)
    acc = float((logits.argmax(1) == test_labels.to(device)).float().mean())
    f_train = predict(model, train)[0].float()
    save_checkpoint(
        path,
        {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "test_acc": acc,
         "train_features": f_train.cpu(), "test_features": f_test.float().cpu()},
    )  # fmt: skip
    return Reference(model, acc, f_train, f_test.float())


def class_histogram(predicted: torch.Tensor, n_classes: int = 10) -> np.ndarray:
    """Share of each predicted class (read out to the host)."""
    counts = torch.bincount(predicted.flatten(), minlength=n_classes).cpu().numpy().astype(np.float64)
    return counts / max(1.0, counts.sum())


def entropy(shares: np.ndarray) -> float:
    """Entropy in nats of a histogram (log 10 = 2.303 for ten equal classes)."""
    p = np.asarray(shares, dtype=np.float64)
    p = p[p > 0]
    return max(0.0, float(-(p * np.log(p)).sum()))  # no -0.0 for a single class


@dataclass
class SampleReadings:
    """What the digit classifier reads from a sample set, still on the device (nothing read out yet).

    Attributes:
        features: (N, 128) features of the samples.
        real: (M, 128) features of the held-out real digits (the real-vs-real floor).
        train: (T, 128) features of the training digits, the reference both are compared with.
        predicted: (N,) the digit read from each sample.
        label_acc: share of samples read as their label (conditional samples), else None.
        real_predicted: (M,) the digit read from each held-out real digit (their class histogram: what real data gives).
    """

    features: torch.Tensor
    real: torch.Tensor
    train: torch.Tensor
    predicted: torch.Tensor
    label_acc: torch.Tensor | None
    real_predicted: torch.Tensor


def sample_readings(
    ref: Reference, samples: torch.Tensor, labels: torch.Tensor | None, test_index: torch.Tensor
) -> SampleReadings:
    """The classifier's reading of uint8 samples (and their labels), with held-out real digits `test_index`;
    every tensor on the classifier's device."""
    features, logits = predict(ref.model, samples)
    predicted = logits.argmax(1)
    label_acc = (predicted == labels).float().mean() if labels is not None else None
    real = ref.test_features[test_index]
    with torch.no_grad():
        real_predicted = ref.model.head(real).argmax(1)
    return SampleReadings(features, real, ref.train_features, predicted, label_acc, real_predicted)


def _host(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


def digit_metrics(readings: SampleReadings, seed: int = 0, subsets: int = 50, rows: int = 5000) -> dict[str, float]:
    """FD/KID of the samples and of the held-out real digits (the floor) against the training digits;
    label accuracy (conditional) or class-histogram entropy and coverage (unconditional), and the rarest class share
    among the held-out real digits.

    The features are read out to the host here, once (the statistics are NumPy/SciPy); KID uses `subsets`
    random subsets and kernel matrices of at most `rows` rows per set.
    """
    f_gen, f_test, f_train = _host(readings.features), _host(readings.real), _host(readings.train)
    k_gen, k_gen_std = kid(f_gen, f_train, subsets, seed=seed, cap=rows)
    k_real, _ = kid(f_test, f_train, subsets, seed=seed, cap=rows)
    out = {
        "samples/fd": frechet_distance(f_gen, f_train),
        "samples/kid": k_gen,
        "samples/kid_std": k_gen_std,
        "real/fd_floor": frechet_distance(f_test, f_train),
        "real/kid_floor": k_real,
    }
    if readings.label_acc is not None:
        out["samples/label_acc"] = float(readings.label_acc)
    shares = class_histogram(readings.predicted)
    out.update(
        {
            "samples/class_entropy": entropy(shares),
            "samples/class_entropy_max": math.log(10),
            "samples/class_min_share": float(shares.min()),
            "samples/class_max_share": float(shares.max()),
            "samples/digits_covered": float((shares >= 0.03).sum()),
        }
    )
    out["real/class_min_share"] = float(class_histogram(readings.real_predicted).min())  # as many real digits
    return out


def inception_weights() -> Path | None:
    """torch-fidelity's Inception weights file when it is in torch's cache (never downloaded here)."""
    from torch.hub import get_dir

    path = Path(get_dir()) / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    return path if path.exists() else None


def inception_metrics(samples: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """Inception FID and KID through torch-fidelity, on uint8 (N, C, H, W) images (grey -> 3 channels)."""
    import torch_fidelity
    from torch.utils.data import TensorDataset

    class _Images(TensorDataset):
        def __getitem__(self, i: int) -> torch.Tensor:  # type: ignore[override]
            x = self.tensors[0][i]
            return x.expand(3, -1, -1).contiguous() if x.shape[0] == 1 else x

    size = min(1000, len(samples), len(real))
    m = torch_fidelity.calculate_metrics(
        input1=_Images(samples.cpu()), input2=_Images(real.cpu()), fid=True, kid=True,
        kid_subset_size=size, verbose=False, cuda=torch.cuda.is_available(),
    )  # fmt: skip
    return {"inception/fid": m["frechet_inception_distance"], "inception/kid": m["kernel_inception_distance_mean"]}
