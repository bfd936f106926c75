"""One training loop for every method: step-based schedules, logging, evaluation, checkpoints."""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm  # text bars: they read the same in a terminal, a notebook and the rendered book

from ._utils import atomic_save
from .data import BatchSampler, Domain, check_same_shape
from .methods import Method
from .metrics import accuracy

__all__ = ["History", "fit", "make_optimizer"]


@dataclass
class History:
    """What ``fit`` recorded: loss terms every ``log_every`` steps (averaged over
    the interval) and accuracies on the evaluation sets every ``eval_every`` steps."""

    steps: list[int] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)
    eval_steps: list[int] = field(default_factory=list)
    evals: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def final(self, name: str) -> float:
        """The last recorded accuracy on evaluation set ``name``."""
        if name not in self.evals:
            raise KeyError(f"no evaluation set {name!r}; recorded: {', '.join(self.evals) or 'none'}")
        return self.evals[name][-1]


def make_optimizer(name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> Callable:
    """A factory ``params -> optimizer`` for ``"sgd"`` (with momentum) or ``"adam"``."""
    # foreach: one multi-tensor update per step instead of a Python loop over parameters (the same
    # arithmetic; PyTorch's default on a GPU, not on a CPU).
    if name == "sgd":
        return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
    if name == "adam":
        return lambda params: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)
    raise ValueError(f"unknown optimizer {name!r}; choose 'sgd' or 'adam', or pass a callable params -> optimizer")


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _autocast(device: torch.device, amp: bool) -> tuple[str, torch.dtype] | None:
    if not amp:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise RuntimeError("amp=True uses bfloat16, which this GPU does not support; train with amp=False")
    return (device.type, torch.bfloat16)


def fit(
    method: Method,
    source: Domain,
    target: Domain | None = None,
    *,
    steps: int,
    batch_size: int = 64,
    optimizer: str | Callable = "sgd",
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    lr_schedule: Callable[[float], float] | None = None,
    eval_sets: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    eval_every: int | None = None,
    log_every: int | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    seed: int = 0,
    progress_bar: bool = True,
    callback: Callable[[int, Method, History], None] | None = None,
    amp: bool = False,
) -> History:
    """Train ``method`` for ``steps`` steps of one source and one target batch each.

    - The method moves to the source domain's device; batches are sliced there.
    - ``lr_schedule(p)`` multiplies the learning rate at progress ``p = step / steps``
      (e.g. ``tlbook.schedules.dann_lr``); the method receives ``p`` too (for λ ramps).
    - Target labels reach the method only if ``method.uses_target_labels``.
    - ``eval_sets`` maps names to ``(x, y)``; by default the source and target
      **test** splits. Their accuracies are recorded for plots and reports; nothing
      here selects a model by them: the returned weights are those of the last step.
    - ``checkpoint``: a file. If it exists, training resumes from it (model, optimisers,
      step, samplers, random generators and history), so an interrupted run ends with
      the same weights as an uninterrupted one.
    - ``callback(step, method, history)`` runs after every step (``step`` counts from 1).
    - ``amp``: mixed precision, bfloat16 autocast for the forward passes (on a GPU without
      bfloat16 support it raises). The discrepancy losses compute in float32 regardless.
      bfloat16 keeps float32's range, so no gradient scaling is needed.
    - Inside a step nothing waits for the device: loss terms are summed on the device and
      read back only every ``log_every`` steps; evaluation reads accuracies back.
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    if target is not None:
        check_same_shape(source, target)
    device = source.device
    method.to(device)
    method.autocast = _autocast(device, amp)
    make = make_optimizer(optimizer, lr, momentum, weight_decay) if isinstance(optimizer, str) else optimizer
    optimizers = method.configure_optimizers(make)
    for opt in optimizers:
        for group in opt.param_groups:
            group.setdefault("base_lr", group["lr"])
    samplers = [BatchSampler(source.x_train, source.y_train, batch_size, seed=seed)]
    if target is not None:
        labels = target.y_train if method.uses_target_labels else None
        samplers.append(BatchSampler(target.x_train, labels, batch_size, seed=seed + 1))
    if eval_sets is None:
        eval_sets = {"source test": (source.x_test, source.y_test)}
        if target is not None:
            eval_sets["target test"] = (target.x_test, target.y_test)
    eval_every = eval_every or max(1, steps // 10)
    log_every = log_every or max(1, steps // 100)
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    checkpoint_every = checkpoint_every or eval_every

    history, start, running, count = History(), 0, {}, 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        method.load_state_dict(state["method"])
        for opt, opt_state in zip(optimizers, state["optimizers"]):
            opt.load_state_dict(opt_state)
        for sampler, sampler_state in zip(samplers, state["samplers"]):
            sampler.load_state_dict(sampler_state)
        _set_rng_state(state["rng"])
        history = History(**state["history"])
        start, running, count = state["step"], state["running"], state["count"]

    method.train()
    clock = time.perf_counter() - history.seconds
    bar = tqdm(range(start, steps), initial=start, total=steps, disable=not progress_bar, desc=type(method).__name__, mininterval=1.0)
    for step in bar:
        progress = step / steps
        factor = lr_schedule(progress) if lr_schedule is not None else 1.0
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * factor
        source_batch = next(samplers[0])
        target_batch = next(samplers[1]) if target is not None else (None, None)
        terms = method.training_step(source_batch, target_batch, progress, optimizers)
        for name, value in terms.items():  # summed on the device: no sync per step
            running[name] = running.get(name, 0.0) + value.detach()
        count += 1
        done = step + 1
        if done % log_every == 0 or done == steps:
            history.steps.append(done)
            for name, total in running.items():
                history.terms.setdefault(name, []).append(float(total) / count)
            bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in history.terms.items()}, refresh=False)
            running, count = {}, 0
        if done % eval_every == 0 or done == steps:
            history.eval_steps.append(done)
            for name, (x, y) in eval_sets.items():
                history.evals.setdefault(name, []).append(accuracy(method, x, y))
        history.seconds = time.perf_counter() - clock
        if checkpoint is not None and (done % checkpoint_every == 0 or done == steps):
            atomic_save({
                "step": done, "method": method.state_dict(),
                "optimizers": [opt.state_dict() for opt in optimizers],
                "samplers": [s.state_dict() for s in samplers], "rng": _rng_state(),
                "history": asdict(history), "running": running, "count": count,
            }, checkpoint)  # an interruption while saving never leaves a half-written checkpoint
        if callback is not None:
            callback(done, method, history)
    bar.close()
    return history
