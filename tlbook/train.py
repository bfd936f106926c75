"""One training loop for every method: step-based schedules, logging, evaluation, checkpoints."""
from __future__ import annotations

import math
import numbers
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm  # text bars: they read the same in a terminal, a notebook and the rendered book

from . import distributed as dist_
from . import files
from .data import BatchSampler, Domain, check_same_shape
from .methods import Method
from .metrics import accuracy

__all__ = ["History", "NonFiniteLoss", "fit", "make_optimizer"]


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


class NonFiniteLoss(FloatingPointError):
    """A loss term became NaN or infinite: training stopped instead of reporting numbers from broken weights."""


RANK_SEED_STRIDE = 2**20  #: rank r draws its batches with seeds ``seed + r·stride`` (source) and ``+ 1`` (target)


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
    """Every global generator's state as tensors and plain values (loads with ``weights_only=True``)."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _name(thing: object) -> str | None:
    """A stable name for a function-valued setting (an optimizer factory, a schedule)."""
    if thing is None or isinstance(thing, str):
        return thing
    return f"{getattr(thing, '__module__', '?')}.{getattr(thing, '__qualname__', type(thing).__qualname__)}"


def _check_settings(checkpoint: Path, stored: dict, wanted: dict) -> None:
    """A resume continues the run that wrote the checkpoint, or refuses: never a silent mix of two runs."""
    stored = {"world_size": 1, **stored}  # checkpoints from before distributed training: one process
    differ = [k for k in wanted if stored.get(k) != wanted[k]]
    if differ:
        was = ", ".join(f"{k}={stored.get(k)!r}" for k in differ)
        now = ", ".join(f"{k}={wanted[k]!r}" for k in differ)
        raise ValueError(f"the checkpoint {checkpoint} was written by a run with {was}; this call asks for {now}. "
                         "Call fit with the run's settings to resume it, or delete the file (or name another "
                         "checkpoint) to start afresh")


def _check_arguments(steps, batch_size, lr, every: dict) -> None:
    counts = {"steps": steps, "batch_size": batch_size, **{k: v for k, v in every.items() if v is not None}}
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive, finite number, got {lr!r}")


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
    distributed: bool | None = None,
) -> History:
    """Train ``method`` for ``steps`` steps of one source and one target batch each.

    - The method moves to the source domain's device; batches are sliced there.
    - ``lr_schedule(p)`` multiplies the learning rate at progress ``p = step / steps``
      (e.g. ``tlbook.schedules.dann_lr``); the method receives ``p`` too (for λ ramps).
    - Target labels reach the method only if ``method.uses_target_labels``.
    - ``eval_sets`` maps names to ``(x, y)``; by default the source and target
      **test** splits (none for a method that learns without labels). Their accuracies are recorded for plots and reports; nothing
      here selects a model by them: the returned weights are those of the last step.
    - ``checkpoint``: a file. If it exists, training resumes from it (model, optimisers,
      step, samplers, the method's own state, random generators and history), so an
      interrupted run ends with the same weights as an uninterrupted one. The checkpoint
      stores the run's settings; resuming it with other settings (steps, learning rate,
      method, domains, ...) is an error, never a silent mix of two runs. Files are checked
      on reading (``tlbook.files``): a damaged one stops with an error naming it.
    - A loss term that becomes NaN or infinite stops training with ``NonFiniteLoss``,
      naming the term and the steps; it is noticed where the terms are read back anyway
      (every ``log_every`` steps), so a GPU run waits for nothing extra.
    - ``callback(step, method, history)`` runs after every step (``step`` counts from 1).
    - ``amp``: mixed precision, bfloat16 autocast for the forward passes (on a GPU without
      bfloat16 support it raises). The discrepancy losses compute in float32 regardless.
      bfloat16 keeps float32's range, so no gradient scaling is needed.
    - Inside a step nothing waits for the device: loss terms are summed on the device and
      read back only every ``log_every`` steps; evaluation reads accuracies back.
    - ``distributed``: under ``torchrun`` (``None``, the default, or ``True``) every process trains
      the same model on its own batches, gradients averaged before each step (``tlbook.distributed``);
      ``batch_size`` is per process. Logged terms and accuracies are averaged over the processes, only
      rank 0 writes the checkpoint (holding every rank's samplers and generators, so a resume with the
      same number of processes equals an uninterrupted run), and every rank returns the same weights.
      ``False`` (or ``tlbook.distributed.alone()``) trains this process alone even under ``torchrun``
      (the benchmark's cells do).
    """
    _check_arguments(steps, batch_size, lr, {"eval_every": eval_every, "log_every": log_every,
                                             "checkpoint_every": checkpoint_every})
    if target is not None:
        check_same_shape(source, target)
    device = source.device
    method.to(device)
    method.autocast = _autocast(device, amp)
    make = make_optimizer(optimizer, lr, momentum, weight_decay) if isinstance(optimizer, str) else optimizer
    optimizers = method.configure_optimizers(make)
    parallel = _data_parallel(method, optimizers, distributed, device)
    rank, world = (parallel.rank, parallel.size) if parallel else (0, 1)
    for opt in optimizers:
        for group in opt.param_groups:
            group.setdefault("base_lr", group["lr"])
    stream = seed + RANK_SEED_STRIDE * rank  # each rank its own batches; rank 0 those of a single process
    samplers = [BatchSampler(source.x_train, source.y_train if method.uses_source_labels else None, batch_size, seed=stream)]
    if target is not None:
        labels = target.y_train if method.uses_target_labels else None
        samplers.append(BatchSampler(target.x_train, labels, batch_size, seed=stream + 1))
    if eval_sets is None and not method.uses_source_labels:
        eval_sets = {}  # a method that learns without labels (an autoencoder) has no accuracy to report
    if eval_sets is None:
        eval_sets = {"source test": (source.x_test, source.y_test)}
        if target is not None:
            eval_sets["target test"] = (target.x_test, target.y_test)
    eval_every = eval_every or max(1, steps // 10)
    log_every = log_every or max(1, steps // 100)
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    checkpoint_every = checkpoint_every or eval_every

    settings = {"method": type(method).__qualname__, "source": source.name, "target": target.name if target else None,
                "steps": int(steps), "batch_size": int(batch_size), "optimizer": _name(optimizer), "lr": float(lr),
                "momentum": float(momentum), "weight_decay": float(weight_decay), "lr_schedule": _name(lr_schedule),
                "eval_every": int(eval_every), "log_every": int(log_every), "seed": int(seed), "amp": bool(amp),
                "world_size": world}
    history, start, running, count = History(), 0, {}, 0
    if checkpoint is not None and checkpoint.exists():
        try:
            state = files.load(checkpoint, "checkpoint", map_location=device)
        except files.CorruptFile as error:
            raise files.CorruptFile(f"{error}. It cannot be resumed: delete it to train from the start") from None
        _check_settings(checkpoint, state["settings"], settings)
        own = state["ranks"][rank] if "ranks" in state else state  # this rank's batches and generators
        method.load_state_dict(state["method"])
        method.load_training_state(own["method_training_state"])
        for opt, opt_state in zip(optimizers, state["optimizers"]):
            opt.load_state_dict(opt_state)
        for sampler, sampler_state in zip(samplers, own["samplers"]):
            sampler.load_state_dict(sampler_state)
        _set_rng_state(own["rng"])
        history = History(**state["history"])
        start, running, count = state["step"], own["running"], own["count"]

    method.train()
    clock = time.perf_counter() - history.seconds
    bar = tqdm(range(start, steps), initial=start, total=steps, disable=not progress_bar or rank != 0, desc=type(method).__name__, mininterval=1.0)
    try:
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
                if parallel:
                    running = parallel.mean(running)
                for name, total in running.items():
                    mean = float(total) / count
                    if not math.isfinite(mean):
                        raise NonFiniteLoss(f"{type(method).__name__}: the loss term {name!r} became {mean} at a step between "
                                            f"{done - count + 1} and {done} (terms are read every {log_every} steps; "
                                            "log_every=1 names the step). Lower the learning rate or check the inputs")
                    history.terms.setdefault(name, []).append(mean)
                bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in history.terms.items()}, refresh=False)
                running, count = {}, 0
            if done % eval_every == 0 or done == steps:
                history.eval_steps.append(done)
                for name, (x, y) in eval_sets.items():
                    score = parallel.accuracy(x, y) if parallel else accuracy(method, x, y)
                    history.evals.setdefault(name, []).append(score)
            history.seconds = time.perf_counter() - clock
            if checkpoint is not None and (done % checkpoint_every == 0 or done == steps):
                _save_checkpoint(checkpoint, parallel, {
                    "settings": settings, "step": done, "method": method.state_dict(),
                    "optimizers": [opt.state_dict() for opt in optimizers], "history": asdict(history),
                }, {"method_training_state": method.training_state(), "samplers": [s.state_dict() for s in samplers],
                    "rng": _rng_state(), "running": running, "count": count})
            if callback is not None:
                callback(done, method, history)
    finally:
        bar.close()
        if parallel:
            parallel.close()  # the optimisers no longer wait for the other ranks
    if parallel:
        parallel.sync_buffers()  # every rank returns rank 0's batch-norm statistics: the same model
    return history


def _data_parallel(method: Method, optimizers: list, distributed: bool | None,
                   device: torch.device) -> dist_.DataParallel | None:
    if distributed is False or (distributed is None and not dist_.launched()):
        return None
    if not dist_.launched():
        raise ValueError("distributed=True trains over the processes of a torchrun launch, and this process was "
                         "not started by torchrun (WORLD_SIZE is unset or 1); run the script with "
                         "`torchrun --nproc-per-node N script.py`, or leave distributed at its default")
    dist_.setup(device)
    return dist_.DataParallel(method, optimizers)


def _save_checkpoint(path: Path, parallel: dist_.DataParallel | None, shared: dict, own: dict) -> None:
    """The shared state (weights, optimisers, history) with this process's own (batches, generators); under
    torchrun rank 0 writes it with every rank's own under ``"ranks"``."""
    if parallel is None:
        files.save({**shared, **own}, path, "checkpoint")  # atomic: an interruption never leaves half a file
        return
    ranks = parallel.gather(own)
    if parallel.rank == 0:
        files.save({**shared, "ranks": ranks}, path, "checkpoint")
