"""A run declared once is computed once: finished runs of the benchmark's recipes, stored and shared.

``recipe_runs("dan", "synth->handwritten", seeds)`` trains the registry's DAN on the pair with the
benchmark's recipe (``cell_settings(pair)``: its steps, batch size and optimiser, ten evaluations) once per
seed, or reads the run a page, a test or an earlier session already finished.
Every chapter that shows the same configuration therefore shows the same number, and the book pays
for it once. A run is one ``tlbook`` file under ``$TLBOOK_DATA/runs`` (``tlbook.files``: checksummed,
written atomically, loaded with ``weights_only=True``) holding the trained weights and the
``History``, named by a digest of everything that decides it:

- the method's name in the registry and the options an ablation changes;
- the pair, the seed and the training settings;
- the digests of ``tlbook``'s training code and of the code that generates the domains
  (``provenance.code_digest``, ``data.registry.data_code_digest``: change either and every run is trained
  anew), the torch version, the device type and the number of math threads (runs at one thread and at two
  differ in their last bits, another order of additions: a stored run is what this setting computes, so on
  the same CPU a page may compare it with its own training to the last bit).

Two notebooks asking for one run at the same time take turns on a file lock: the second reads what the
first trained. A damaged file is trained again. ``store=False`` trains without reading or writing.
"""
from __future__ import annotations

import hashlib
import json
import re
import types
import warnings
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from filelock import FileLock
from tqdm import tqdm

from .. import _checks, files
from .._utils import seed_everything
from ..data import PAIRS, Domain, load_pair
from ..data.cache import cache_dir
from ..data.registry import data_code_digest
from ..experiment import Runs
from ..methods import Method
from ..train import History, fit
from .provenance import code_digest
from ._args import flag, seed as _seed
from .registry import ACTIVATIONS, METHODS, check_names, check_seeds
from .run import _fit_options, cell_settings

__all__ = ["recipe_runs", "run_key", "run_path", "stored_run"]


@lru_cache(maxsize=1)
def _code() -> str:
    return code_digest()


def _plain(value: object) -> object:
    """A JSON-able stand-in for an option's value: a named module-level function by its qualified name. A
    lambda, a partial or a module has no name that says what it computes, so it cannot key a stored run."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    qualname = getattr(value, "__qualname__", "")
    if isinstance(value, types.FunctionType) and "<" not in qualname:
        return f"{value.__module__}.{qualname}"
    raise TypeError(f"a stored run's option must be a number, a string, a sequence or a named module-level function "
                    f"(its name keys the run); got {value!r}: pass store=False to train it without storing")


def run_key(name: str, pair: str, seed: int, changes: dict | None = None, device: torch.device | str = "cpu",
            activation: str | None = None, settings: dict | None = None) -> dict:
    """Everything that decides a recipe's run: what its stored file is named by and checked against.
    ``settings``: ``fit``'s keyword arguments (default: the benchmark cell's, ``cell_settings(pair)``)."""
    where = "run_key"
    _request(name, pair, seed, changes, activation, where)
    _checks.device(device, "device", where)
    settings = cell_settings(pair) if settings is None else _settings(settings, where)
    recipe_options = METHODS[name].options
    changes = {k: _plain(v) for k, v in sorted((changes or {}).items())
               if not (k in recipe_options and _plain(recipe_options[k]) == _plain(v))}  # the recipe's own value: no change
    return {"method": name, "activation": activation or METHODS[name].activation, "changes": changes, "pair": pair,
            "seed": int(seed), "fit": dict(settings), "code": _code(), "data": data_code_digest(),
            "torch": str(torch.__version__), "device": torch.device(device).type, "threads": torch.get_num_threads()}


def _request(name: str, pair: str, seed: int | None, changes: dict | None, activation: str | None, where: str) -> None:
    """What names a recipe's run (``seed``: None where the caller checks its seeds), checked before anything
    loads or trains."""
    check_names([name], METHODS, "method", where)
    check_names([pair], PAIRS, "pair", where)
    if seed is not None:
        _seed(seed, "seed", where)
    if changes is not None and (not isinstance(changes, dict) or not all(isinstance(k, str) for k in changes)):
        raise TypeError(f"{where}: changes must be a dict of options by name (or None), got {_checks._got(changes)}")
    if activation is not None:
        _checks.choice(activation, "activation", where, ACTIVATIONS)


def _settings(settings: dict, where: str) -> dict:
    """``fit``'s keyword arguments for a stored run: its steps included; its seed, progress bar and distribution
    are the run's own."""
    _fit_options(settings, "settings", where)
    if "steps" not in settings:
        raise ValueError(f"{where}: settings must give fit's steps (e.g. cell_settings(pair)), got {sorted(settings)}")
    taken = sorted({"seed", "progress_bar", "distributed"} & set(settings))
    if taken:
        raise ValueError(f"{where}: settings must not set {taken}: a stored run takes its seed and trains alone, silently")
    return settings


def run_path(key: dict) -> Path:
    """The file of a run: ``$TLBOOK_DATA/runs/<method>-<pair>-seed<seed>-<digest of the key>.pt``."""
    if not isinstance(key, dict):
        raise TypeError(f"run_path: key must be a run's key (the dict run_key returns), got {_checks._got(key)}")
    missing = sorted({"method", "pair", "seed"} - set(key))
    if missing:
        raise ValueError(f"run_path: key must be a run's key (the dict run_key returns), got one without {missing}")
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{key['method']}-{key['pair']}-seed{key['seed']}")
    return cache_dir() / "runs" / f"{readable}-{digest}.pt"


def recipe_runs(name: str, pair: str, seeds: Sequence[int] = (0, 1, 2), *, changes: dict | None = None,
                activation: str | None = None, label: str = "", device: torch.device | str = "cpu", store: bool = True,
                progress_bar: bool = True) -> Runs:
    """The registry's method ``name`` on ``pair``, one run per seed, with the benchmark's recipe; each run
    read from the store if it is there, else trained (seed, build, ``fit``) and stored.

    ``changes``: options that differ from the recipe (an ablation), e.g. ``{"layer": "bottleneck"}``;
    ``activation``: the bottleneck's, if not the entry's (CMD's ablation on a ReLU bottleneck).
    ``store=False`` trains every run here and stores nothing (a page that checks a training itself)."""
    where = "recipe_runs"
    seeds = check_seeds(seeds, where)
    _request(name, pair, None, changes, activation, where)
    if not isinstance(label, str):
        raise TypeError(f"{where}: label must be a string (the runs' name in tables), got {_checks._got(label)}")
    _checks.device(device, "device", where)
    flag(store, "store", where)
    flag(progress_bar, "progress_bar", where)
    if METHODS[name].prepare is not None:
        raise ValueError(f"{name} trains a network before it adapts; stored runs hold methods built from the recipe "
                         "alone: use run_cell")
    source, _ = load_pair(pair, device=device)
    METHODS[name].build(source, activation=activation, **(changes or {}))  # a bad option fails here, before training
    methods, histories = [], []
    for seed in tqdm(list(seeds), desc=label or name, disable=not progress_bar, leave=False):
        method, history = stored_run(name, pair, seed, changes=changes, activation=activation, device=device, store=store)
        methods.append(method)
        histories.append(history)
    return Runs(label or name, list(seeds), methods, histories)


def stored_run(name: str, pair: str, seed: int, *, settings: dict | None = None, changes: dict | None = None,
               activation: str | None = None, device: torch.device | str = "cpu",
               store: bool = True) -> tuple[Method, History]:
    """One run of recipe ``name``: read from the store, or trained (seed, build, ``fit``) and stored. The
    benchmark's cells (``run_cell``) and the chapters' pages (``recipe_runs``) both come through here."""
    where = "stored_run"
    _request(name, pair, seed, changes, activation, where)
    if settings is not None:
        _settings(settings, where)
    _checks.device(device, "device", where)
    flag(store, "store", where)
    if METHODS[name].prepare is not None:
        raise ValueError(f"{where}: {name} trains a network before it adapts; stored runs hold methods built from the "
                         "recipe alone: use run_cell")
    source, target = load_pair(pair, device=device)
    changes = dict(changes or {})
    key = run_key(name, pair, seed, changes, source.device, activation, settings)
    if not store:
        return _train(name, source, target, seed, changes, key)
    path = run_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):  # a second notebook asking for this run waits, then reads it
        if path.exists():
            try:
                return _read(path, key, name, source, changes)
            except files.CorruptFile as error:  # derived data: train it again
                warnings.warn(f"{error}; training the run again", stacklevel=2)
        method, history = _train(name, source, target, seed, changes, key)
        files.save({"key": key, "method": method.state_dict(), "history": asdict(history)}, path, "run")
        return method, history


def _read(path: Path, key: dict, name: str, source: Domain, changes: dict) -> tuple[Method, History]:
    stored = files.load(path, "run", map_location=source.device)
    if stored["key"] != key:
        raise files.CorruptFile(f"{path} holds the run {stored['key']}, not {key}")
    method = METHODS[name].build(source, activation=key["activation"], **changes).to(source.device)
    method.load_state_dict(stored["method"])
    return method, History(**stored["history"])


def _train(name: str, source: Domain, target: Domain, seed: int, changes: dict, key: dict) -> tuple[Method, History]:
    seed_everything(seed)
    method = METHODS[name].build(source, activation=key["activation"], **changes)
    history = fit(method, source, target, seed=seed, progress_bar=False, distributed=False, **key["fit"])
    return method, history
