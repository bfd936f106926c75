"""Domains of the book: generated offline from what the dependencies ship.

>>> source, target = load_pair("synth->handwritten", device="cpu")
>>> xs, ys = next(BatchSampler(source.x_train, source.y_train, 64))
"""
from .domain import Domain, check_same_shape
from .photo_blend import stroke_contrast
from .registry import DOMAINS, PAIRS, cache_dir, labelled_subset, load_domain, load_pair
from .sampler import BatchSampler

__all__ = [
    "Domain", "DOMAINS", "PAIRS", "BatchSampler", "cache_dir", "check_same_shape",
    "labelled_subset", "load_domain", "load_pair", "stroke_contrast",
]
