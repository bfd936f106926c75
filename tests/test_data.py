import pytest
import torch

from tlbook.data import DOMAINS, PAIRS, Domain, cache_dir, labelled_subset, load_domain, load_pair
from tlbook.data import registry

from tlbook.data.benchmarks import BENCHMARKS

IMAGE_DOMAINS = [name for name, spec in DOMAINS.items() if spec.family == "digits" and name not in BENCHMARKS]  # generated here


@pytest.mark.parametrize("name", IMAGE_DOMAINS)
def test_image_domains_share_shape_range_and_labels(name):
    d = load_domain(name)
    assert d.input_shape == (3, 16, 16)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    for x in (d.x_train, d.x_test):
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert x.std() > 0.05, "images should not be blank"
    assert d.num_classes == 10
    assert set(d.y_train.tolist()) == set(range(10)) == set(d.y_test.tolist())


def test_toy_domains_are_points():
    d = load_domain("moons-rotated")
    assert d.input_shape == (2,) and d.num_classes == 2
    s = load_domain("moons")
    # The rotation is a shift: the moons' elongated spread turns, so the covariance changes.
    assert abs(torch.cov(s.x_train.T)[0, 1] - torch.cov(d.x_train.T)[0, 1]) > 0.1


@pytest.mark.parametrize("name", ["synth", "handwritten-m", "moons"])
def test_same_seed_same_tensors_other_seed_other_tensors(name, data_dir):
    a, b = load_domain(name, seed=3, cache=False), load_domain(name, seed=3, cache=False)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    c = load_domain(name, seed=4, cache=False)
    assert not torch.equal(a.x_train, c.x_train)


def _rows(x):
    return {tuple(row.tolist()) for row in x.flatten(1)}


@pytest.mark.parametrize("name", ["synth", "synth-m", "handwritten", "handwritten-m", "moons"])
def test_train_and_test_are_disjoint(name):
    d = load_domain(name)
    assert not _rows(d.x_train) & _rows(d.x_test)


def test_handwritten_split_is_fixed_and_balanced():
    a, b = load_domain("handwritten", seed=0), load_domain("handwritten-m", seed=5)
    assert torch.equal(a.y_test, b.y_test), "the plain and -M variants share one split"
    assert torch.bincount(a.y_test).tolist() == [60] * 10
    assert len(a.x_train) + len(a.x_test) == 1797


def test_m_variant_blends_the_same_digits_with_photos():
    plain, blended = load_domain("handwritten"), load_domain("handwritten-m")
    assert torch.equal(plain.y_train, blended.y_train)
    # Colour appears: the three channels of a blended image differ, the grey ones do not.
    assert torch.equal(plain.x_train[:, 0], plain.x_train[:, 1])
    assert (blended.x_train[:, 0] - blended.x_train[:, 1]).abs().mean() > 0.02


def test_cache_is_written_then_reused(data_dir, monkeypatch):
    first = load_domain("handwritten-m", seed=1)
    files = list(data_dir.glob("handwritten-m-seed1-*.pt"))
    assert cache_dir() == data_dir and len(files) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("the cached file should have been read")

    monkeypatch.setattr(registry, "_generate", no_generation)
    second = load_domain("handwritten-m", seed=1)
    assert torch.equal(first.x_train, second.x_train) and torch.equal(first.y_test, second.y_test)


def test_fresh_and_cached_loads_are_identical(data_dir):
    fresh = load_domain("synth", seed=2, cache=False)
    load_domain("synth", seed=2)  # writes the cache
    cached = load_domain("synth", seed=2)
    assert torch.equal(fresh.x_train, cached.x_train)


def test_image_size_applies_to_the_family():
    source, target = load_pair("synth->handwritten", image_size=20, cache=False)
    assert source.input_shape == target.input_shape == (3, 20, 20)


def test_device_argument_places_tensors():
    d = load_domain("moons", device="cpu")
    assert d.device.type == "cpu" and d.to("cpu").y_test.device.type == "cpu"


def test_unknown_domain_lists_the_known_ones():
    with pytest.raises(ValueError, match="known domains: synth, synth-m, handwritten"):
        load_domain("mnist-x")


def test_unknown_pair_and_cross_family_pair():
    with pytest.raises(ValueError, match="synth->handwritten"):
        load_pair("synth to handwritten")
    with pytest.raises(ValueError, match="different families"):
        load_pair("synth->moons")
    assert set(PAIRS) >= {"synth->handwritten", "handwritten->handwritten-m"}


def test_bad_image_size_is_rejected():
    with pytest.raises(ValueError, match="between 8 and 64"):
        load_domain("synth", image_size=4)
    with pytest.raises(ValueError, match="2-D points"):
        load_domain("moons", image_size=16)


def test_empty_domain_is_rejected():
    empty = torch.empty(0, 3, 16, 16)
    with pytest.raises(ValueError, match="empty train split"):
        Domain("void", "digits", empty, torch.empty(0, dtype=torch.int64), empty, torch.empty(0, dtype=torch.int64), 10)


def test_domain_rejects_bad_labels_and_mismatched_counts():
    x = torch.rand(4, 2)
    with pytest.raises(TypeError, match="y_train must be class indices"):
        Domain("d", "toy", x, torch.zeros(4), x, torch.zeros(4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="4 train inputs but 3 labels"):
        Domain("d", "toy", x, torch.zeros(3, dtype=torch.int64), x, torch.zeros(4, dtype=torch.int64), 2)


def test_labelled_subset_has_k_per_class_from_train():
    d = load_domain("handwritten")
    x, y = labelled_subset(d, per_class=3, seed=1)
    assert torch.bincount(y).tolist() == [3] * 10
    assert _rows(x) <= _rows(d.x_train)
    x2, _ = labelled_subset(d, per_class=3, seed=1)
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="only"):
        labelled_subset(d, per_class=1000)


def test_stroke_contrast_says_which_blends_inverted_the_stroke():
    from tlbook.data import stroke_contrast

    digit = torch.zeros(2, 1, 8, 8)
    digit[:, :, 2:6, 3:5] = 1.0
    dark_photo, bright_photo = torch.full((1, 3, 8, 8), 0.1), torch.full((1, 3, 8, 8), 0.9)
    blended = (torch.cat([dark_photo, bright_photo]) - digit).abs()
    contrast = stroke_contrast(digit.expand(-1, 3, -1, -1), blended)
    assert torch.allclose(contrast, torch.tensor([0.8, -0.8]))
    with pytest.raises(ValueError, match="same images"):
        stroke_contrast(digit, blended[:1])


def test_the_cache_is_keyed_on_the_generators_code(data_dir, monkeypatch):
    from tlbook._code import python_files

    covered = python_files(registry.DATA_CODE, exclude=registry.NOT_DATA_CODE)
    assert {"data/synthetic_digits.py", "data/handwritten.py", "data/photo_blend.py", "files.py"} <= set(covered)
    before = registry.cache_path("synth", 0, 16)
    monkeypatch.setattr(registry, "data_code_digest", lambda: "f" * 64)  # the generators' code changed
    after = registry.cache_path("synth", 0, 16)
    assert before != after and after.parent == before.parent and "codeffffffffffff" in after.name
