"""Lightning Fabric for precision and data parallelism, with the training loop left explicit.

`launch(fn, *args, ...)` calls `fn(fabric, *args)` in this process, or in N processes (DDP through
Fabric's `ddp_spawn`: one per GPU with `cuda`, CPU processes with gloo otherwise). Inside, a command
wraps its models and optimizers with `fabric.setup` (autocast for mixed precision, DDP gradient
averaging), calls `fabric.backward(loss)`, and gives the loop `all_reduce_means(fabric)` so that every
process sees the same epoch logs. Rank 0 writes checkpoints; results come back through them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from visionlab.engine.devices import check_precision, select_device
from visionlab.errors import UsageError, VisionlabError


def make_fabric(device: str = "auto", precision: str = "32-true", devices: int = 1, strategy: str = "auto") -> Any:
    """A Lightning Fabric on `device` with `precision`, over `devices` processes (DDP when more than one)."""
    from lightning_fabric import Fabric

    dev = select_device(device)
    check_precision(precision, dev)
    if dev.type == "cuda" and torch.cuda.device_count() < devices:
        here = torch.cuda.device_count()
        raise UsageError(f"--devices {devices}: only {here} CUDA device(s) here", "lower --devices")
    if devices > 1 and dev.type == "mps":
        raise UsageError("--devices N > 1 needs CUDA GPUs or the CPU, not MPS", "use --devices 1 on MPS")
    if devices > 1 and strategy == "auto":
        strategy = "ddp_spawn"
    return Fabric(accelerator=dev.type, devices=devices, precision=precision, strategy=strategy)


def _worker(fabric: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """One process: share the CPU threads among the processes, then run `fn`.

    A user error in a spawned process comes back as a value (`launch` raises it again in the caller),
    so the user sees its one line instead of a child process's traceback. A spawned process leaves its
    process group before it ends: a gloo group still alive at interpreter exit can abort the process
    (SIGABRT, "terminate called without an active exception"), seen on a loaded CPU.
    """
    if fabric.world_size > 1 and fabric.device.type == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads() // fabric.world_size))
    try:
        return fn(fabric, *args)
    except VisionlabError as err:
        if fabric.world_size == 1:
            raise
        return _Failed(type(err), err.what, err.fix)
    finally:
        if fabric.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


class _Failed:
    """A user error of a spawned process, sent back to the caller (exceptions with extra fields pickle badly)."""

    def __init__(self, kind: type[VisionlabError], what: str, fix: str | None) -> None:
        self.kind, self.what, self.fix = kind, what, fix


def launch(
    fn: Callable[..., Any], *args: Any, device: str = "auto", precision: str = "32-true", devices: int = 1
) -> Any:
    """Run `fn(fabric, *args)` in this process (`devices` 1) or in `devices` DDP processes.

    Under DDP, `fn` and `args` are sent to spawned processes (a module-level function, picklable
    arguments) and rank 0's return value comes back through a pipe: keep it small (seconds, counts),
    and send models back through a checkpoint file.
    """
    fabric = make_fabric(device, precision, devices)
    result = fabric.launch(_worker, fn, *args)
    if isinstance(result, _Failed):
        raise result.kind(result.what, result.fix)
    return result


def rank_world(fabric: Any | None) -> tuple[int, int]:
    """(this process's rank, number of processes); (0, 1) without a Fabric."""
    return (fabric.global_rank, fabric.world_size) if fabric is not None else (0, 1)


def all_reduce_means(fabric: Any) -> Callable[[dict[str, float]], dict[str, float]]:
    """A `Loop.reduce` that averages each log over the processes of `fabric` (same keys in every process)."""

    def reduce(means: dict[str, float]) -> dict[str, float]:
        if fabric.world_size == 1 or not means:
            return means
        keys = sorted(means)
        values = fabric.all_reduce(torch.tensor([means[k] for k in keys], dtype=torch.float64), reduce_op="mean")
        reduced = dict(zip(keys, (float(v) for v in values.cpu())))
        return {k: reduced[k] for k in means}

    return reduce
