"""Speed and memory of every method on the current device: steps per second and peak memory."""
from __future__ import annotations

import time
from typing import Sequence

import torch

from .. import _checks
from .._utils import seed_everything
from ..data import PAIRS, load_pair
from ..train import fit
from ._args import flag
from .registry import METHODS, TRAINING, check_inputs, check_names, make_method

__all__ = ["profile_methods"]


def profile_methods(methods: Sequence[str], pair: str, steps: int = 300, batch_size: int = 64,
                    device: torch.device | str = "cpu", amp: bool = False) -> list[dict]:
    """Train each method for ``steps`` steps (after a 20-step warm-up) and time it.

    Returns one dict per method: ``steps_per_s`` and, on CUDA, ``peak_mib`` (the most GPU
    memory allocated during training). Evaluation and logging run once, at the end.
    """
    where = "profile_methods"
    check_names(methods, METHODS, "method", where)
    check_names([pair], PAIRS, "pair", where)
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        _checks.integer(value, name, where)
    _checks.device(device, "device", where)
    flag(amp, "amp", where)
    for name in methods:  # a method that cannot run on the pair fails before the first one is timed
        check_inputs(name, load_pair(pair)[0])
    source, target = load_pair(pair, device=device)
    cuda = source.device.type == "cuda"
    rows = []
    for name in methods:
        seed_everything(0)
        method = make_method(name, source, target, 0, steps)
        options = dict(batch_size=batch_size, progress_bar=False, amp=amp, eval_sets={}, **TRAINING)
        fit(method, source, target, steps=20, **options)  # warm-up: kernels, allocator, autotuning
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        fit(method, source, target, steps=steps, log_every=steps, **options)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        rows.append({"method": name, "pair": pair, "device": str(source.device), "amp": amp,
                     "steps_per_s": steps / seconds,
                     "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan")})
    return rows
