"""The standard digit benchmarks, tested without a network on small files fabricated in each real format:
MNIST's IDX files, USPS's bz2 (libsvm lines), SVHN's and SynDigits' .mat, MNIST-M's folder of PNGs, and a
BSDS500 archive (a .tgz of JPEGs) from which MNIST-M is built by the published recipe."""
import bz2
import io
import tarfile
import dataclasses
import hashlib
import socket
import struct
import time

import numpy as np
import pytest
import torch

import tlbook.data.benchmarks as benchmarks
from tlbook.benchmark.__main__ import main
from tlbook.data import DatasetCorrupt, DatasetUnavailable, load_domain, load_pair

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """A fresh data folder, and no network at all: every connection fails as it does offline."""
    monkeypatch.setenv("TLBOOK_DATA", str(tmp_path))

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable (test)")
    monkeypatch.setattr(socket, "create_connection", refuse)
    return tmp_path


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _idx(path, array):
    """An IDX file (magic 0x0000 08 ndim, big-endian sizes, then the bytes), as MNIST ships them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
                     + array.astype(np.uint8).tobytes())


def _mnist(folder, n_train=30, n_test=20):
    raw = folder / "MNIST" / "raw"
    for split, n in (("train", n_train), ("t10k", n_test)):
        _idx(raw / f"{split}-images-idx3-ubyte", RNG.integers(0, 256, (n, 28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)


def _usps(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("usps.bz2", 30), ("usps.t.bz2", 20)):
        lines = [f"{i % 10 + 1} " + " ".join(f"{j + 1}:{v:.4f}" for j, v in enumerate(RNG.uniform(-1, 1, 256)))
                 for i in range(n)]
        (folder / name).write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))


def _svhn(folder, prefix=""):
    from scipy.io import savemat

    folder.mkdir(parents=True, exist_ok=True)
    for name, n in ((f"{prefix}train_32x32.mat", 30), (f"{prefix}test_32x32.mat", 20)):
        savemat(folder / name, {"X": RNG.integers(0, 256, (32, 32, 3, n)).astype(np.uint8),
                                "y": (np.arange(n) % 10 + 1).reshape(-1, 1)})  # SVHN labels the digit 0 as 10


def _mnist_m(folder):
    from PIL import Image

    layout = benchmarks.mnist_m_layout(folder)
    for split, n in (("train", 30), ("test", 20)):
        images = layout[f"mnist_m_{split}"]
        images.mkdir(parents=True)
        names = [f"{i:08d}.png" for i in range(n)]
        for name in names:
            Image.fromarray(RNG.integers(0, 256, (28, 28, 3)).astype(np.uint8)).save(images / name)
        layout[f"mnist_m_{split}_labels.txt"].write_text("".join(f"{name} {i % 10}\n" for i, name in enumerate(names)))


def _syndigits(folder):
    _svhn(folder, prefix="synth_")


def _bsds500(monkeypatch, photos=3):
    """A BSDS500-like archive: JPEGs under BSR/BSDS500/data/images/train/ (and one test photo, not used);
    the size the loader checks is set to the fabricated archive's."""
    from PIL import Image

    folder = benchmarks.downloads("bsds500")
    folder.mkdir(parents=True)
    path = folder / benchmarks.BSDS500.name
    with tarfile.open(path, "w:gz") as archive:
        for i, split in enumerate(["train"] * photos + ["test"]):
            data = io.BytesIO()
            Image.fromarray(RNG.integers(0, 256, (36, 40, 3)).astype(np.uint8)).save(data, "JPEG")
            info = tarfile.TarInfo(f"BSR/BSDS500/data/images/{split}/{i}.jpg")
            info.size = len(data.getvalue())
            archive.addfile(info, io.BytesIO(data.getvalue()))
    monkeypatch.setattr(benchmarks, "BSDS500", dataclasses.replace(benchmarks.BSDS500, size=path.stat().st_size))
    return path


def _trust_fabricated_checksums(monkeypatch, name, folder):
    spec = benchmarks.BENCHMARKS[name]
    fabricated = {file: _md5(folder / file) for file in spec.checksums}
    monkeypatch.setitem(benchmarks.BENCHMARKS, name, dataclasses.replace(spec, checksums=fabricated))
    return fabricated


@pytest.mark.parametrize("name, make, size", [("mnist", _mnist, 28), ("usps", _usps, 28), ("svhn", _svhn, 32),
                                              ("mnist-m", _mnist_m, 28), ("syndigits", _syndigits, 32)])
def test_each_format_loads_as_a_domain(name, make, size, offline, monkeypatch):
    make(benchmarks.downloads(name))
    if name in ("usps", "svhn"):
        fabricated = _trust_fabricated_checksums(monkeypatch, name, benchmarks.downloads(name))
        if name == "svhn":  # torchvision checks SVHN's md5 itself too
            import torchvision.datasets as datasets
            table = {split: [url, file, fabricated.get(file, md5)] for split, (url, file, md5) in datasets.SVHN.split_list.items()}
            monkeypatch.setattr(datasets.SVHN, "split_list", table)
    domain = load_domain(name)
    assert domain.x_train.shape == (30, 3, size, size) and domain.x_test.shape == (20, 3, size, size)
    assert domain.x_train.dtype == torch.float32 and 0 <= domain.x_train.min() and domain.x_train.max() <= 1
    assert set(domain.y_train.tolist()) == set(range(10)) and domain.num_classes == 10 and domain.family == "digits"
    assert load_domain(name, image_size=16).x_test.shape == (20, 3, 16, 16)
    cached = load_domain(name)  # the second load reads the domain cache, bit for bit
    assert torch.equal(cached.x_train, domain.x_train) and torch.equal(cached.y_test, domain.y_test)


def test_svhn_zero_is_label_zero_and_grey_digits_fill_three_channels(monkeypatch):
    _mnist(benchmarks.downloads("mnist"))
    x, y, _, _ = benchmarks.fetch("mnist", 28)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]) and y[:3].tolist() == [0, 1, 2]
    _svhn(benchmarks.downloads("svhn"))
    _trust_fabricated_checksums(monkeypatch, "svhn", benchmarks.downloads("svhn"))
    import torchvision.datasets as datasets
    monkeypatch.setattr(datasets.SVHN, "split_list", {s: [u, f, _md5(benchmarks.downloads("svhn") / f)]
                                                      for s, (u, f, _) in datasets.SVHN.split_list.items() if s != "extra"})
    _, y, _, _ = benchmarks.fetch("svhn", 32)
    assert y.min() == 0 and y.max() == 9 and y[:10].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]


def test_a_file_with_the_wrong_checksum_is_named_and_never_read():
    _usps(benchmarks.downloads("usps"))  # fabricated: not the published file
    with pytest.raises(DatasetCorrupt, match=r"usps\.bz2 has md5 \w+, not the published ec16c51db3855ca6c91edd34d0e9b197"):
        load_domain("usps")


def test_offline_a_loader_fails_within_seconds_naming_what_it_fetched_and_where_files_go(offline):
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as error:
        load_pair("mnist->mnist-m")
    message = str(error.value)
    assert time.perf_counter() - start < 5
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message and "(offline?)" in message
    assert str(offline / "downloads" / "mnist") in message and "train-images-idx3-ubyte" in message
    assert not (offline / "downloads").exists() or not any((offline / "downloads").iterdir()), "nothing half-written"


def test_mnist_m_offline_names_the_photographs_and_both_ways_to_place_it(offline):
    with pytest.raises(DatasetUnavailable) as error:
        load_domain("mnist-m")
    message = str(error.value)
    assert message.startswith(f"mnist-m is not available: tried to fetch {benchmarks.BSDS500.url}")
    assert f"place mnist_m/ as unpacked from mnist_m.tar.gz" in message
    assert f"BSR_bsds500.tgz in {offline / 'downloads' / 'bsds500'}" in message


def test_syndigits_is_placed_by_hand_and_says_how():
    with pytest.raises(DatasetUnavailable, match=r"syndigits is not available: found no copy\. To use it offline, "
                                                 r"place synth_train_32x32\.mat"):
        load_domain("syndigits")


def test_the_published_recipe_inverts_the_photo_under_the_stroke():
    from tlbook.data.photo_blend import published_mnist_m

    digits = np.zeros((2, 4, 4), np.uint8)
    digits[:, 1:3, 2] = [[40, 255], [1, 0]]  # any ink above 0 counts as stroke
    photo = np.empty((6, 7, 3), np.uint8)
    photo[:] = (10, 200, 30)
    out = published_mnist_m(digits, [photo], seed=0)
    assert out.shape == (2, 3, 4, 4) and out.dtype == np.uint8
    assert out[0, :, 1, 2].tolist() == [245, 55, 225] and out[0, :, 2, 2].tolist() == [245, 55, 225]
    assert out[1, :, 1, 2].tolist() == [245, 55, 225] and out[1, :, 2, 2].tolist() == [10, 200, 30]
    assert out[0, :, 0, 0].tolist() == [10, 200, 30]  # the background is the photograph itself
    with pytest.raises(ValueError, match="at least 4×4"):
        published_mnist_m(digits, [photo[:3]], seed=0)


def test_mnist_m_is_built_from_mnist_and_bsds500_offline_once_both_are_here(monkeypatch):
    _mnist(benchmarks.downloads("mnist"))
    _bsds500(monkeypatch)
    domain = load_domain("mnist-m")
    mnist = load_domain("mnist")
    assert domain.x_train.shape == (30, 3, 28, 28) and torch.equal(domain.y_train, mnist.y_train)
    assert not torch.equal(domain.x_train[:, 0], domain.x_train[:, 1]), "the photographs bring colour"
    built = benchmarks.raw("mnist-m")[0]
    digits = benchmarks.raw("mnist")[0]
    stroke = np.broadcast_to((digits > 0)[:, None], built.shape)
    assert built[stroke].mean() != built[~stroke].mean()
    assert (benchmarks.downloads("mnist-m") / "recipe.pt").exists()


def test_a_bsds500_archive_of_another_size_is_named_and_nothing_is_built(monkeypatch):
    _mnist(benchmarks.downloads("mnist"))
    path = _bsds500(monkeypatch)
    monkeypatch.setattr(benchmarks, "BSDS500", dataclasses.replace(benchmarks.BSDS500, size=70_763_455))
    with pytest.raises(DatasetCorrupt, match=rf"{path} has [\d,]+ bytes, not the 70,763,455 of http://www\.eecs"):
        load_domain("mnist-m")
    assert not benchmarks.downloads("mnist-m").exists()


def test_an_incomplete_folder_is_reported_not_overwritten():
    folder = benchmarks.downloads("mnist")
    _mnist(folder)
    (folder / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetUnavailable, match="incomplete"):
        load_domain("mnist")
    assert (folder / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_a_download_lands_whole_or_not_at_all(monkeypatch):
    monkeypatch.setattr(benchmarks, "_reachable", lambda url: True)
    spec = benchmarks.BENCHMARKS["mnist"]

    def broken(folder):
        _mnist(folder)
        (folder / "MNIST" / "raw" / "t10k-images-idx3-ubyte").write_bytes(b"cut short")
        raise ConnectionResetError("the connection dropped")
    monkeypatch.setitem(benchmarks.BENCHMARKS, "mnist", dataclasses.replace(spec, download=broken))
    with pytest.raises(DatasetUnavailable, match=r"mnist is not available: tried to fetch https://\S+ .* and the download failed .*ConnectionResetError"):
        load_domain("mnist")
    assert not benchmarks.downloads("mnist").exists() and not list(benchmarks.downloads("mnist").parent.glob("mnist.partial-*"))

    monkeypatch.setitem(benchmarks.BENCHMARKS, "mnist", dataclasses.replace(spec, download=_mnist))
    assert load_domain("mnist").x_train.shape == (30, 3, 28, 28)
    assert (benchmarks.downloads("mnist") / "MNIST" / "raw").is_dir()


def test_pairs_of_different_sizes_load_at_the_larger_one(monkeypatch):
    _mnist(benchmarks.downloads("mnist"))
    _svhn(benchmarks.downloads("svhn"))
    _trust_fabricated_checksums(monkeypatch, "svhn", benchmarks.downloads("svhn"))
    import torchvision.datasets as datasets
    monkeypatch.setattr(datasets.SVHN, "split_list", {s: [u, f, _md5(benchmarks.downloads("svhn") / f)]
                                                      for s, (u, f, _) in datasets.SVHN.split_list.items() if s != "extra"})
    source, target = load_pair("svhn->mnist")
    assert source.input_shape == target.input_shape == (3, 32, 32)


def test_the_benchmark_command_offline_ends_at_once_with_the_message(offline, capsys):
    start = time.perf_counter()
    assert main(["--pairs", "mnist->mnist-m", "--methods", "source-only", "--out", str(offline / "results")]) == 2
    assert time.perf_counter() - start < 5
    assert "mnist is not available" in capsys.readouterr().err
    assert not (offline / "results" / "cells.csv").exists()


def test_a_real_pair_trains_a_benchmark_cell_at_its_size():
    from tlbook.benchmark import run_cell

    _mnist(benchmarks.downloads("mnist"))
    _mnist_m(benchmarks.downloads("mnist-m"))
    cell = run_cell("dann", "mnist->mnist-m", 0, steps=2, batch_size=8)
    assert cell.pair == "mnist->mnist-m" and 0 <= cell.target_test <= 1


def _office(domain, per_class=1, skip=()):
    """An Office-like folder tree: one folder of JPEGs per published class (``skip``: classes left out)."""
    from PIL import Image
    from tlbook.data.office import OFFICE_DOMAINS

    dataset, inside, classes, _ = OFFICE_DOMAINS[domain]
    for cls in classes:
        if cls in skip:
            continue
        folder = benchmarks.downloads(dataset) / inside / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(RNG.integers(0, 256, (30, 40, 3)).astype(np.uint8)).save(folder / f"frame_{i:04d}.jpg")


def test_an_office_domain_loads_from_its_folder_tree_with_the_published_classes():
    from tlbook.data.office import OFFICE31_CLASSES

    _office("amazon", per_class=2)
    with pytest.warns(UserWarning, match="amazon: 62 images in .*, the published archive has 2817"):
        domain = load_domain("amazon", image_size=32)
    assert domain.x_train.shape == (62, 3, 32, 32) and domain.family == "office" and domain.num_classes == 31
    assert domain.y_train.tolist() == [c for c in range(31) for _ in range(2)]  # the published order
    assert domain.x_test is domain.x_train, "the protocol scores the target images it trains on: one tensor"
    assert len(OFFICE31_CLASSES) == 31 and OFFICE31_CLASSES[0] == "back_pack"
    with pytest.raises(ValueError, match="between 8 and 256 pixels"):
        load_domain("amazon", image_size=300)


def test_office_home_real_world_is_found_under_either_spelling_and_inside_the_archive_folder():
    from PIL import Image
    from tlbook.data.office import OFFICE_HOME_CLASSES

    root = benchmarks.downloads("office-home") / "OfficeHomeDataset_10072016" / "Real_World"
    for cls in OFFICE_HOME_CLASSES:
        (root / cls).mkdir(parents=True)
        Image.fromarray(RNG.integers(0, 256, (20, 24, 3)).astype(np.uint8)).save(root / cls / "00001.jpg")
    with pytest.warns(UserWarning, match="65 images"):
        domain = load_domain("real-world", image_size=16)
    assert domain.num_classes == 65 and len(OFFICE_HOME_CLASSES) == 65 and domain.x_train.shape == (65, 3, 16, 16)


def test_an_office_folder_without_a_class_is_refused_naming_it():
    _office("webcam", skip=("mug",))
    with pytest.raises(ValueError, match=r"31 published classes; missing: mug; not expected: none"):
        load_domain("webcam", image_size=32)


def test_office_offline_says_where_to_unpack_which_archive(offline):
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailable, match=r"art is not available: found no .*office-home/Art\. It cannot be "
                                                 r"downloaded here .* unpack OfficeHomeDataset_10072016\.zip into"):
        load_pair("art->clipart")
    assert time.perf_counter() - start < 5


def test_an_office_pair_trains_a_cell_with_the_resnet50_recipe(monkeypatch, tmp_path):
    import tlbook.finetune
    from tlbook.benchmark import RECIPES, run_cell

    from tlbook.data import DOMAINS

    for domain in ("amazon", "webcam"):
        _office(domain)
        monkeypatch.setitem(DOMAINS, domain, dataclasses.replace(DOMAINS[domain], default_size=32))  # 224 is slow here
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no weights a reader downloaded before
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="could not download the resnet50 weights .* needs a network"), \
            pytest.warns(UserWarning, match="published archive"):
        run_cell("dann", "amazon->webcam", 0, steps=1, batch_size=4)  # offline: the ImageNet weights are missing
    assert time.perf_counter() - start < 10
    real = tlbook.finetune.torchvision_backbone
    monkeypatch.setattr(tlbook.finetune, "torchvision_backbone", lambda arch: real(arch, weights=None))
    cell = run_cell("dann", "amazon->webcam", 0, steps=2, batch_size=4)  # the domains come from the cache now
    assert cell.pair == "amazon->webcam" and 0 <= cell.target_test <= 1
    assert RECIPES["amazon->webcam"]["optimizer"] == "sgd"
    with pytest.raises(ValueError, match="pixelda generates or reconstructs whole images"):
        run_cell("pixelda", "amazon->webcam", 0, steps=1, batch_size=4)
