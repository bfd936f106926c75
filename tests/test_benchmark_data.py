"""The standard digit benchmarks, tested without a network on small files fabricated in each real format:
MNIST's IDX files, USPS's bz2 (libsvm lines), SVHN's .mat and MNIST-M's folder of PNGs."""
import bz2
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


def _svhn(folder):
    from scipy.io import savemat

    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train_32x32.mat", 30), ("test_32x32.mat", 20)):
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


def _trust_fabricated_checksums(monkeypatch, name, folder):
    spec = benchmarks.BENCHMARKS[name]
    fabricated = {file: _md5(folder / file) for file in spec.checksums}
    monkeypatch.setitem(benchmarks.BENCHMARKS, name, dataclasses.replace(spec, checksums=fabricated))
    return fabricated


@pytest.mark.parametrize("name, make, size", [("mnist", _mnist, 28), ("usps", _usps, 28), ("svhn", _svhn, 32),
                                              ("mnist-m", _mnist_m, 28)])
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


def test_mnist_m_is_placed_by_hand_and_says_how():
    with pytest.raises(DatasetUnavailable, match=r"mnist-m is not available: found no copy\. To use it offline, place mnist_m/"):
        load_domain("mnist-m")


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
