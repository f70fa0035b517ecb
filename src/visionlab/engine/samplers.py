"""A rank-aware batch sampler for DataLoader-based datasets (image files decoded in worker processes).

`RankBatchSampler` draws the same global order as `TensorBatches` (a generator seeded with
`seed * ORDER_STRIDE + epoch`), cuts it into global batches and gives this process its share
`batch[rank::world]` of each: N processes together see exactly the batches one process would, so a
data-parallel run matches a one-process run (gradients averaged over the global batch).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from visionlab.engine.batches import ORDER_STRIDE


class RankBatchSampler(Sampler[list[int]]):
    """Index batches for `DataLoader(dataset, batch_sampler=...)`, this process's share of each global batch.

    Args:
        n: items in the dataset.
        batch_size: items per global batch (all processes together).
        shuffle: reshuffle with `seed * ORDER_STRIDE + epoch` each epoch (call `set_epoch`), so a resumed run
            and every process draw the same order.
        drop_last: drop the last incomplete global batch.
        rank, world: this process's index and the number of processes.

    A last incomplete batch is kept (unless `drop_last`) only when it can give every process an item: every
    process must take the same number of steps, or DDP waits forever.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside a world of {world}")
        if batch_size < world:
            raise ValueError(f"a global batch of {batch_size} cannot give each of {world} processes an item")
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.rank, self.world = rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> RankBatchSampler:
        self.epoch = epoch
        return self

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + int(rest > 0 and not self.drop_last and rest >= self.world)

    def global_sizes(self) -> list[int]:
        """The size of each global batch (all processes together), in order: a step's loss is scaled by it."""
        return [min(self.batch_size, self.n - i * self.batch_size) for i in range(len(self))]

    def global_order(self) -> torch.Tensor:
        """This epoch's order of all `n` items (the same in every process)."""
        if not self.shuffle:
            return torch.arange(self.n)
        g = torch.Generator().manual_seed(self.seed * ORDER_STRIDE + self.epoch)
        return torch.randperm(self.n, generator=g)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.global_order()
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size][self.rank :: self.world].tolist()
