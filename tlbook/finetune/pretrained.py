"""Source models for the fine-tuning chapter: trained here on the book's data, cached on disk.

Nothing is downloaded: the "large labelled source" is one of the book's domains, and
the trained weights are stored under ``tlbook.data.cache_dir() / "models"`` so every
notebook after the first reuses them. On a machine with a network,
``torchvision_classifier`` swaps in an ImageNet model instead.
"""
from __future__ import annotations

import hashlib
import socket
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .. import _checks, files
from .._code import source_digest
from ..data import Domain, cache_dir
from ..methods import SourceOnly
from ..nn import Classifier
from ..train import fit
from . import _args

__all__ = ["pretrained", "torchvision_backbone", "torchvision_classifier", "cached_model", "model_path"]

#: The code a cached model comes from: its networks, the method and loop that train it, the batches.
MODEL_CODE = ("nn", "methods/base.py", "methods/baselines.py", "train.py", "data/sampler.py", "_utils.py",
              "distributed.py", "finetune/pretrained.py", "finetune/self_taught.py")


@lru_cache(maxsize=1)
def model_code_digest() -> str:
    """SHA-256 of the source that builds and trains the cached models (``MODEL_CODE``)."""
    return source_digest(MODEL_CODE)


def model_path(kind: str, tag: str, data: torch.Tensor, **settings) -> Path:
    """The cache file of a model: ``kind``, ``tag``, the settings, a fingerprint of ``data`` and of the code."""
    _check_path_parts("model_path", kind, tag, data, settings)
    sample = data[:: max(1, len(data) // 256)].detach().float().cpu().contiguous()
    fingerprint = hashlib.sha1(sample.numpy().tobytes()).hexdigest()[:12]
    options = "-".join(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}" for k, v in settings.items())
    return cache_dir() / "models" / f"{kind}-{tag}-n{len(data)}-{fingerprint}-{options}-code{model_code_digest()[:12]}.pt"


def _check_path_parts(where: str, kind: object, tag: object, data: object, settings: dict) -> None:
    """What names a cache file: ``kind`` and ``tag`` (parts of a file name), the training ``data`` (a tensor
    with at least one row), the settings (numbers, switches or names)."""
    _args.file_part(kind, "kind", where)
    _args.file_part(tag, "tag", where)
    _checks.tensor(data, "data", where, floating=None, min_rows=1, what="the training data")
    if data.ndim == 0:
        raise ValueError(f"{where}: data must be the training data, one row per example, got a 0-d tensor")
    for key, value in settings.items():
        if isinstance(value, str):
            _args.file_part(value, key, where)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where}: the setting {key} must be a number, a switch or a name, got {_checks._got(value)}")


def cached_model(model: nn.Module, kind: str, tag: str, data: torch.Tensor, train: Callable[[], object],
                 cache: bool = True, **settings) -> nn.Module:
    """``model`` loaded from the cache if it was trained before, else ``train()``-ed and saved; in eval mode.

    The file name (``model_path``) carries ``kind``, ``tag`` (the architecture), every training setting,
    a fingerprint of the training ``data`` and a digest of the code that builds and trains it
    (``MODEL_CODE``), so changing any of them trains anew instead of silently reusing a stale model.
    """
    where = "cached_model"
    _checks.module(model, "model", where)
    if next(model.parameters(), None) is None:
        raise ValueError(f"{where}: model must have parameters to train and cache, got a {type(model).__name__} with none")
    if not callable(train):
        raise TypeError(f"{where}: train must be a function that trains the model, got {_checks._got(train)}")
    _args.flag(cache, "cache", where)
    _check_path_parts(where, kind, tag, data, settings)
    path = model_path(kind, tag, data, **settings)
    device = next(model.parameters()).device
    if cache and path.exists():
        try:
            state = files.load(path, "model", map_location=device)
        except files.CorruptFile as error:  # derived: train it again
            warnings.warn(f"{error}; training the model again", stacklevel=3)
        else:
            try:
                model.load_state_dict(state)
            except RuntimeError as error:  # another network under the same tag
                first = (str(error).splitlines()[1:] or [str(error)])[0].strip()
                raise ValueError(f"{where}: the cached {path.name} holds another network than this model ({first}): "
                                 f"the tag {tag!r} must name the architecture; give this one its own tag") from None
            return model.eval()
    train()
    if cache:
        files.save(model.state_dict(), path, "model")
    return model.eval()


def pretrained(source: Domain, make_model: Callable[[], nn.Module], tag: str, *, steps: int = 1500,
               batch_size: int = 64, lr: float = 1e-3, seed: int = 0, cache: bool = True,
               progress_bar: bool = True, torchvision: str | None = None) -> nn.Module:
    """A ``make_model()`` trained with cross-entropy on ``source`` (Adam, ``steps`` steps), cached.

    ``tag`` names the architecture in the cache file name: change it whenever
    ``make_model`` changes. The returned model is in eval mode on the source's device.
    ``torchvision="resnet18"`` (any torchvision ResNet) skips all that and returns the
    ImageNet-pre-trained model with a new ``source.num_classes`` head instead (needs a network).
    """
    where = "pretrained"
    _args.domain(source, "source", where)
    if not callable(make_model):
        raise TypeError(f"{where}: make_model must be a function that builds the network, got {_checks._got(make_model)}")
    _args.file_part(tag, "tag", where)
    _args.training(where, steps, batch_size, lr, seed)
    _args.flag(cache, "cache", where)
    _args.flag(progress_bar, "progress_bar", where)
    if torchvision is not None:
        _resnet(torchvision, "torchvision", where)
        return torchvision_classifier(source.num_classes, arch=torchvision).to(source.device).eval()

    torch.manual_seed(seed)
    model = _checks.module(make_model(), "make_model()", where, what="a torch.nn.Module (make_model must build the network)")
    model = model.to(source.device)
    train = lambda: fit(SourceOnly(model), source, steps=steps, batch_size=batch_size, optimizer="adam",  # noqa: E731
                        lr=lr, seed=seed, eval_sets={}, progress_bar=progress_bar)
    # The labels take part in the fingerprint too: digits 0–4 and 5–9 of one domain are different tasks.
    data = torch.cat([source.x_train.flatten(1), source.y_train[:, None].float()], 1)
    return cached_model(model, "classifier", tag, data, train, cache, steps=steps, bs=batch_size, lr=lr, seed=seed)

def _resnet(arch: object, name: str, where: str) -> str:
    """The name of one of torchvision's ResNets (the models with an ``fc`` head), e.g. ``"resnet18"``."""
    from torchvision.models import resnet

    known = [n for n in resnet.__all__ if n[0].islower()]
    if not isinstance(arch, str):
        raise TypeError(f"{where}: {name} must be the name of a torchvision ResNet, got {_checks._got(arch)}")
    if arch not in known:
        raise ValueError(f"{where}: {name} must be a torchvision ResNet (a model with an `fc` head), one of {known}; "
                         f"got {arch!r}")
    return arch


def _imagenet_model(arch: str, weights: str | None, timeout_s: float, where: str) -> nn.Module:
    """torchvision's ``arch`` with its ImageNet ``weights``; offline it fails within ``timeout_s``, saying so."""
    import torchvision

    _resnet(arch, "arch", where)
    enum = torchvision.models.get_model_weights(arch)
    if weights is not None and not isinstance(weights, enum) and not (isinstance(weights, str) and weights in enum.__members__):
        raise (ValueError if isinstance(weights, str) else TypeError)(
            f"{where}: weights must be None (random weights) or one of {list(enum.__members__)} for {arch}, "
            f"got {_checks._got(weights)}")
    _checks.number(timeout_s, "timeout_s", where, low=0.0, low_open=True)
    builder = getattr(torchvision.models, arch)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        model = builder(weights=weights)
    except OSError as error:  # URLError, timeouts, DNS failures
        url = (weights if isinstance(weights, enum) else enum[weights]).url
        file = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
        raise RuntimeError(f"{where}: could not download the {arch} weights ({error}): they are not in torch's cache "
                           f"({file}), and this needs a network once. Offline, copy that file there, or use "
                           "tlbook.finetune.pretrained with one of the book's domains.") from None
    finally:
        socket.setdefaulttimeout(previous)
    return model


def torchvision_classifier(num_classes: int, arch: str = "resnet18", weights: str = "DEFAULT",
                           timeout_s: float = 20.0) -> nn.Module:
    """An ImageNet-pre-trained torchvision model with a new ``num_classes`` head.

    Needs a network the first time (torchvision caches the weights). Offline it fails
    within ``timeout_s`` with a clear message instead of hanging.
    """
    _checks.integer(num_classes, "num_classes", "torchvision_classifier", minimum=2)
    model = _imagenet_model(arch, weights, timeout_s, "torchvision_classifier")
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


class _ImageNetTrunk(nn.Module):
    """A torchvision ResNet without its head, on images in [0, 1]: ImageNet's normalisation comes first."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.out_features = model.fc.in_features
        model.fc = nn.Identity()
        self.model = model
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


def torchvision_backbone(arch: str = "resnet50", weights: str | None = "DEFAULT", timeout_s: float = 20.0) -> nn.Module:
    """An ImageNet-pre-trained torchvision ResNet as a ``Classifier`` backbone (its pooled features,
    ``out_features`` wide: 2,048 for ResNet-50), for images in [0, 1]. ``weights=None``: random weights,
    no download (for tests). The standard Office recipe: ``Classifier(torchvision_backbone(), 31,
    bottleneck=256, hidden=())``."""
    return _ImageNetTrunk(_imagenet_model(arch, weights, timeout_s, "torchvision_backbone"))
