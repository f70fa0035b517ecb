"""The batch iterators of in-memory training and the chunked prediction helper.

`TensorBatches` shuffles tensors that already sit on the compute device (no per-sample work); under
data parallelism every process draws the same global order and takes its own slice of each global
batch, so N processes see exactly the batches one process would. `PairedBatches` pairs two such
iterators (source and target domains). `predict_chunks` runs a function over a large tensor in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from visionlab.errors import UsageError

# The reshuffles of the second iterator of a pair inside one epoch get the seeds epoch * ROUNDS + round.
ROUNDS = 1000
# The order of epoch e comes from a generator seeded with seed * ORDER_STRIDE + e.
ORDER_STRIDE = 100_003


class TensorBatches(Sized):
    """Mini-batches of in-memory tensors, shuffled by a seeded generator.

    Args:
        tensors: tensors with the same first dimension (e.g. images and labels), on any device.
        batch_size: items per (global) batch.
        shuffle: reshuffle with `seed * ORDER_STRIDE + epoch` each epoch, so a resumed run sees the same order.
        drop_last: drop the last incomplete batch.
        rank, world: under data parallelism, this process's index and the number of processes; each process
            yields its share `batch[rank::world]` of every global batch.
        name: what the tensors are, for the error raised when they hold less than one batch.
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world: int = 1,
        name: str = "the training set",
    ) -> None:
        self.tensors = tensors
        self.n = len(tensors[0])
        if any(len(t) != self.n for t in tensors):
            raise ValueError("all tensors need the same length")
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside a world of {world}")
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.rank, self.world, self.name = rank, world, name
        self.epoch = 0

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        # A last, incomplete batch is kept unless drop_last, or unless it cannot give every process an item
        # (every process must take the same number of steps, or DDP waits forever).
        return full + int(rest > 0 and not self.drop_last and rest >= self.world)

    def require_batch(self) -> TensorBatches:
        """Raise a usage error when there is not a single batch (e.g. fewer images than --batch-size)."""
        if len(self) == 0:
            raise UsageError(
                f"{self.name} has {self.n} item(s), fewer than one batch of {self.batch_size}",
                "lower --batch-size or use more data",
            )
        return self

    def set_epoch(self, epoch: int) -> TensorBatches:
        self.epoch = epoch
        return self

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        device = self.tensors[0].device
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * ORDER_STRIDE + self.epoch)
            order = torch.randperm(self.n, generator=g).to(device)
        else:
            order = torch.arange(self.n, device=device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            if self.world > 1:
                idx = idx[self.rank :: self.world]
            yield tuple(t[idx] for t in self.tensors)


class PairedBatches(Sized):
    """Each batch of `first` followed by the next batch of `second`: `(*first_batch, *second_batch)`.

    An epoch is one pass over `first`; `second` restarts, reshuffled, whenever it runs out (its epoch
    index is `epoch * ROUNDS + round`). Used for DANN's source + target steps and for pseudo-labelling.
    """

    def __init__(self, first: TensorBatches, second: TensorBatches) -> None:
        self.first = first.require_batch()
        self.second = second.require_batch()
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.first)

    def set_epoch(self, epoch: int) -> PairedBatches:
        self.epoch = epoch
        return self

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        self.first.set_epoch(self.epoch)
        rounds = 0
        second = iter(self.second.set_epoch(self.epoch * ROUNDS))
        for a in self.first:
            b = next(second, None)
            if b is None:
                rounds += 1
                second = iter(self.second.set_epoch(self.epoch * ROUNDS + rounds))
                b = next(second)
            yield (*a, *b)


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put `modules` in eval mode for the block, then back in the mode each was in."""
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, training in zip(modules, was):
            m.train(training)


@torch.no_grad()
def predict_chunks(
    fn: Callable[[torch.Tensor], Any], inputs: torch.Tensor, chunk: int = 500, device: torch.device | None = None
) -> Any:
    """`fn` over `inputs` in chunks of `chunk` rows (each moved to `device` first), outputs concatenated.

    `fn` returns a tensor or a tuple of tensors; the result is the same structure, on the device `fn`
    returned it on (read numbers out of it once, outside). No gradients are kept.
    """
    outs = []
    for i in range(0, len(inputs), chunk):
        x = inputs[i : i + chunk]
        outs.append(fn(x.to(device, non_blocking=True) if device is not None else x))
    if not outs:
        raise ValueError("predict_chunks needs at least one input row")
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)
