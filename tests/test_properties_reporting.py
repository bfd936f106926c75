"""Property-based tests of what reports results: the files tlbook writes (``tlbook.files``), the claims a
notebook makes (``tlbook.claims``) and the shared plots (``tlbook.plot``).

Files: whatever ``save`` takes comes back equal from ``load``, with ``weights_only=True``; a damaged file, a
folder, a file of another kind or a missing GPU is named, never blamed on the wrong thing; a failed write leaves
nothing behind. Claims: the verdict agrees with scipy's t-test, interval or bound computed here, seed by seed
(a claim that holds passes, one that does not raises ``ClaimFailed``). Plots: degenerate but legal inputs
(two points under t-SNE, one feature, an empty history) draw; broken ones are named before anything is drawn.
"""
from __future__ import annotations

import atexit
import copy
import math
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from unittest import mock

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sklearn.manifold  # noqa: F401  (loads the OpenMP runtime t-SNE uses, for the controller below)
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from threadpoolctl import ThreadpoolController

from tlbook import claims, files, plot
from tlbook.data import Domain
from tlbook.methods import SourceOnly
from tlbook.nn import toy_classifier
from tlbook.train import History

from properties import BREAKS, Sizes, Spec, property_tests

matplotlib.use("Agg")  # no window: figures are drawn and closed

FOLDER = Path(tempfile.mkdtemp(prefix="tlbook-properties-"))  # the files the specs write
atexit.register(shutil.rmtree, FOLDER, True)


# --- valid calls ---------------------------------------------------------------------------------------------

def _content(s: Sizes) -> dict:
    """What tlbook stores: tensors of several dtypes (one not contiguous, one empty), nested plain values."""
    return {"weights": s.randn(s.n, s.d), "labels": s.labels(s.n), "mask": s.rand(s.d) > 0.5,
            "transposed": s.rand(s.d, 2).t(), "empty": torch.zeros(0, s.d), "history": {"steps": [1, 2], "loss": [0.5, 0.25]},
            "settings": (s.seed, "sgd", None, True, 0.1)}


def _saved(s: Sizes) -> Path:
    path = FOLDER / f"load-{s.seed}-{s.n}.pt"
    files.save(_content(s), path, "model")
    return path


def _seeds(s: Sizes) -> list[int]:
    """Two to five distinct seeds, not in order."""
    return [(s.seed + 7 * i) % 97 for i in range(2 + s.n % 4)]


def _gain(s: Sizes, sign: float = 1.0) -> dict:
    """A variant 20 points over (sign −1: under) its baseline on every seed, with a little noise: a claim that holds."""
    k = len(_seeds(s))
    baseline = (0.3 + 0.4 * s.rand(k)).tolist()
    variant = [b + sign * (0.2 + 0.01 * e) for b, e in zip(baseline, s.rand(k + 1).tolist())]
    return dict(statement="the variant wins", variant=variant, baseline=baseline, seeds=_seeds(s), quiet=True)


def _near(s: Sizes) -> dict:
    """A variant within a point of its baseline on every seed: equivalent within 10 points."""
    call = _gain(s)
    call["variant"] = [b + 0.01 * (e - 0.5) for b, e in zip(call["baseline"], s.rand(len(call["baseline"]) + 2).tolist())]
    return dict(call, statement="the variant matches", margin=0.1)


def _bound(s: Sizes, sign: float) -> dict:
    call = _gain(s)
    return dict(statement="beyond the bound", variant=call["baseline"], level=0.2 if sign > 0 else 0.8, seeds=_seeds(s), quiet=True)


def _images(s: Sizes, n: int) -> torch.Tensor:
    return s.rand(n, 1 + 2 * (s.seed % 2), 4, 4)  # grey or RGB


def _image_domain(s: Sizes) -> Domain:
    return Domain("pictures", "generated", _images(s, 4), s.labels(4), _images(s, 3), s.labels(3), s.classes)


def _history(s: Sizes) -> History:
    """Two terms and one evaluation set over a few logged steps; every third one is empty (nothing logged yet)."""
    if s.seed % 3 == 0:
        return History()
    steps = list(range(10, 10 * (s.n % 5 + 2), 10))
    return History(steps, {"classification": s.rand(len(steps)).tolist(), "alignment": s.rand(len(steps) + 1).tolist()[1:]},
                   steps[1::2], {"target test": s.rand(len(steps[1::2])).tolist()})


def _labelled(s: Sizes, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    return s.randn(n, s.d), s.labels(n)


def _points_domain(s: Sizes, shift: float) -> Domain:
    n = 20 + s.n % 4  # proxy_a_distance trains on half: with a few rows, its half could hold one domain only
    return Domain("points", "generated", s.randn(n, 2) + shift, s.labels(n) % 2, s.randn(n, 2) + shift, s.labels(n) % 2, 2)


# --- ways to break the arguments of this area ------------------------------------------------------------------

def _self_containing(v, call, s):
    loop = [1]
    loop.append(loop)
    return {"loop": loop}


def _under_a_file(v, call, s):
    blocker = FOLDER / "a-file"
    blocker.write_bytes(b"")
    return blocker / "inside.pt"


REPORTING_BREAKS = {  # a few ways each, the ones that take different paths (the file has a time budget)
    "file_content": {"a NumPy array": lambda v, call, s: {**v, "array": np.zeros(2)},
                     "an object": lambda v, call, s: {**v, "generator": torch.Generator()},
                     "itself inside": _self_containing},
    "file_path": {"a folder": lambda v, call, s: FOLDER, "under a file": _under_a_file, "an int": lambda v, call, s: 5},
    "file_kind": {"unknown": lambda v, call, s: "modle", "None": lambda v, call, s: None},
    "device": {"unknown": lambda v, call, s: "gpu", "a missing GPU": lambda v, call, s: "cuda:99",
               "an int": lambda v, call, s: 3},
    "seed_count": {"one": lambda v, call, s: 1, "a float": lambda v, call, s: 2.5, "a bool": lambda v, call, s: True},
    "probability": {"zero": lambda v, call, s: 0.0, "one": lambda v, call, s: 1.0, "nan": lambda v, call, s: math.nan},
    "significance": {"one half": lambda v, call, s: 0.5, "zero": lambda v, call, s: 0.0, "a string": lambda v, call, s: "0.05"},
    "margin": {"zero": lambda v, call, s: 0.0, "nan": lambda v, call, s: math.nan, "a string": lambda v, call, s: "0.1"},
    "by": {"negative": lambda v, call, s: -0.01, "inf": lambda v, call, s: math.inf, "a string": lambda v, call, s: "0"},
    "bound": {"nan": lambda v, call, s: math.nan, "a list": lambda v, call, s: [v, v]},
    "per_seed": {"a nan": lambda v, call, s: [*v[:-1], math.nan], "one value fewer": lambda v, call, s: v[:-1],
                 "empty": lambda v, call, s: []},
    "per_seed_typed": {"strings": lambda v, call, s: ["high", "low"], "nested": lambda v, call, s: [v, v]},
    "seed_list": {"a seed twice": lambda v, call, s: [v[0], *v[:-1]], "a float seed": lambda v, call, s: [0.5, *v[1:]],
                  "one seed fewer": lambda v, call, s: v[:-1]},
    "names": {"one string": lambda v, call, s: "ab", "not strings": lambda v, call, s: (1, 2)},
    "flag": {"a string": lambda v, call, s: "yes", "an int": lambda v, call, s: 1},
    "text": {"an int": lambda v, call, s: 3},
    "scale": {"zero": lambda v, call, s: 0.0, "nan": lambda v, call, s: math.nan},
    "count": {"zero": lambda v, call, s: 0, "a float": lambda v, call, s: 2.5},
    "statement": {"runs first": lambda v, call, s: call["variant"]},
    "per_row": {"zero": lambda v, call, s: 0, "a float": lambda v, call, s: 2.5, "too many": lambda v, call, s: 10**6},
    "domains": {"one Domain, not a list": lambda v, call, s: v[0],
                "points, not images": lambda v, call, s: [_points_domain(s, 0.0)],
                "two channels": lambda v, call, s: [Domain("two", "g", s.rand(4, 2, 4, 4), s.labels(4), s.rand(3, 2, 4, 4),
                                                           s.labels(3), s.classes)]},
    "image_rows": {"a list": lambda v, call, s: list(v.values()),
                   "integer dtype": lambda v, call, s: {**v, "b": (255 * v["a"]).long()},
                   "two channels": lambda v, call, s: {**v, "b": v["a"][:, :1].expand(-1, 2, -1, -1)},
                   "an empty row": lambda v, call, s: {**v, "b": v["a"][:0]},
                   "too many images": lambda v, call, s: {**v, "b": torch.rand(1000, 1, 2, 2)}},
    "history": {"a dict": lambda v, call, s: asdict(v),
                "a term logged in part of the run": lambda v, call, s: History([1, 2, 3], {"late": [0.5]}),
                "an evaluation logged in part of the run": lambda v, call, s: History([1], {}, [1, 2], {"test": [0.5]})},
    "term_names": {"unknown": lambda v, call, s: ["classification", "no such term"], "a string": lambda v, call, s: "loss"},
    "embed_features": {"one more dimension": BREAKS["features"]["one more dimension"],
                       "integer dtype": BREAKS["features"]["integer dtype"], "one point": lambda v, call, s: v[:1],
                       "a nan": lambda v, call, s: torch.where(v == v.max(), math.nan, v),
                       "no columns": lambda v, call, s: v[:, :0]},
    "nonnegative_seed": {"a float": lambda v, call, s: 0.5, "negative": lambda v, call, s: -1, "too large": lambda v, call, s: 2**40},
    "labelled": {"not a pair": lambda v, call, s: v[0], "labels (N, 1)": lambda v, call, s: (v[0], v[1][:, None]),
                 "one label fewer": lambda v, call, s: (v[0], v[1][:-1]), "a negative label": lambda v, call, s: (v[0], v[1] - 1),
                 "another width": lambda v, call, s: (torch.cat([v[0], v[0]], 1), v[1])},
    "models": {"empty": lambda v, call, s: {}, "a model, not a dict": lambda v, call, s: next(iter(v.values())),
               "not a model": lambda v, call, s: {"model": "network"}},
    "layer": {"unknown": lambda v, call, s: "fc9", "an int": lambda v, call, s: 3},
    "domain": {"a tensor": lambda v, call, s: v.x_test},
}

_CLAIM = {"statement": "statement", "variant": "per_seed", "baseline": "per_seed", "seeds": "seed_list", "names": "names",
          "scale": "scale", "digits": "digits", "quiet": "flag", "eval_set": "text"}  # what the claims take, by kind

SPECS: dict[str, Spec] = {
    # files
    "files.digest": Spec(files.digest, lambda s: dict(content=_content(s)), {"content": "file_content"}),
    "files.save": Spec(files.save, lambda s: dict(content=_content(s), path=FOLDER / f"save-{s.seed}.pt", kind="checkpoint"),
                       {"content": "file_content", "path": "file_path", "kind": "file_kind"}, examples=2),
    "files.load": Spec(files.load, lambda s: dict(path=_saved(s), kind="model", map_location="cpu"),
                       {"path": "file_path", "kind": "file_kind", "map_location": "device"}, examples=2),
    # claims (greater carries every argument the claims share; the others what is their own)
    "claims.t_quantile": Spec(claims.t_quantile, lambda s: dict(n=s.n, level=s.seed / 2**17 + 1e-3),
                              {"n": "seed_count", "level": "probability"}, examples=5),
    "claims.SeedValues": Spec(claims.SeedValues, lambda s: dict(seeds=_seeds(s), values=_gain(s)["variant"]),
                              {"seeds": "seed_list", "values": "per_seed"}, examples=2),
    "claims.Evidence": Spec(claims.Evidence, lambda s: dict(statement="x", seeds=tuple(_seeds(s)), variant=np.array(_gain(s)["variant"]),
                                                             baseline=np.array(_gain(s)["baseline"]), names=("a", "b"), rule="r",
                                                             holds=True),
                            {"seeds": "seed_list", "names": "names", "holds": "flag", "scale": "scale"}, examples=2),
    "claims.paired": Spec(claims.paired, lambda s: dict(variant=_gain(s)["variant"], baseline=_gain(s)["baseline"], seeds=_seeds(s)),
                          {"variant": "per_seed", "baseline": "per_seed_typed", "seeds": "seed_list", "min_seeds": "count",
                           "eval_set": "text"}, examples=2),
    "claims.greater": Spec(claims.greater, _gain, {**_CLAIM, "by": "by", "level": "significance", "every_seed": "flag"},
                           examples=2),
    "claims.less": Spec(claims.less, lambda s: _gain(s, -1.0), {"variant": "per_seed", "by": "by", "every_seed": "flag"},
                        examples=2),
    "claims.equivalent": Spec(claims.equivalent, _near, {"baseline": "per_seed", "margin": "margin", "level": "significance"},
                              examples=2),
    "claims.above": Spec(claims.above, lambda s: _bound(s, +1), {"variant": "per_seed", "level": "bound", "names": "names"},
                         examples=2),
    "claims.below": Spec(claims.below, lambda s: _bound(s, -1), {"level": "bound", "seeds": "seed_list"}, examples=2),
    "claims.observe": Spec(claims.observe, lambda s: dict(_gain(s), statement="just shown"),
                           {"statement": "statement", "variant": "per_seed_typed", "baseline": "per_seed"}, examples=2),
    # plots
    "plot.use_book_style": Spec(plot.use_book_style, lambda s: {}, {}, examples=1),
    "plot.domain_grid": Spec(plot.domain_grid, lambda s: dict(domains=[_image_domain(s)] * (1 + s.seed % 2), per_row=1 + s.n % 3,
                                                              split=("train", "test")[s.seed % 2]),
                             {"domains": "domains", "per_row": "per_row", "split": "choice"}, examples=2),
    "plot.image_rows": Spec(plot.image_rows, lambda s: dict(rows={"a": _images(s, 1 + s.n % 3), "b": _images(s, 2)}, title="t"),
                            {"rows": "image_rows", "title": "text"}, examples=2),
    "plot.training_curves": Spec(plot.training_curves, lambda s: dict(history=_history(s), log_loss=bool(s.seed % 2)),
                                 {"history": "history", "terms": "term_names", "title": "text", "log_loss": "flag"}, examples=2),
    "plot.embed_2d": Spec(plot.embed_2d, lambda s: dict(features=s.randn(2 + s.n % 5, s.d), method=("pca", "tsne")[s.seed % 2],
                                                        seed=s.seed),
                          {"features": "embed_features", "method": "choice", "seed": "nonnegative_seed"}, examples=2),
    "plot.feature_map": Spec(plot.feature_map, lambda s: dict(source=_labelled(s, 1 + s.n % 3), target=_labelled(s, 2), method="pca",
                                                              seed=s.seed, title="t"),
                             {"source": "labelled", "target": "labelled", "method": "choice", "seed": "nonnegative_seed",
                              "title": "text"}, examples=2),
    "plot.layer_maps": Spec(plot.layer_maps, lambda s: dict(models={"untrained": SourceOnly(toy_classifier())},
                                                            source=_points_domain(s, 0.0), target=_points_domain(s, 3.0),
                                                            layer="logits", method="pca", seed=s.seed),
                            {"models": "models", "source": "domain", "target": "domain", "layer": "layer", "role": "text",
                             "method": "choice", "seed": "nonnegative_seed"}, examples=1),
}


_THREADS = ThreadpoolController()  # after sklearn.manifold is imported: it sees the OpenMP runtime t-SNE uses


@pytest.fixture(autouse=True)
def _quiet_plots_on_one_thread(monkeypatch):
    """No figure outlives its test, ``plt.show`` (layer_maps shows each map) draws nothing, and t-SNE runs on
    one thread: its OpenMP threads spin for seconds on a busy machine."""
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    with _THREADS.limit(limits=1):
        yield
    plt.close("all")


test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(
    SPECS, {**BREAKS, **REPORTING_BREAKS})


# --- hand-written properties: what a Spec cannot say --------------------------------------------------------------

def _tensor(dtype: torch.dtype, shape: list[int], seed: int, transpose: bool) -> torch.Tensor:
    t = (10 * torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))).abs().to(dtype)
    return t.t() if transpose and t.ndim == 2 else t  # a view that is not contiguous


_plain = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=4)
_tensors = st.builds(_tensor, st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                                               torch.int8, torch.uint8, torch.bool, torch.complex64]),
                     st.lists(st.integers(0, 3), max_size=3), st.integers(0, 999), st.booleans())
_contents = st.recursive(_plain | _tensors, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                         | st.dictionaries(st.text(max_size=3) | st.integers(-3, 3), inner, max_size=3), max_leaves=8)


def _same(a, b) -> bool:
    """Equal, type for type (NaN equal to NaN, a tensor's dtype, shape and bytes)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        as_bytes = lambda t: t.contiguous().reshape(-1).view(torch.uint8)  # noqa: E731
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(as_bytes(a), as_bytes(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@settings(max_examples=12)
@given(content=_contents, cut=st.floats(0, 1), flip=st.integers(0, 2**20))
def test_what_save_writes_load_returns_and_a_damaged_file_is_named(content, cut, flip):
    path = FOLDER / "round-trip.pt"
    files.save(content, path, "run")
    assert _same(files.load(path, "run"), content)
    assert set(torch.load(path, weights_only=True)) == {"tlbook", "sha256", "content"}  # no pickled code
    data = path.read_bytes()
    path.write_bytes(data[: int(cut * (len(data) - 1))])
    with pytest.raises(files.CorruptFile, match=f"{path.name} is unreadable"):
        files.load(path, "run")
    i = flip % len(data)
    path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    try:  # a flipped byte in a zip header or padding changes nothing; anywhere else it is noticed
        assert _same(files.load(path, "run"), content)
    except files.CorruptFile as error:
        assert path.name in str(error)
    files.save(content, path, "model")
    with pytest.raises(files.CorruptFile, match=f"{path.name} is not a tlbook run file"):
        files.load(path, "run")


class _Interrupted(BaseException):
    """Like KeyboardInterrupt, without stopping the test session."""


@settings(max_examples=6)
@given(written=st.floats(0, 1), earlier=st.booleans(), failure=st.sampled_from([OSError(28, "No space left on device"),
                                                                                  _Interrupted()]))
def test_a_failed_save_keeps_the_earlier_file_and_leaves_no_half_file(written, earlier, failure):
    folder = FOLDER / "atomic"
    shutil.rmtree(folder, ignore_errors=True)
    path = folder / "run.pt"
    if earlier:
        files.save({"step": 10}, path, "checkpoint")
    real_save = torch.save

    def cut_short(obj, f, *args, **kwargs):  # the disk fills up, or the user interrupts, part way through
        real_save(obj, f, *args, **kwargs)
        Path(f).write_bytes(Path(f).read_bytes()[: int(written * Path(f).stat().st_size)])
        raise failure

    with mock.patch.object(torch, "save", cut_short), pytest.raises(type(failure)):
        files.save({"step": 20}, path, "checkpoint")
    assert [p.name for p in folder.iterdir()] == (["run.pt"] if earlier else [])
    if earlier:
        assert files.load(path, "checkpoint") == {"step": 10}


@settings(max_examples=10)
@given(content=_contents, index=st.integers(0, 2**10))
def test_the_digest_tells_apart_what_load_would_return_differently(content, index):
    assert files.digest(content) == files.digest(copy.deepcopy(content))
    others = [[content], (content,), {"x": content}, {0: content}]
    assert len({files.digest(c) for c in others}) == len(others)
    t = _tensor(torch.float32, [3, 2], index, False)
    changed = t.clone()
    changed.view(-1)[index % 6] += 1
    assert files.digest({"t": t, "c": content}) != files.digest({"t": changed, "c": content})
    assert files.digest({"a": 1, "b": 2}) != files.digest({"b": 2, "a": 1})  # the order is saved too


_grid = st.integers(-300, 300).map(lambda k: k / 1000)  # differences on a grid, as accuracies are: ties happen
_differences = st.lists(_grid, min_size=2, max_size=6)


def _claim(rule, *args, **kwargs) -> bool:
    """True when the claim passes, False when it raises ClaimFailed (nothing else may happen)."""
    try:
        evidence = rule("claim", *args, quiet=True, **kwargs)
    except claims.ClaimFailed:
        return False
    assert evidence.holds is True
    return True


@settings(max_examples=25)
@given(d=_differences, by=st.sampled_from([0.0, 0.02]), every_seed=st.booleans(), level=st.sampled_from([0.05, 0.2]),
       sign=st.sampled_from([1, -1]))
def test_greater_and_less_hold_exactly_when_the_t_statistic_clears_scipys_quantile(d, by, every_seed, level, sign):
    baseline = np.full(len(d), 0.5)
    variant = baseline + sign * np.array(d)
    gains = sign * (variant - baseline)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (gains.mean() - by) / (gains.std(ddof=1) / np.sqrt(len(d)))  # ±inf or nan when every seed agrees
    critical = stats.t.ppf(1 - level, len(d) - 1)
    assume(not np.isfinite(t) or abs(t - critical) > 1e-9 * critical)
    expected = bool(t > critical) and (not every_seed or bool((gains > 0).all()))
    rule = claims.greater if sign > 0 else claims.less
    assert _claim(rule, variant, baseline, by=by, every_seed=every_seed, level=level) is expected


@settings(max_examples=20)
@given(d=_differences, margin=st.sampled_from([0.05, 0.2]), level=st.sampled_from([0.05, 0.1]))
def test_an_equivalence_holds_exactly_when_scipys_interval_lies_inside_the_margin(d, margin, level):
    d = np.array(d)
    sem = d.std(ddof=1) / np.sqrt(len(d))
    low, high = stats.t.interval(1 - 2 * level, len(d) - 1, loc=d.mean(), scale=sem) if sem > 0 else (d.mean(), d.mean())
    assume(min(abs(abs(low) - margin), abs(abs(high) - margin)) > 1e-9)
    assert _claim(claims.equivalent, 0.5 + d, 0.5, margin=margin, level=level) is bool(-margin < low and high < margin)


@settings(max_examples=15)
@given(values=st.lists(_grid.map(lambda v: v + 0.5), min_size=2, max_size=6), level=_grid.map(lambda v: v + 0.5))
def test_a_bound_holds_exactly_when_every_seed_clears_it(values, level):
    assert _claim(claims.above, values, level) is (min(values) > level)
    assert _claim(claims.below, values, level) is (max(values) < level)


@settings(max_examples=15)
@given(seeds=st.lists(st.integers(0, 99), min_size=2, max_size=6, unique=True), data=st.data())
def test_runs_are_paired_by_seed_whatever_their_order_and_a_missing_seed_is_named(seeds, data):
    values = {seed: seed / 100 for seed in seeds}
    shuffled = data.draw(st.permutations(seeds))
    extra = [s for s in range(100, 100 + data.draw(st.integers(0, 2)))]  # the baseline may have run more seeds
    baseline = claims.SeedValues([*shuffled, *extra], np.array([values[s] - 0.1 for s in shuffled] + [0.0] * len(extra)))
    for variant in (values, claims.SeedValues(list(values), np.array(list(values.values())))):
        paired_seeds, v, b, _ = claims.paired(variant, baseline)
        assert list(paired_seeds) == seeds and np.allclose(v - b, 0.1)
    missing = data.draw(st.sampled_from(seeds))
    short = {s: values[s] for s in shuffled if s != missing}
    with pytest.raises(ValueError, match=rf"baseline did not run seeds \[{missing}\]"):
        claims.greater("claim", values, short, quiet=True)
    with pytest.raises(ValueError, match="at least two seeds"):  # one seed: no spread, no t quantile
        claims.greater("claim", {seeds[0]: 0.9}, {seeds[0]: 0.1}, quiet=True)


@settings(max_examples=15)
@given(n=st.integers(2, 10**6), level=st.floats(1e-300, 0.999))
def test_t_quantile_is_scipys_and_finite_even_for_tiny_levels(n, level):
    q = claims.t_quantile(n, level)
    assert math.isfinite(q) and q == pytest.approx(stats.t.isf(level, n - 1), rel=1e-6)


@settings(max_examples=10)
@given(d=_differences, level=st.sampled_from([0.025, 0.05, 0.1]))
def test_the_evidence_interval_is_scipys_t_interval(d, level):
    seeds = tuple(range(len(d)))
    evidence = claims.Evidence("x", seeds, 0.5 + np.array(d), np.full(len(d), 0.5), ("a", "b"), "r", None)
    sem = evidence.std / np.sqrt(len(d))
    expected = stats.t.interval(1 - 2 * level, len(d) - 1, loc=evidence.mean, scale=sem) if sem > 0 else (evidence.mean,) * 2
    assert evidence.interval(level) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=3)
@given(n=st.integers(2, 6), d=st.integers(1, 3), seed=st.integers(0, 99), method=st.sampled_from(["pca", "tsne"]))
def test_embed_2d_draws_few_points_and_pca_keeps_distances_in_two_dimensions(n, d, seed, method):
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    points = plot.embed_2d(x, method, seed)
    assert points.shape == (n, 2) and np.isfinite(points).all()
    if method == "pca" and d <= 2:
        assert np.allclose(torch.cdist(x, x).numpy(), np.linalg.norm(points[:, None] - points[None], axis=-1))
    assert (plot.embed_2d(x[:1].expand(n, d), method, seed) == 0).all()  # points that coincide: no crash


@settings(max_examples=1)
@given(steps=st.integers(1, 6))
def test_training_curves_draw_the_terms_asked_for_and_an_empty_history(steps):
    history = History(list(range(steps)), {"a": [float(i) for i in range(steps)], "b": [0.5] * steps}, [steps - 1], {"test": [0.9]})
    figure = plot.training_curves(history, terms=["b"])
    assert [(line.get_label(), list(line.get_ydata())) for line in figure.axes[0].get_lines()] == [("b", history.terms["b"])]
    assert [list(line.get_ydata()) for line in figure.axes[1].get_lines()] == [[0.9]]
    assert not plot.training_curves(History()).axes[0].get_lines()  # nothing logged yet: empty panels, no warning


@settings(max_examples=1)
@given(st.just(None))
def test_the_book_style_sizes_figures_for_the_column(_):
    plt.rcParams["figure.figsize"] = (20, 20)
    plot.use_book_style()
    assert all(plt.rcParams[key] == (list(value) if isinstance(value, tuple) else value) for key, value in plot.BOOK_STYLE.items())


PROPERTIES = {
    "files.load": test_what_save_writes_load_returns_and_a_damaged_file_is_named,
    "files.save": test_a_failed_save_keeps_the_earlier_file_and_leaves_no_half_file,
    "files.digest": test_the_digest_tells_apart_what_load_would_return_differently,
    "claims.greater": test_greater_and_less_hold_exactly_when_the_t_statistic_clears_scipys_quantile,
    "claims.less": test_greater_and_less_hold_exactly_when_the_t_statistic_clears_scipys_quantile,
    "claims.equivalent": test_an_equivalence_holds_exactly_when_scipys_interval_lies_inside_the_margin,
    "claims.above": test_a_bound_holds_exactly_when_every_seed_clears_it,
    "claims.below": test_a_bound_holds_exactly_when_every_seed_clears_it,
    "claims.paired": test_runs_are_paired_by_seed_whatever_their_order_and_a_missing_seed_is_named,
    "claims.SeedValues": test_runs_are_paired_by_seed_whatever_their_order_and_a_missing_seed_is_named,
    "claims.t_quantile": test_t_quantile_is_scipys_and_finite_even_for_tiny_levels,
    "claims.Evidence": test_the_evidence_interval_is_scipys_t_interval,
    "plot.embed_2d": test_embed_2d_draws_few_points_and_pca_keeps_distances_in_two_dimensions,
    "plot.training_curves": test_training_curves_draw_the_terms_asked_for_and_an_empty_history,
    "plot.use_book_style": test_the_book_style_sizes_figures_for_the_column,
}
