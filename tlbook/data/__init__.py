"""Domains of the book: generated offline from what the dependencies ship, and the standard digit
benchmarks (MNIST, USPS, SVHN, MNIST-M) for readers who are online (``tlbook.data.benchmarks``).

>>> source, target = load_pair("synth->handwritten", device="cpu")
>>> xs, ys = next(BatchSampler(source.x_train, source.y_train, 64))
"""
from .benchmarks import DatasetCorrupt, DatasetUnavailable
from .domain import Domain, check_same_shape
from .photo_blend import CONTRAST_BINS, stroke_contrast
from .registry import DOMAINS, PAIRS, cache_dir, labelled_subset, load_domain, load_pair
from .sampler import BatchSampler

__all__ = [
    "CONTRAST_BINS", "DatasetCorrupt", "DatasetUnavailable", "Domain", "DOMAINS", "PAIRS", "BatchSampler", "cache_dir", "check_same_shape",
    "labelled_subset", "load_domain", "load_pair", "stroke_contrast",
]
