"""Devices, seeding, batches, the shared training loop, checkpoints, and Fabric for precision and DDP."""

from torch import nn

from visionlab.engine.batches import PairedBatches, TensorBatches, eval_mode, predict_chunks
from visionlab.engine.checkpoints import load_checkpoint, save_checkpoint
from visionlab.engine.devices import (
    PRECISIONS,
    check_precision,
    device_generator,
    seed_everything,
    select_device,
)
from visionlab.engine.loop import Loop, LoopResult, progress
from visionlab.engine.parallel import all_reduce_means, launch, make_fabric, rank_world
from visionlab.engine.samplers import RankBatchSampler

__all__ = [
    "PRECISIONS",
    "Loop",
    "LoopResult",
    "PairedBatches",
    "RankBatchSampler",
    "TensorBatches",
    "all_reduce_means",
    "check_precision",
    "count_parameters",
    "device_generator",
    "eval_mode",
    "launch",
    "load_checkpoint",
    "make_fabric",
    "predict_chunks",
    "progress",
    "rank_world",
    "save_checkpoint",
    "seed_everything",
    "select_device",
]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with requires_grad)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
