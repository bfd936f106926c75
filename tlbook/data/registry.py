"""Load any of the book's domains by name, cached on disk, on any device."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch

from .. import _checks
from .. import files
from .._code import source_digest
from .benchmarks import fetch
from .cache import cache_dir
from .domain import Domain, check_same_shape
from .handwritten import handwritten_digits
from .office import OFFICE_DOMAINS, office_domain
from .photo_blend import blend_with_photos
from .sequences import spoken_words
from .synthetic_digits import synthetic_digits
from .toy import moons

__all__ = ["DOMAINS", "PAIRS", "cache_dir", "load_domain", "load_pair", "labelled_subset"]

#: The code a cached domain comes from: the generators, the splits and the file format. The cache file's name
#: carries its digest (``data_code_digest``), so changing any of them generates the domains anew.
DATA_CODE = ("data", "files.py")
NOT_DATA_CODE = ("data/__init__.py", "data/cache.py", "data/domain.py", "data/sampler.py")  # loading and batching only
SPLIT_SEED = 1234  # the handwritten train/test split never changes with the domain seed
SYNTH_TRAIN, SYNTH_TEST = 10_000, 2_000
HANDWRITTEN_TEST_PER_CLASS = 60  # 600 test images, 1,197 train
MOONS_TRAIN, MOONS_TEST = 600, 600
WORDS_TRAIN, WORDS_TEST = 3_000, 600


@dataclass(frozen=True)
class _Spec:
    family: str
    channels: int
    default_size: int | None  # None: not an image domain
    make: Callable[[int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]
    about: str
    max_size: int = 64  # the largest image_size it is made at (Office's photographs: 256)


def _split_synth(size: int, seed: int, blend: bool):
    x, y = synthetic_digits(SYNTH_TRAIN + SYNTH_TEST, size, seed)
    x = blend_with_photos(x, seed + 1) if blend else x
    return x[:SYNTH_TRAIN], y[:SYNTH_TRAIN], x[SYNTH_TRAIN:], y[SYNTH_TRAIN:]


def _handwritten_test_mask(y: torch.Tensor) -> torch.Tensor:
    """A fixed, class-balanced test mask over the 1,797 handwritten digits."""
    g = torch.Generator().manual_seed(SPLIT_SEED)
    test = torch.zeros(len(y), dtype=torch.bool)
    for c in range(10):
        members = torch.nonzero(y == c).flatten()
        test[members[torch.randperm(len(members), generator=g)[:HANDWRITTEN_TEST_PER_CLASS]]] = True
    return test


def _split_handwritten(size: int, seed: int, blend: bool):
    x, y = handwritten_digits(size)
    x = blend_with_photos(x, seed + 2) if blend else x
    test = _handwritten_test_mask(y)
    # Shuffle within each split (the raw set is ordered 0, 1, 2, ...), the same for every seed.
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SPLIT_SEED))
    x, y, test = x[order], y[order], test[order]
    return x[~test], y[~test], x[test], y[test]


def _split_moons(rotation: float):
    def make(_size: int, seed: int):
        # The rotated domain draws other points, so it is not a copy of the source.
        x, y = moons(MOONS_TRAIN + MOONS_TEST, seed + (7 if rotation else 0), rotation_deg=rotation)
        return x[:MOONS_TRAIN], y[:MOONS_TRAIN], x[MOONS_TRAIN:], y[MOONS_TRAIN:]

    return make


def _split_words(speaker: int):
    def make(_size: int, seed: int):
        x, y = spoken_words(WORDS_TRAIN + WORDS_TEST, speaker, seed + 31 * speaker)
        return x[:WORDS_TRAIN], y[:WORDS_TRAIN], x[WORDS_TRAIN:], y[WORDS_TRAIN:]

    return make


DOMAINS: dict[str, _Spec] = {
    "synth": _Spec("digits", 3, 16, lambda s, seed: _split_synth(s, seed, False),
                   "printed digits rendered from matplotlib's fonts (10,000 train / 2,000 test)"),
    "synth-m": _Spec("digits", 3, 16, lambda s, seed: _split_synth(s, seed + 100, True),
                     "other synthetic digits blended with photo crops, MNIST-M protocol"),
    "handwritten": _Spec("digits", 3, 16, lambda s, seed: _split_handwritten(s, seed, False),
                         "scikit-learn's UCI handwritten digits (1,197 train / 600 test)"),
    "handwritten-m": _Spec("digits", 3, 16, lambda s, seed: _split_handwritten(s, seed, True),
                           "the handwritten digits blended with photo crops, MNIST-M protocol"),
    "moons": _Spec("toy", 0, None, _split_moons(0.0), "two interleaving half circles (600 / 600)"),
    "moons-rotated": _Spec("toy", 0, None, _split_moons(35.0), "the two moons rotated by 35°"),
    "words": _Spec("sequences", 0, None, _split_words(0), "spoken-word-like feature sequences, one speaker (3,000 / 600)"),
    "words-new-speaker": _Spec("sequences", 0, None, _split_words(1),
                               "the same words said by another speaker: the input features are mixed"),
    # The standard benchmarks (tlbook.data.benchmarks): downloaded when online, or placed by hand; fixed splits.
    "mnist": _Spec("digits", 3, 28, lambda s, seed: fetch("mnist", s), "MNIST (60,000 / 10,000), via torchvision"),
    "usps": _Spec("digits", 3, 28, lambda s, seed: fetch("usps", s), "USPS (7,291 / 2,007), via torchvision"),
    "svhn": _Spec("digits", 3, 32, lambda s, seed: fetch("svhn", s), "SVHN (73,257 / 26,032), via torchvision"),
    "mnist-m": _Spec("digits", 3, 28, lambda s, seed: fetch("mnist-m", s),
                     "MNIST-M: MNIST's digits blended with BSDS500 photographs by the published recipe (60,000 / 10,000), "
                     "or a copy of the published archive (59,001 / 9,001)"),
    "syndigits": _Spec("digits", 3, 32, lambda s, seed: fetch("syndigits", s),
                       "SynDigits, rendered digits (Ganin & Lempitsky 2015), from a copy placed by hand"),
}
for _name, (_dataset, _, _classes, _count) in OFFICE_DOMAINS.items():  # placed by hand; train and test are the same images
    DOMAINS[_name] = _Spec("office", 3, 224, lambda s, seed, n=_name: office_domain(n, s),
                           f"{'Office-31' if _dataset == 'office31' else 'Office-Home'}: {_count:,} photos of "
                           f"{len(_classes)} objects, placed by hand (tlbook.data.office)", max_size=256)

#: The domain pairs the book uses, source -> target.
PAIRS: dict[str, tuple[str, str]] = {
    "synth->handwritten": ("synth", "handwritten"),
    "handwritten->handwritten-m": ("handwritten", "handwritten-m"),
    "synth->synth-m": ("synth", "synth-m"),
    "moons->moons-rotated": ("moons", "moons-rotated"),
    "words->words-new-speaker": ("words", "words-new-speaker"),
    "mnist->mnist-m": ("mnist", "mnist-m"),
    "mnist->usps": ("mnist", "usps"),
    "usps->mnist": ("usps", "mnist"),
    "svhn->mnist": ("svhn", "mnist"),
    "syndigits->svhn": ("syndigits", "svhn"),
    # Office-31's six pairs and Office-Home's twelve: two domains of one dataset (ResNet-50 on a GPU; placed by hand).
    **{f"{s}->{t}": (s, t) for s, (source_set, *_) in OFFICE_DOMAINS.items()
       for t, (target_set, *_) in OFFICE_DOMAINS.items() if s != t and source_set == target_set},
}


def _spec(name: str, where: str = "load_domain", pair: str | None = None) -> _Spec:
    if not isinstance(name, str):
        raise TypeError(f"{where}: name must be a domain's name (a str), got {type(name).__name__} {name!r}")
    if name not in DOMAINS:
        which = f"domain name {name!r}" if pair is None else f"domain {name!r} in pair {pair!r}"
        raise ValueError(f"{where}: unknown {which}; known domains: {', '.join(DOMAINS)}")
    return DOMAINS[name]


def _quantise(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def _generate(spec: _Spec, size: int, seed: int) -> dict[str, torch.Tensor]:
    x_train, y_train, x_test, y_test = spec.make(size, seed)
    if spec.default_size is None:
        return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    # Images are stored as bytes (a quarter of the disk) and always pass through that
    # rounding, so a fresh and a cached load are bit-identical. Bytes already (photographs) stay as they are,
    # and a test split that is the train split (Office's protocol) stays one tensor, saved once.
    store = lambda x: x if x.dtype == torch.uint8 else _quantise(x)  # noqa: E731
    stored_train = store(x_train)
    return {"x_train": stored_train, "y_train": y_train, "x_test": stored_train if x_test is x_train else store(x_test),
            "y_test": y_test}


@lru_cache(maxsize=1)
def data_code_digest() -> str:
    """SHA-256 of the source that generates the domains (``DATA_CODE`` but ``NOT_DATA_CODE``)."""
    return source_digest(DATA_CODE, exclude=NOT_DATA_CODE)


def cache_path(name: str, seed: int, size: int) -> Path:
    """The cache file of domain ``name`` at ``seed`` and ``size`` pixels, keyed on the code that generates it."""
    return cache_dir() / f"{name}-seed{seed}-{size}px-code{data_code_digest()[:12]}.pt"


def _load_tensors(name: str, spec: _Spec, size: int, seed: int, cache: bool) -> dict[str, torch.Tensor]:
    path = cache_path(name, seed, size)
    if cache and path.exists():
        try:
            return files.load(path, "domain")
        except files.CorruptFile as error:  # derived data: make it again
            warnings.warn(f"{error}; generating the domain again", stacklevel=4)
    tensors = _generate(spec, size, seed)
    if cache:
        try:
            files.save(tensors, path, "domain")  # atomic: parallel test workers never read half a file
        except PermissionError as error:
            raise PermissionError(f"{error}. The data cache is {cache_dir()}: set TLBOOK_DATA to a writable "
                                  "folder, or load with cache=False") from None
    return tensors


def load_domain(
    name: str,
    *,
    seed: int = 0,
    image_size: int | None = None,
    device: torch.device | str = "cpu",
    cache: bool = True,
) -> Domain:
    """Load domain ``name`` (see ``DOMAINS``) with its fixed train/test split.

    ``seed`` fixes the random generation (fonts, warps, photo crops); the same
    seed always gives the same tensors. Images come as float ``N×3×H×W`` in
    ``[0, 1]`` (grey domains repeated over three channels, so every domain of the
    ``digits`` family shares one shape); ``image_size`` defaults to 16.
    """
    spec = _spec(name)
    seed = _checks.integer(seed, "seed", "load_domain", minimum=0)
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)):
        raise TypeError(f"load_domain: image_size must be an integer number of pixels (or None for the default), "
                        f"got {image_size!r}")
    if spec.default_size is None and image_size is not None:
        raise ValueError(f"load_domain: domain {name!r} is 2-D points; image_size does not apply")
    size = image_size if image_size is not None else (spec.default_size or 0)
    if spec.default_size is not None and not 8 <= size <= spec.max_size:
        raise ValueError(f"load_domain: image_size must be between 8 and {spec.max_size} pixels for {name!r}, got {size}")
    _checks.device(device, "device", "load_domain")
    if not isinstance(cache, bool):
        raise TypeError(f"load_domain: cache must be True or False, got {cache!r}")
    t = _load_tensors(name, spec, size, seed, cache)
    x_train, x_test = t["x_train"], t["x_test"]
    if spec.default_size is not None:
        same = x_test.data_ptr() == x_train.data_ptr() and x_test.shape == x_train.shape  # one tensor: convert it once
        x_train = (x_train.float() / 255).expand(-1, spec.channels, -1, -1).contiguous()
        x_test = x_train if same else (x_test.float() / 255).expand(-1, spec.channels, -1, -1).contiguous()
    domain = Domain(name, spec.family, x_train, t["y_train"], x_test, t["y_test"], num_classes=int(t["y_train"].max()) + 1)
    return domain.to(device)


def load_pair(pair: str, **kwargs) -> tuple[Domain, Domain]:
    """Load a ``"source->target"`` pair (any two domains of one family) with ``load_domain``'s options."""
    if not isinstance(pair, str):
        raise TypeError(f"load_pair: pair must be a str such as 'synth->handwritten', got {type(pair).__name__} {pair!r}")
    if pair in PAIRS:
        source_name, target_name = PAIRS[pair]
    elif "->" in pair:
        source_name, target_name = (part.strip() for part in pair.split("->", 1))
    else:
        raise ValueError(f"load_pair: unknown pair {pair!r}; write 'source->target' or use one of: {', '.join(PAIRS)}")
    specs = [_spec(name, "load_pair", pair) for name in (source_name, target_name)]
    if specs[0].family != specs[1].family:  # known before anything is loaded
        raise ValueError(f"load_pair: pair {pair!r} joins domains of different families: {source_name!r} "
                         f"({specs[0].family}) and {target_name!r} ({specs[1].family})")
    datasets = {OFFICE_DOMAINS[name][0] for name in (source_name, target_name) if name in OFFICE_DOMAINS}
    if len(datasets) > 1:  # Office-31's 31 classes and Office-Home's 65 cannot share a classifier
        raise ValueError(f"load_pair: pair {pair!r} joins domains of two datasets ({', '.join(sorted(datasets))}) "
                         "with different classes")
    sizes = [spec.default_size for spec in specs]
    if kwargs.get("image_size") is None and None not in sizes and len(set(sizes)) > 1:
        kwargs = {**kwargs, "image_size": max(sizes)}  # e.g. svhn->mnist: both at SVHN's 32 pixels
    source, target = load_domain(source_name, **kwargs), load_domain(target_name, **kwargs)
    check_same_shape(source, target)
    return source, target


def labelled_subset(domain: Domain, per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` labelled training examples of each class, drawn with ``seed``.

    For semi-supervised settings and fine-tuning with few target labels.
    """
    per_class = _checks.integer(per_class, "per_class", "labelled_subset")
    g = torch.Generator().manual_seed(_checks.integer(seed, "seed", "labelled_subset", minimum=None))
    y = domain.y_train.cpu()
    chosen = []
    for c in range(domain.num_classes):
        members = torch.nonzero(y == c).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {c} of {domain.name!r} has only {len(members)} training examples, asked for {per_class}")
        chosen.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    index = torch.cat(chosen).to(domain.device)
    return domain.x_train[index], domain.y_train[index]
