"""Property-based tests of ``tlbook.data``'s boundaries (Hypothesis; ``tests/properties.py`` is the harness):
domains, the batch sampler, the generators and the loaders of the book's domains and of the real benchmarks.

No test here reaches the network or the reader's cache: every test of this file runs with ``TLBOOK_DATA`` in a
temporary folder and ``socket.create_connection`` refusing, as offline; the real benchmarks' loaders read a tiny
SynDigits and a tiny Office ``dslr`` fabricated there in their published layouts (``placed``).
"""
from __future__ import annotations

import dataclasses
import math
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tlbook.data import BatchSampler, Domain, DatasetUnavailable, check_same_shape, load_domain, load_pair
from tlbook.data.benchmarks import BENCHMARKS, downloads, fetch, mnist_m_layout, raw
from tlbook.data.cache import cache_dir
from tlbook.data.handwritten import handwritten_digits
from tlbook.data.office import OFFICE_DOMAINS, office_domain
from tlbook.data.photo_blend import blend_with_photos, published_mnist_m, sample_photos, stroke_contrast
from tlbook.data.sequences import speaker_transform, spoken_words
from tlbook.data.synthetic_digits import render_glyphs, synthetic_digits
from tlbook.data.toy import moons

from properties import BREAKS, Sizes, Spec, domain, property_tests, sizes


# --- a private, offline data folder with a tiny SynDigits and a tiny Office dslr --------------------------

def _refuse(*args, **kwargs):
    raise OSError("network is unreachable (test)")


def _place_syndigits(folder: Path) -> None:
    """SynDigits' two .mat files (SVHN's layout: X 32×32×3×N, y N×1), 6 train and 4 test digits."""
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for split, n in (("train", 6), ("test", 4)):
        savemat(folder / f"synth_{split}_32x32.mat", {"X": rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8),
                                                       "y": (np.arange(n) % 10 + 1)[:, None]})


def _place_dslr(folder: Path) -> None:
    """One 5×5 photo in each of Office-31's class folders."""
    from PIL import Image

    for label, name in enumerate(OFFICE_DOMAINS["dslr"][2]):
        (folder / name).mkdir(parents=True)
        Image.fromarray(np.full((5, 5, 3), label * 8, np.uint8)).save(folder / name / "frame_0001.jpg")


@pytest.fixture(autouse=True, scope="module")
def placed(tmp_path_factory):
    """Every test of this file: TLBOOK_DATA in a temporary folder, no network, SynDigits and dslr placed by hand,
    one math thread."""
    folder, threads = tmp_path_factory.mktemp("tlbook-data"), torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only wait for each other (as under xdist, see conftest.py)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLBOOK_DATA", str(folder))
        patch.setattr(socket, "create_connection", _refuse)
        patch.setitem(OFFICE_DOMAINS, "dslr", (*OFFICE_DOMAINS["dslr"][:3], 31))  # this copy's count: no warning
        _place_syndigits(downloads("syndigits"))
        _place_dslr(downloads("office31") / "dslr" / "images")
        yield folder
    torch.set_num_threads(threads)


# --- the ways to break this area's arguments, besides the shared ones ---------------------------------------

def _to(value: object):
    """A way to break an argument: replace it by ``value``."""
    return lambda v, call, s: value


def _by(change):
    """A way to break an argument: ``change`` its valid value."""
    return lambda v, call, s: change(v)


def _nan(v: torch.Tensor) -> torch.Tensor:
    v = v.clone()
    v.view(-1)[0] = math.nan
    return v


NAME = {"unknown": _to("no-such-name"), "not a string": _to(3), "None": _to(None)}
SIZE = {"zero": _to(0), "negative": _to(-8), "a float": _to(16.0), "a bool": _to(True), "a string": _to("16"),
        "huge": _to(10**5)}
ON_META = {"on another device": _by(lambda v: v.to("meta"))}
NP_SEED = {**BREAKS["seed"], "negative": _to(-1)}

DATA_BREAKS = {
    **BREAKS,
    "text": {"not a string": _to(3), "None": _to(None)},
    "folder_name": {"not a string": _to(3), "None": _to(None), "empty": _to(""), "a path": _to("../elsewhere"),
                    "absolute": _to("/tmp/elsewhere")},
    "path": {"an int": _to(3), "None": _to(None), "empty": _to("")},
    "benchmark": {**NAME, "a generated domain": _to("synth")},
    "office_name": {**NAME, "a benchmark": _to("mnist")},
    "domain_name": {**NAME, "a pair": _to("moons->moons-rotated")},
    "pair": {**NAME, "one side unknown": _to("moons->nowhere"), "two families": _to("moons->synth"),
             "two Office datasets": _to("amazon->art")},
    "size": SIZE,
    "image_size": {"too small": _to(4), **{k: SIZE[k] for k in ("a float", "a bool", "a string", "huge")}},
    "np_seed": NP_SEED,
    "sklearn_seed": {**NP_SEED, "2**32": _to(2**32)},
    "device": {"unknown": _to("no-such-device"), "a float": _to(1.5), "absent": _to("cuda:7")},
    "flag": {"a string": _to("yes"), "None": _to(None)},
    "inputs": {**BREAKS["features"], **ON_META, "not finite": _by(_nan), "infinite": _by(lambda v: v / 0)},
    "domain_labels": {**BREAKS["labels"], **ON_META},
    "num_classes": {"zero": _to(0), "a float": _by(float), "a bool": _to(True), "a string": _to("3"),
                    "fewer than the labels": _by(lambda v: v - 1)},
    "domain": {"not a Domain": _by(lambda v: v.x_train),
               "other inputs": _by(lambda v: dataclasses.replace(v, x_train=v.x_train.repeat(1, 2),
                                                                 x_test=v.x_test.repeat(1, 2))),
               "other classes": _by(lambda v: dataclasses.replace(v, num_classes=v.num_classes + 1))},
    "grey_images": {**BREAKS["images"], "three channels": _by(lambda v: v.expand(-1, 3, -1, -1)),
                    "not square": _by(lambda v: v[..., :-1]), "not finite": _by(_nan), "out of [0, 1]": _by(lambda v: v + 1),
                    "too large to crop": _to(torch.full((1, 1, 200, 200), 0.5))},
    "np_digits": {"float dtype": _by(lambda v: v.astype(np.float32)), "a torch tensor": _by(torch.from_numpy),
                  "one dimension fewer": _by(lambda v: v[0]), "one more dimension": _by(lambda v: v[..., None])},
    "photos": {"empty": _to([]), "grey": _by(lambda v: [p[..., 0] for p in v]),
               "too small": _by(lambda v: [p[:2, :2] for p in v]),
               "float dtype": _by(lambda v: [p / 255 for p in v]), "one photo, not a list": _by(lambda v: v[0]),
               "a string": _to("photo.jpg"), "torch tensors": _by(lambda v: [torch.from_numpy(p) for p in v])},
    "threshold": {"nan": _to(math.nan), "above 1": _to(1.5), "negative": _to(-0.1), "a string": _to("0.5"),
                  "the other's value": lambda v, call, s: call["background"] if v == call["ink"] else call["ink"]},
    "sampler_x": {"a Python list": _by(torch.Tensor.tolist), "empty": _by(lambda v: v[:0]), "a number": _to(3.0),
                  "0-d": _by(lambda v: v[0, 0])},
    "sampler_y": {"a Python list": _by(torch.Tensor.tolist), **ON_META, "0-d": _by(lambda v: v[0])},
    "speaker": {"negative": _to(-1), "a float": _to(1.5), "a bool": _to(True), "a string": _to("1")},
    "glyphs": {"integer dtype": _by(lambda v: (v * 255).long()), "nine digits": _by(lambda v: v[:, :9]),
               "no styles": _by(lambda v: v[:0]), "one dimension fewer": _by(lambda v: v[0]),
               "a Python list": _by(torch.Tensor.tolist), "not finite": _by(_nan), "out of [0, 1]": _by(lambda v: v + 1),
               **ON_META},
}


# --- the valid calls --------------------------------------------------------------------------------------

def _domain_call(s: Sizes) -> dict:
    d = domain(s)
    return dict(name=d.name, family=d.family, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
                num_classes=d.num_classes)


def _load_call(s: Sizes) -> dict:
    """Moons (points) or handwritten digits at 8 to 14 pixels: generated in a few milliseconds, then cached."""
    name, size = ("moons", None) if s.seed % 2 else ("handwritten", 8 + s.d)
    return dict(name=name, seed=s.classes % 2, image_size=size, device="cpu", cache=bool(s.n % 2))


def _mnist_m_call(s: Sizes) -> dict:
    rng = np.random.default_rng(s.seed)
    digits = rng.integers(0, 256, (s.n, 4, 3 + s.d)).astype(np.uint8)
    return dict(digits=digits, photos=[rng.integers(0, 256, (6 + k, 9 + s.d, 3)).astype(np.uint8) for k in range(2)],
                seed=s.seed)


def _stroke_call(s: Sizes) -> dict:
    ink = 0.4 + 0.6 * (s.seed % 101) / 100
    return dict(digits=s.rand(s.n, 1, 5, 5), blended=s.rand(s.n, 3, 5, 5), ink=ink, background=0.3 * s.d / 6)


SPECS: dict[str, Spec] = {
    # the real benchmarks (SynDigits and dslr placed in the private folder; the others are absent and offline)
    "data.benchmarks.downloads": Spec(downloads, lambda s: dict(name=("mnist", "bsds500", "office31")[s.seed % 3]),
                                      {"name": "folder_name"}),
    "data.benchmarks.mnist_m_layout": Spec(mnist_m_layout, lambda s: dict(folder=Path(f"/data/{s.seed}")),
                                           {"folder": "path"}),
    "data.benchmarks.raw": Spec(raw, lambda s: dict(name="syndigits"), {"name": "benchmark"}, examples=3),
    "data.benchmarks.fetch": Spec(fetch, lambda s: dict(name="syndigits", size=3 + s.d),
                                  {"name": "benchmark", "size": "size"}, examples=3),
    "data.office.office_domain": Spec(office_domain, lambda s: dict(name="dslr", size=2 + s.d),
                                      {"name": "office_name", "size": "size"}, examples=3),
    # domains, pairs and batches
    "data.domain.Domain": Spec(Domain, _domain_call,
                               {"name": "text", "family": "text", "x_train": "inputs", "y_train": "domain_labels",
                                "x_test": "inputs", "y_test": "domain_labels", "num_classes": "num_classes"},
                               rows={"y_train": "x_train", "y_test": "x_test"}),
    "data.domain.check_same_shape": Spec(check_same_shape, lambda s: dict(source=domain(s), target=domain(s)),
                                         {"source": "domain", "target": "domain"}),
    "data.registry.load_domain": Spec(load_domain, _load_call,
                                      {"name": "domain_name", "seed": "np_seed", "image_size": "image_size",
                                       "device": "device", "cache": "flag"}, examples=3),
    "data.registry.load_pair": Spec(load_pair, lambda s: dict(pair=("moons->moons-rotated", "moons-rotated->moons")[s.seed % 2],
                                                              seed=s.classes % 2, device="cpu"),
                                    {"pair": "pair", "seed": "np_seed", "device": "device"}, examples=3),
    "data.sampler.BatchSampler": Spec(BatchSampler, lambda s: dict(x=s.rand(s.n, s.d), y=s.labels(s.n),
                                                                   batch_size=1 + s.seed % 30, seed=s.seed),
                                      {"x": "sampler_x", "y": "sampler_y", "batch_size": "positive_int", "seed": "seed"},
                                      rows={"y": "x"}),
    # the generators
    "data.handwritten.handwritten_digits": Spec(handwritten_digits, lambda s: dict(image_size=1 + s.seed % 12),
                                                {"image_size": "size"}, examples=4),
    "data.photo_blend.sample_photos": Spec(sample_photos, lambda s: {}, {}, examples=1),
    "data.photo_blend.blend_with_photos": Spec(blend_with_photos, lambda s: dict(digits=s.rand(s.n, 1, 3 + s.d, 3 + s.d),
                                                                                 seed=s.seed),
                                               {"digits": "grey_images", "seed": "seed"}, legal=("empty",), examples=2),
    "data.photo_blend.published_mnist_m": Spec(published_mnist_m, _mnist_m_call,
                                               {"digits": "np_digits", "photos": "photos", "seed": "np_seed"}),
    "data.photo_blend.stroke_contrast": Spec(stroke_contrast, _stroke_call,
                                             {"digits": "images", "blended": "images", "ink": "threshold",
                                              "background": "threshold"}, rows={"blended": "digits"}),
    "data.sequences.speaker_transform": Spec(speaker_transform, lambda s: dict(speaker=s.seed % 5), {"speaker": "speaker"}),
    "data.sequences.spoken_words": Spec(spoken_words,
                                        lambda s: dict(n=s.n, speaker=s.classes - 2, seed=s.seed, noise=s.d / 10),
                                        {"n": "positive_int", "speaker": "speaker", "seed": "seed",
                                         "noise": "nonnegative_float"}),
    "data.synthetic_digits.render_glyphs": Spec(render_glyphs, lambda s: {}, {}, examples=1),
    "data.synthetic_digits.synthetic_digits": Spec(synthetic_digits, lambda s: dict(n=s.n, image_size=2 + s.d, seed=s.seed,
                                                                                    glyphs=s.rand(2, 10, 8, 8)),
                                                   {"n": "positive_int", "image_size": "size", "seed": "seed",
                                                    "glyphs": "glyphs"}),
    "data.toy.moons": Spec(moons, lambda s: dict(n=s.n, seed=s.seed, rotation_deg=10.0 * s.d, noise=s.d / 20),
                           {"n": "positive_int", "seed": "sklearn_seed", "rotation_deg": "finite_float",
                            "noise": "nonnegative_float"}),
}

test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(
    SPECS, breaks=DATA_BREAKS)


# --- what a Spec cannot say -------------------------------------------------------------------------------

@given(folder=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12))
def test_the_cache_is_tlbook_data_and_an_empty_one_is_refused(folder):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLBOOK_DATA", folder)
        if folder.strip():
            assert cache_dir() == Path(folder) and downloads("usps") == Path(folder) / "downloads" / "usps"
        else:
            with pytest.raises(ValueError, match="TLBOOK_DATA must name a folder"):
                cache_dir()
        patch.delenv("TLBOOK_DATA")
        assert cache_dir() == Path.home() / ".cache" / "tlbook"


PROPERTIES = {"data.cache.cache_dir": test_the_cache_is_tlbook_data_and_an_empty_one_is_refused}


@given(name=st.sampled_from([*BENCHMARKS, "amazon", "art", "real-world"]))
def test_offline_a_real_benchmark_fails_at_once_naming_it_and_writes_nothing(name):
    with tempfile.TemporaryDirectory() as empty, pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLBOOK_DATA", empty)
        start = time.perf_counter()
        with pytest.raises(DatasetUnavailable, match=rf"^{name} is not available: .*{empty}"):
            load_domain(name, image_size=8)
        assert time.perf_counter() - start < 3
        assert not any(Path(empty).iterdir()), "nothing written"


@given(sizes=sizes)
def test_a_sampler_visits_every_example_once_a_pass_with_its_label(sizes):
    x, y = torch.arange(sizes.n), 10 * torch.arange(sizes.n)
    sampler = BatchSampler(x, y, batch_size=1 + sizes.seed % 30, seed=sizes.seed)
    batch, passes = sampler.batch_size, sizes.n // sampler.batch_size
    drawn = [next(sampler) for _ in range(passes)]
    assert batch == min(1 + sizes.seed % 30, sizes.n)
    assert all(len(xb) == batch and torch.equal(yb, 10 * xb) for xb, yb in drawn)
    assert len(torch.cat([xb for xb, _ in drawn]).unique()) == passes * batch


@given(sizes=sizes)
def test_a_domain_keeps_what_it_is_given(sizes):
    call = _domain_call(sizes)
    d = Domain(**call)
    assert all(getattr(d, k) is v for k, v in call.items()) and d.input_shape == (sizes.d,) and d.device.type == "cpu"


@given(sizes=sizes)
def test_the_generators_are_deterministic_in_their_seed(sizes):
    glyphs, n = sizes.rand(2, 10, 8, 8), sizes.n
    makers = (lambda seed: synthetic_digits(n, 5, seed, glyphs), lambda seed: spoken_words(n, 1, seed),
              lambda seed: moons(n, seed), lambda seed: [published_mnist_m(**{**_mnist_m_call(sizes), "seed": seed})])
    for make in makers:
        first, again, other = make(sizes.seed), make(sizes.seed), make(sizes.seed + 1)
        assert all(np.array_equal(a, b) for a, b in zip(first, again))
        assert not all(np.array_equal(a, b) for a, b in zip(first, other))
