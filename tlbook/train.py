"""One training loop for every method: step-based schedules, logging, evaluation, checkpoints.

``fit`` sets a run up; ``_Run`` holds what changes from step to step (and what a checkpoint saves: the
weights, the optimisers, both samplers' positions, the method's own training state, every random generator
and the history, with the run's ``Settings``). Under ``torchrun`` (``distributed=None`` or ``True``)
``batch_size`` is per process; logged terms and accuracies are averaged over the processes; rank 0 writes
the checkpoint holding every rank's samplers and generators, so a resume with the same number of processes
equals an uninterrupted run; every rank returns the same weights. Mixed precision (``amp=True``) uses
bfloat16, which keeps float32's range, so no gradient scaling is needed; a GPU without bfloat16 raises.
"""
from __future__ import annotations

import math
import numbers
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm  # text bars: they read the same in a terminal, a notebook and the rendered book

from . import _checks
from . import distributed as dist_
from . import files
from .data import BatchSampler, Domain, check_same_shape
from .methods import Method
from .metrics import accuracy

__all__ = ["History", "NonFiniteLoss", "Settings", "fit", "make_optimizer"]


@dataclass
class History:
    """What ``fit`` recorded: loss terms every ``log_every`` steps (averaged over
    the interval) and accuracies on the evaluation sets every ``eval_every`` steps.

    Every list of ``terms`` has one entry per entry of ``steps``: a term that a method logs in part of
    the run only is averaged over the steps that logged it, and is NaN where no step of the interval did."""

    steps: list[int] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)
    eval_steps: list[int] = field(default_factory=list)
    evals: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def final(self, name: str) -> float:
        """The last recorded accuracy on evaluation set ``name``."""
        if not self.evals.get(name):
            raise KeyError(f"no evaluation set {name!r}; recorded: {', '.join(self.evals) or 'none'}")
        return self.evals[name][-1]


class NonFiniteLoss(FloatingPointError):
    """A loss term became NaN or infinite: training stopped instead of reporting numbers from broken weights."""


RANK_SEED_STRIDE = 2**20  #: rank r draws its batches with seeds ``seed + r·stride`` (source) and ``+ 1`` (target)


def make_optimizer(name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> Callable:
    """A factory ``params -> optimizer`` for ``"sgd"`` (with momentum) or ``"adam"``."""
    if not isinstance(name, str):
        raise TypeError(f"make_optimizer: the optimizer name must be 'sgd' or 'adam', got {_checks._got(name)}")
    _checks.number(lr, "lr", "make_optimizer", low=0.0, low_open=True)
    _checks.number(momentum, "momentum", "make_optimizer", low=0.0)
    _checks.number(weight_decay, "weight_decay", "make_optimizer", low=0.0)
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
            raise ValueError(f"fit: {name} must be a positive integer, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"fit: lr must be a positive, finite number, got {lr!r}")


def _check_options(optimizer, momentum, weight_decay, lr_schedule, checkpoint, seed, callback, flags: dict) -> None:
    """fit's other settings, before anything runs: a typo here would otherwise surface steps later, or never."""
    if isinstance(optimizer, str):
        _checks.choice(optimizer, "optimizer", "fit", ("sgd", "adam"))
    elif not callable(optimizer):
        raise TypeError(f"fit: optimizer must be 'sgd', 'adam' or a factory params -> optimizer, got {_checks._got(optimizer)}")
    _checks.number(momentum, "momentum", "fit", low=0.0)
    _checks.number(weight_decay, "weight_decay", "fit", low=0.0)
    if lr_schedule is not None:
        _checks.schedule(lr_schedule, "lr_schedule", "fit")
    _checks.integer(seed, "seed", "fit", minimum=None)
    if callback is not None and not callable(callback):
        raise TypeError(f"fit: callback must be a function (step, method, history), got {_checks._got(callback)}")
    for name, value in flags.items():
        if not isinstance(value, bool) and not (name == "distributed" and value is None):
            raise TypeError(f"fit: {name} must be True or False, got {_checks._got(value)}")
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"fit: checkpoint must be a file path, got {_checks._got(checkpoint)}")
        path = Path(checkpoint)
        if path.is_dir():
            raise ValueError(f"fit: checkpoint must be a file, and {path} is a folder; name a file in it, e.g. {path / 'run.pt'}")
        if not path.parent.is_dir():
            raise ValueError(f"fit: checkpoint {path} cannot be written: its folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise ValueError(f"fit: checkpoint {path} cannot be written: its folder {path.parent} is not writable")


def _check_inputs(method, source, target) -> None:
    """A method, and domains with one input shape on one device."""
    if not isinstance(method, Method):
        raise TypeError(f"fit: method must be a tlbook.methods.Method (a classifier and its loss), got {_checks._got(method)}")
    for name, domain in (("source", source), ("target", target)):
        if not isinstance(domain, Domain) and not (name == "target" and domain is None):
            raise TypeError(f"fit: {name} must be a tlbook.data.Domain, got {_checks._got(domain)}")
    if target is not None and target.device != source.device:
        raise ValueError(f"fit: source and target must be on one device, got source on {source.device} and target on "
                         f"{target.device}; move one with .to(device)")
    if target is not None:
        check_same_shape(source, target)


def _check_eval_sets(eval_sets, method: Method, source: Domain) -> None:
    """``eval_sets`` as ``fit`` will use them (the domains' test splits by default): (x, y) pairs of matching
    lengths, inputs like the source's on its device, labels the model can predict; so nothing knowable now
    fails at the first evaluation."""
    if not isinstance(eval_sets, dict):
        raise TypeError(f"fit: eval_sets must be a dict name -> (x, y), got {_checks._got(eval_sets)}")
    classes = getattr(getattr(method, "classifier", None), "num_classes", None)
    for name, pair in eval_sets.items():
        what = f"eval_sets[{name!r}]"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"fit: {what} must be a pair (x, y) of inputs and labels, got {_checks._got(pair)}")
        x, y = pair
        _checks.tensor(x, f"{what}'s inputs", "fit", floating=None, min_rows=1, what="a batch of inputs (N, ...)")
        if tuple(x.shape[1:]) != source.input_shape:
            raise ValueError(f"fit: {what}'s inputs must have the source's input shape {source.input_shape}, "
                             f"got {tuple(x.shape[1:])}")
        if x.device != source.device or x.dtype != source.x_train.dtype:
            raise ValueError(f"fit: {what}'s inputs must be {source.x_train.dtype} on the source's device, "
                             f"{source.device}, as the source's are, got {x.dtype} on {x.device}")
        _checks.labels(y, f"{what}'s labels", "fit", n=len(x), any_integer=True,
                       num_classes=classes if isinstance(classes, int) and y.device.type != "meta" else None)


def _autocast(device: torch.device, amp: bool) -> tuple[str, torch.dtype] | None:
    if not amp:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise RuntimeError("amp=True uses bfloat16, which this GPU does not support; train with amp=False")
    return (device.type, torch.bfloat16)


@dataclass(frozen=True)
class Settings:
    """What decides a run besides the method's own options: ``fit``'s arguments as plain values. Every
    checkpoint stores them, and a resume with other settings is an error."""

    method: str
    source: str
    target: str | None
    steps: int
    batch_size: int
    optimizer: str | None
    lr: float
    momentum: float
    weight_decay: float
    lr_schedule: str | None
    eval_every: int
    log_every: int
    seed: int
    amp: bool
    world_size: int


class _Run:
    """One training run's moving parts: the method, its optimisers and samplers, the history and the
    loss terms summed since they were last logged. ``fit`` drives it step by step."""

    def __init__(self, method: Method, optimizers: list, samplers: list, parallel, settings: Settings):
        self.method, self.optimizers, self.samplers, self.parallel, self.settings = method, optimizers, samplers, parallel, settings
        self.history, self.start, self.running, self.count = History(), 0, {}, 0
        self.seen: dict[str, int] = {}  # the steps that logged each term since the last log
        for opt in optimizers:
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"])

    def train(self, lr_schedule: Callable[[float], float] | None, eval_sets: dict, checkpoint: Path | None,
              checkpoint_every: int, callback: Callable | None, progress_bar: bool) -> None:
        """The loop: from the first step not yet taken to the last, logging, evaluating and saving on schedule."""
        steps, parallel = self.settings.steps, self.parallel
        self.method.train()
        clock = time.perf_counter() - self.history.seconds
        bar = tqdm(range(self.start, steps), initial=self.start, total=steps, desc=type(self.method).__name__,
                   mininterval=1.0, disable=not progress_bar or (parallel is not None and parallel.rank != 0))
        try:
            for step in bar:
                self.step(step, lr_schedule)
                done = step + 1
                if done % self.settings.log_every == 0 or done == steps:
                    self.log(done)
                    bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in self.history.terms.items()}, refresh=False)
                if done % self.settings.eval_every == 0 or done == steps:
                    self.evaluate(done, eval_sets)
                self.history.seconds = time.perf_counter() - clock
                if checkpoint is not None and (done % checkpoint_every == 0 or done == steps):
                    self.save(checkpoint, done)
                if callback is not None:
                    callback(done, self.method, self.history)
        finally:
            bar.close()
            if parallel:
                parallel.close()  # the optimisers no longer wait for the other ranks
        if parallel:
            parallel.sync_buffers()  # every rank returns rank 0's batch-norm statistics: the same model

    def step(self, step: int, lr_schedule: Callable[[float], float] | None) -> None:
        """One update at ``progress = step / steps``: the learning rate, a batch of each domain, the method's step."""
        progress = step / self.settings.steps
        factor = lr_schedule(progress) if lr_schedule is not None else 1.0
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * factor
        source_batch = next(self.samplers[0])
        target_batch = next(self.samplers[1]) if len(self.samplers) > 1 else (None, None)
        terms = self.method.training_step(source_batch, target_batch, progress, self.optimizers)
        for name, value in terms.items():  # summed on the device: no sync per step
            self.running[name] = self.running.get(name, 0.0) + value.detach()
            self.seen[name] = self.seen.get(name, 0) + 1
        self.count += 1

    def log(self, done: int) -> None:
        """Record the mean of each term since the last log (over the steps that logged it; NaN for a term
        none of them logged, so every term's list stays aligned with ``steps``); stop on a non-finite term."""
        self.history.steps.append(done)
        running = self.parallel.mean(self.running) if self.parallel else self.running
        for name in self.history.terms.keys() - running.keys():
            self.history.terms[name].append(math.nan)
        for name, total in running.items():
            mean = float(total) / self.seen.get(name, self.count)
            if not math.isfinite(mean):
                raise NonFiniteLoss(f"{type(self.method).__name__}: the loss term {name!r} became {mean} at a step between "
                                    f"{done - self.count + 1} and {done} (terms are read every {self.settings.log_every} "
                                    "steps; log_every=1 names the step). Lower the learning rate or check the inputs")
            self.history.terms.setdefault(name, [math.nan] * (len(self.history.steps) - 1)).append(mean)
        self.running, self.count, self.seen = {}, 0, {}

    def evaluate(self, done: int, eval_sets: dict) -> None:
        self.history.eval_steps.append(done)
        for name, (x, y) in eval_sets.items():
            score = self.parallel.accuracy(x, y) if self.parallel else accuracy(self.method, x, y)
            self.history.evals.setdefault(name, []).append(score)

    def save(self, path: Path, done: int) -> None:
        shared = {"settings": asdict(self.settings), "step": done, "method": self.method.state_dict(),
                  "optimizers": [opt.state_dict() for opt in self.optimizers], "history": asdict(self.history)}
        own = {"method_training_state": self.method.training_state(), "samplers": [s.state_dict() for s in self.samplers],
               "rng": _rng_state(), "running": self.running, "count": self.count, "seen": self.seen}
        _save_checkpoint(path, self.parallel, shared, own)

    def resume(self, path: Path) -> None:
        """Continue the run that wrote ``path``: weights, optimisers, samplers, generators and history."""
        try:
            state = files.load(path, "checkpoint", map_location=next(self.method.parameters()).device)
        except files.CorruptFile as error:
            raise files.CorruptFile(f"{error}. It cannot be resumed: delete it to train from the start") from None
        _check_settings(path, state["settings"], asdict(self.settings))
        rank = self.parallel.rank if self.parallel else 0
        own = state["ranks"][rank] if "ranks" in state else state  # this rank's batches and generators
        self.method.load_state_dict(state["method"])
        self.method.load_training_state(own["method_training_state"])
        for opt, opt_state in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(opt_state)
        for sampler, sampler_state in zip(self.samplers, own["samplers"]):
            sampler.load_state_dict(sampler_state)
        _set_rng_state(own["rng"])
        self.history = History(**state["history"])
        self.start, self.running, self.count = state["step"], own["running"], own["count"]
        self.seen = own.get("seen", {name: self.count for name in self.running})  # older checkpoints: every step


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
    """Train ``method`` for ``steps`` steps of one source and one target batch each; return its ``History``.

    - Batches are sliced on the source domain's device, where the method moves. Target labels reach the
      method only if ``method.uses_target_labels``.
    - ``lr_schedule(p)`` multiplies the learning rate at progress ``p = step / steps``; the method sees ``p``
      too (for λ ramps). ``optimizer``: ``"sgd"``, ``"adam"`` or a factory ``params -> optimizer``.
    - ``eval_sets`` (name -> ``(x, y)``; default the source and target test splits) are scored every
      ``eval_every`` steps for the curves; nothing is selected by them: the weights of the last step are returned.
    - ``checkpoint``: a file; if it exists, training resumes from it and ends with the weights an
      uninterrupted run would have. A resume with other ``Settings`` is an error; a damaged file stops.
    - A loss term that becomes NaN or infinite raises ``NonFiniteLoss`` (checked every ``log_every`` steps,
      where the terms are read back anyway: inside a step nothing waits for the device).
    - ``callback(step, method, history)`` runs after every step (``step`` counts from 1).
    - ``amp``: bfloat16 autocast for the forward passes (the discrepancy losses stay in float32).
    - ``distributed``: under ``torchrun`` every process trains the same model on its own batches, gradients
      averaged (module docstring); ``False`` trains this process alone.
    """
    _check_arguments(steps, batch_size, lr, {"eval_every": eval_every, "log_every": log_every,
                                             "checkpoint_every": checkpoint_every})
    _check_options(optimizer, momentum, weight_decay, lr_schedule, checkpoint, seed, callback,
                   {"progress_bar": progress_bar, "amp": amp, "distributed": distributed})
    _check_inputs(method, source, target)
    eval_sets = _default_eval_sets(method, source, target) if eval_sets is None else eval_sets
    _check_eval_sets(eval_sets, method, source)
    method.to(source.device)
    method.autocast = _autocast(source.device, amp)  # read by the method's mixed_precision()
    make = make_optimizer(optimizer, lr, momentum, weight_decay) if isinstance(optimizer, str) else optimizer
    optimizers = method.configure_optimizers(make)
    parallel = _data_parallel(method, optimizers, distributed, source.device)
    settings = Settings(type(method).__qualname__, source.name, target.name if target else None, int(steps),
                        int(batch_size), _name(optimizer), float(lr), float(momentum), float(weight_decay),
                        _name(lr_schedule), int(eval_every or max(1, steps // 10)), int(log_every or max(1, steps // 100)),
                        int(seed), bool(amp), parallel.size if parallel else 1)
    run = _Run(method, optimizers, _samplers(method, source, target, batch_size, seed, parallel), parallel, settings)
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.exists():
        run.resume(checkpoint)
    run.train(lr_schedule, eval_sets, checkpoint, checkpoint_every or settings.eval_every, callback, progress_bar)
    return run.history


def _samplers(method: Method, source: Domain, target: Domain | None, batch_size: int, seed: int, parallel) -> list:
    """Endless batches of each domain; labels only where the method may use them. Each rank draws its own
    batches (seeds ``seed + rank·stride``, target ``+ 1``); rank 0 those of a single process."""
    stream = seed + RANK_SEED_STRIDE * (parallel.rank if parallel else 0)
    samplers = [BatchSampler(source.x_train, source.y_train if method.uses_source_labels else None, batch_size, seed=stream)]
    if target is not None:
        labels = target.y_train if method.uses_target_labels else None
        samplers.append(BatchSampler(target.x_train, labels, batch_size, seed=stream + 1))
    return samplers


def _default_eval_sets(method: Method, source: Domain, target: Domain | None) -> dict:
    """The source and target test splits; none for a method that learns without labels (an autoencoder)."""
    if not method.uses_source_labels:
        return {}
    sets = {"source test": (source.x_test, source.y_test)}
    if target is not None:
        sets["target test"] = (target.x_test, target.y_test)
    return sets


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
