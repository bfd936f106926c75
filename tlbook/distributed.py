"""Training past one device: data parallelism over the processes that ``torchrun`` starts.

Launched as ``torchrun --nproc-per-node N script.py``, every process (a *rank*) runs the same script.
``fit`` then trains one model on all of them at once, with the arithmetic of PyTorch's
``DistributedDataParallel`` (Li et al., 2020, *PyTorch Distributed*, VLDB):

- every rank starts from rank 0's parameters and buffers (broadcast once);
- every rank draws its own source and target batches (``batch_size`` is per rank, so a step sees
  ``N · batch_size`` examples of each domain);
- before each optimiser step the gradients are averaged over the ranks,
  ``g = (1/N) Σ_r g_r``, so every rank takes the same step and the parameters stay identical;
- buffers (batch-norm statistics) are rank 0's wherever they are read: evaluation, checkpoints and
  the returned model.

The averaging is done at the optimiser (a step pre-hook) rather than by wrapping the model in
``DistributedDataParallel``: DDP's reducer expects one forward pass through the wrapper for each
backward pass, while several methods here take two or three passes and optimisers per step (SDT,
PixelDA, DSN's alternating updates). Averaging at the optimiser gives the same updates for all of
them, unchanged; what it gives up is DDP's overlap of communication with the backward pass.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from . import _checks

__all__ = ["DataParallel", "alone", "barrier", "launched", "rank", "setup", "world_size"]

_alone = 0  # > 0 inside ``alone()``


def launched() -> bool:
    """Whether this process is one of several started by ``torchrun`` (``WORLD_SIZE`` > 1) and trains
    together with them (not inside ``alone()``)."""
    return _alone == 0 and _environment_size() > 1


def _environment_size() -> int:
    """``WORLD_SIZE`` as ``torchrun`` sets it (1 when unset); anything but a positive integer is a broken launch."""
    text = os.environ.get("WORLD_SIZE", "1")
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"the environment variable WORLD_SIZE must be the number of processes, a positive integer "
                         f"(torchrun sets it), got {text!r}")
    return int(text)


@contextmanager
def alone() -> Iterator[None]:
    """Within this block, ``fit`` trains this process's model by itself, even under ``torchrun``: the
    benchmark's processes each train their own cells, and a cell's inner trainings (SDT's source-only
    start, a cached source model) must not wait for the other processes."""
    global _alone
    _alone += 1
    try:
        yield
    finally:
        _alone -= 1


def active() -> bool:
    """Whether a process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes training together (1 when not distributed)."""
    return dist.get_world_size() if active() else 1


def barrier() -> None:
    """Wait until every process of the group gets here (nothing to wait for when not distributed)."""
    if active():
        dist.barrier()


def setup(device: torch.device | str | None = None) -> None:
    """Join the process group ``torchrun`` describes in the environment, once: NCCL when this rank
    trains on a GPU, gloo on the CPU. Nothing happens outside ``torchrun`` or when it is joined already; a device
    this machine lacks is refused in both cases."""
    if device is not None:
        device = _checks.device(device, "device", "setup")
    if not launched() or (dist.is_available() and dist.is_initialized()):
        return
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed; run a single process")
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


class DataParallel:
    """The collective operations ``fit`` needs to train ``module`` on every rank of the process group."""

    def __init__(self, module: nn.Module, optimizers: Iterable[torch.optim.Optimizer]):
        _checks.module(module, "module", "DataParallel")
        optimizers = list(optimizers) if not isinstance(optimizers, (torch.optim.Optimizer, str, bytes)) and \
            hasattr(optimizers, "__iter__") else optimizers
        if not isinstance(optimizers, list) or not all(isinstance(o, torch.optim.Optimizer) for o in optimizers):
            raise TypeError(f"DataParallel: optimizers must be a list of torch optimisers, got {_checks._got(optimizers)}")
        if not active():
            raise RuntimeError("DataParallel needs a process group of several processes (launch with torchrun)")
        self.module, self.rank, self.size = module, dist.get_rank(), dist.get_world_size()
        self.broadcast(module.parameters())
        self.broadcast(module.buffers())
        self._hooks = [opt.register_step_pre_hook(self._average_gradients) for opt in optimizers]

    def close(self) -> None:
        """Remove the gradient hooks: the optimisers work alone again."""
        for hook in self._hooks:
            hook.remove()

    @staticmethod
    def broadcast(tensors: Iterable[torch.Tensor]) -> None:
        """Overwrite ``tensors`` on every rank with rank 0's values."""
        with torch.no_grad():
            for tensor in tensors:
                dist.broadcast(tensor.data, src=0)

    def sync_buffers(self) -> None:
        """Rank 0's buffers everywhere (what DDP's ``broadcast_buffers`` does before a forward pass)."""
        self.broadcast(self.module.buffers())

    def _average_gradients(self, optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])  # one message per step, not one per tensor
        dist.all_reduce(flat)
        flat /= self.size
        for grad, mean in zip(grads, flat.split([g.numel() for g in grads])):
            grad.copy_(mean.view_as(grad))

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each value averaged over the ranks (the logged loss terms); the same dict on every rank."""
        if not values:
            return values
        stacked = torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in values.values()])
        dist.all_reduce(stacked)
        return dict(zip(values, stacked / self.size))

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """The accuracy of the (synchronised) model on all of ``x``: each rank predicts one contiguous
        share, and the counts of right answers are summed. Equal to one process predicting everything."""
        from .metrics import predict

        if len(x) != len(y):
            raise ValueError(f"{len(x)} inputs but {len(y)} labels")
        self.sync_buffers()
        share_x, share_y = x.tensor_split(self.size)[self.rank], y.tensor_split(self.size)[self.rank]
        right = (predict(self.module, share_x) == share_y).sum() if len(share_x) else torch.zeros((), dtype=torch.long)
        counts = torch.stack([right.to(torch.long).cpu(), torch.tensor(len(share_x))])
        counts = counts.to(x.device if x.device.type == "cuda" else "cpu")
        dist.all_reduce(counts)
        return counts[0].item() / counts[1].item()  # as metrics.accuracy: a count over a count

    def gather(self, state: dict) -> list[dict] | None:
        """Every rank's ``state`` (moved to the CPU), as a list in rank order on rank 0; ``None`` elsewhere."""
        states = [None] * self.size if self.rank == 0 else None
        dist.gather_object(_to_cpu(state), states, dst=0)
        return states
