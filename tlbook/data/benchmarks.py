"""The standard digit benchmarks of domain adaptation, for readers who are online: MNIST, USPS and SVHN
through torchvision (its download addresses and checksums); MNIST-M built by the published recipe from
MNIST and the BSDS500 photographs (or read from a copy of the published archive you place); SynDigits
from a copy you place.

Files live in ``<TLBOOK_DATA>/downloads/<dataset>/``. A download goes to a temporary folder that is moved
into place only once the data in it loaded, so an interruption never leaves half a dataset behind.
Offline (or when no host answers within ``TIMEOUT`` seconds) a loader stops at once with
``DatasetUnavailable``, naming what it tried to fetch and where to put the files by hand; a file whose
checksum does not match stops with ``DatasetCorrupt``. The arrays then go through the book's domain
cache (``tlbook.data.load_domain``) like every generated domain.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tarfile
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F

from .. import _checks, files
from .cache import cache_dir
from .photo_blend import published_mnist_m

__all__ = ["BENCHMARKS", "BSDS500", "DatasetCorrupt", "DatasetUnavailable", "TIMEOUT", "downloads", "fetch",
           "mnist_m_layout", "raw"]

TIMEOUT = 5.0  # seconds to wait for a host before calling the data unavailable
MAX_SIZE = 256  # pixels: the largest image side ``fetch`` resizes to

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test; x uint8


class DatasetUnavailable(OSError):
    """The files are not here and could not be fetched (offline, or the host did not answer)."""


class DatasetCorrupt(DatasetUnavailable):
    """A file is present but its checksum is not the published one."""


@dataclass(frozen=True)
class Benchmark:
    """How to read a dataset from its folder, and (when it can be fetched) how to download it there."""

    read: Callable[[Path], Arrays]
    urls: tuple[str, ...]  # what a download fetches (empty: place the files by hand)
    checksums: dict[str, str]  # file name (relative to the folder) -> md5 published by torchvision
    by_hand: str  # the files to place in the folder (or a text naming {folder} and {downloads} itself)
    download: Callable[[Path], None] | None = None
    local: Callable[[], bool] | None = None  # True when ``download`` can make the data from files already here


def _torchvision():
    import torchvision.datasets as datasets  # imported on use: the book itself does not need torchvision's data

    return datasets


def _read_mnist(folder: Path, download: bool = False) -> Arrays:
    sets = [_torchvision().MNIST(folder, train=train, download=download) for train in (True, False)]
    return sets[0].data.numpy(), sets[0].targets.numpy(), sets[1].data.numpy(), sets[1].targets.numpy()


def _read_usps(folder: Path, download: bool = False) -> Arrays:
    sets = [_torchvision().USPS(folder, train=train, download=download) for train in (True, False)]
    return sets[0].data, np.asarray(sets[0].targets), sets[1].data, np.asarray(sets[1].targets)


def _read_svhn(folder: Path, download: bool = False) -> Arrays:
    sets = [_torchvision().SVHN(folder, split=split, download=download) for split in ("train", "test")]
    return sets[0].data, sets[0].labels, sets[1].data, sets[1].labels


def _read_syndigits(folder: Path) -> Arrays:
    """SynDigits (Ganin & Lempitsky, ICML 2015): about 500,000 rendered digits the authors distribute
    (no stable address, so it is placed by hand), in SVHN's .mat layout."""
    from scipy.io import loadmat

    arrays = []
    for split in ("train", "test"):
        path = folder / f"synth_{split}_32x32.mat"
        if not path.exists():
            raise FileNotFoundError(f"missing: {path}")
        mat = loadmat(path)
        arrays += [np.ascontiguousarray(mat["X"].transpose(3, 2, 0, 1)), mat["y"].astype(np.int64).reshape(-1) % 10]
    return tuple(arrays)


def mnist_m_layout(folder: str | os.PathLike) -> dict[str, Path]:
    """The files of the MNIST-M archive as it is usually distributed (``mnist_m.tar.gz``, Ganin et al.):
    ``mnist_m_train/``, ``mnist_m_test/`` and the two label lists (``00000000.png 5`` per line)."""
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"mnist_m_layout: folder must be a path (a str or a Path), got {type(folder).__name__} {folder!r}")
    if not str(folder):
        raise ValueError("mnist_m_layout: folder must name a folder, got an empty string")
    folder = Path(folder)
    return {name: folder / "mnist_m" / name for name in
            ("mnist_m_train", "mnist_m_test", "mnist_m_train_labels.txt", "mnist_m_test_labels.txt")}


@dataclass(frozen=True)
class _Archive:
    url: str
    name: str
    size: int  # bytes; no checksum is published for it, so the size is what is checked


#: The Berkeley Segmentation Dataset (Arbeláez et al., TPAMI 2011): MNIST-M's photographs.
BSDS500 = _Archive("http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz",
                   "BSR_bsds500.tgz", 70_763_455)
BSDS500_TRAIN = "BSR/BSDS500/data/images/train/"  # the 200 training photographs, 481×321 or 321×481


def _archive(archive: _Archive, folder: Path) -> Path:
    """``folder/archive.name``, downloaded first if absent (to a temporary name, renamed once whole); its size is checked."""
    path = folder / archive.name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
        try:
            with urllib.request.urlopen(archive.url, timeout=60) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    if path.stat().st_size != archive.size:
        raise DatasetCorrupt(f"{path} has {path.stat().st_size:,} bytes, not the {archive.size:,} of {archive.url}: it is "
                             "damaged or another version. Delete it to download it again, or place the right file there")
    return path


def bsds500_train_photos() -> list[np.ndarray]:
    """BSDS500's 200 training photographs as ``H×W×3`` uint8 arrays, read from the archive in
    ``<TLBOOK_DATA>/downloads/bsds500/`` (downloaded there first when it is absent)."""
    from PIL import Image

    photos = []
    with tarfile.open(_archive(BSDS500, downloads("bsds500"))) as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            if member.name.startswith(BSDS500_TRAIN) and member.name.endswith(".jpg"):
                photos.append(np.asarray(Image.open(archive.extractfile(member)).convert("RGB")))
    if not photos:
        raise DatasetCorrupt(f"{downloads('bsds500') / BSDS500.name} holds no {BSDS500_TRAIN}*.jpg")
    return photos


def _build_mnist_m(folder: Path) -> None:
    """MNIST-M by the published recipe (``photo_blend.published_mnist_m``), from MNIST and BSDS500's
    training photographs: the train digits with seed 0, the test digits with seed 1."""
    x_train, y_train, x_test, y_test = raw("mnist")
    photos = bsds500_train_photos()
    content = {"recipe": "published_mnist_m: |window - 255*[digit > 0]|, 28x28 windows of BSDS500 train photos",
               "x_train": torch.from_numpy(published_mnist_m(x_train, photos, seed=0)), "y_train": torch.as_tensor(y_train),
               "x_test": torch.from_numpy(published_mnist_m(x_test, photos, seed=1)), "y_test": torch.as_tensor(y_test)}
    folder.mkdir(parents=True, exist_ok=True)
    files.save(content, folder / "recipe.pt", "mnist-m")


def _read_mnist_m(folder: Path) -> Arrays:
    from PIL import Image

    if (folder / "recipe.pt").exists():
        built = files.load(folder / "recipe.pt", "mnist-m")
        return tuple(built[key].numpy() for key in ("x_train", "y_train", "x_test", "y_test"))
    layout = mnist_m_layout(folder)
    missing = [str(path) for path in layout.values() if not path.exists()]
    if missing:
        raise FileNotFoundError(f"missing: {', '.join(missing)}")
    arrays = []
    for split in ("train", "test"):
        lines = [line.split() for line in layout[f"mnist_m_{split}_labels.txt"].read_text().splitlines() if line.strip()]
        images = [np.asarray(Image.open(layout[f"mnist_m_{split}"] / name).convert("RGB")) for name, _ in lines]
        arrays += [np.stack(images).transpose(0, 3, 1, 2), np.array([int(label) for _, label in lines])]
    return tuple(arrays)


BENCHMARKS: dict[str, Benchmark] = {
    "mnist": Benchmark(_read_mnist, ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
                       {}, "MNIST/raw/ (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                       "t10k-labels-idx1-ubyte; unpacked from the .gz files)", lambda f: _read_mnist(f, download=True)),
    "usps": Benchmark(_read_usps, ("https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2",
                                   "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2"),
                      {"usps.bz2": "ec16c51db3855ca6c91edd34d0e9b197", "usps.t.bz2": "8ea070ee2aca1ac39742fdd1ef5ed118"},
                      "usps.bz2 and usps.t.bz2", lambda f: _read_usps(f, download=True)),
    "svhn": Benchmark(_read_svhn, ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
                                   "http://ufldl.stanford.edu/housenumbers/test_32x32.mat"),
                      {"train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373", "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3"},
                      "train_32x32.mat and test_32x32.mat", lambda f: _read_svhn(f, download=True)),
    "mnist-m": Benchmark(_read_mnist_m, (BSDS500.url, "https://ossci-datasets.s3.amazonaws.com/mnist/"), {},
                         "mnist_m/ as unpacked from mnist_m.tar.gz (mnist_m_train/, mnist_m_test/, mnist_m_train_labels.txt, "
                         "mnist_m_test_labels.txt) in {folder}; or, to build it by the published recipe, " + BSDS500.name +
                         " in {downloads}/bsds500/ and MNIST in {downloads}/mnist/MNIST/raw/", _build_mnist_m,
                         local=lambda: (downloads("bsds500") / BSDS500.name).exists() and downloads("mnist").exists()),
    "syndigits": Benchmark(_read_syndigits, (), {}, "synth_train_32x32.mat and synth_test_32x32.mat (arrays X, 32×32×3×N, "
                           "and y, as SVHN's)"),
}


def downloads(name: str) -> Path:
    """The folder of dataset ``name``: ``<TLBOOK_DATA>/downloads/<name>``."""
    if not isinstance(name, str):
        raise TypeError(f"downloads: name must be a dataset's folder name (a str), got {type(name).__name__} {name!r}")
    if not name.strip() or name in (".", "..") or any(sep in name for sep in "/\\\0"):
        raise ValueError(f"downloads: name must be one folder's name such as 'mnist' (no path), got {name!r}")
    return cache_dir() / "downloads" / name


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_checksums(name: str, folder: Path, checksums: dict[str, str]) -> None:
    for file, expected in checksums.items():
        path = folder / file
        found = _md5(path) if path.exists() else expected
        if found != expected:
            raise DatasetCorrupt(f"{name}: {path} has md5 {found}, not the published {expected}: it is damaged or "
                                 "another version. Delete it to download it again, or place the right file there")


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=TIMEOUT).close()
        return True
    except OSError:
        return False


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """A download that stalls raises instead of hanging (urllib waits forever by default)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _unavailable(name: str, folder: Path, why: str) -> DatasetUnavailable:
    by_hand = BENCHMARKS[name].by_hand
    by_hand = by_hand.format(folder=folder, downloads=folder.parent) if "{folder}" in by_hand else f"{by_hand} in {folder}"
    return DatasetUnavailable(f"{name} is not available: {why}. To use it offline, place {by_hand} "
                              "(or set TLBOOK_DATA to a folder that has downloads/" + name + "/)")


def _benchmark(name: object, where: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{where}: name must be a benchmark's name (a str), got {type(name).__name__} {name!r}")
    if name not in BENCHMARKS:
        raise ValueError(f"{where}: unknown benchmark name {name!r}; known: {', '.join(BENCHMARKS)}")


def fetch(name: str, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dataset ``name``'s train and test images as floats ``N×3×size×size`` in [0, 1], and labels: read from
    its folder, downloaded there first when the folder does not exist and the dataset can be fetched."""
    _benchmark(name, "fetch")
    size = _checks.integer(size, "size", "fetch")
    if size > MAX_SIZE:
        raise ValueError(f"fetch: size must be at most {MAX_SIZE} pixels, got {size}")
    x_train, y_train, x_test, y_test = raw(name)
    return (_images(x_train, size), torch.as_tensor(y_train, dtype=torch.int64),
            _images(x_test, size), torch.as_tensor(y_test, dtype=torch.int64))


def raw(name: str) -> Arrays:
    """Dataset ``name`` as it is stored: uint8 images and labels, train and test (see ``fetch``)."""
    _benchmark(name, "raw")
    spec, folder = BENCHMARKS[name], downloads(name)
    if folder.exists():
        _check_checksums(name, folder, spec.checksums)
        try:
            arrays = spec.read(folder)
        except (FileNotFoundError, RuntimeError) as missing:
            raise _unavailable(name, folder, f"found {folder} incomplete ({missing}); complete it, or remove it to "
                                             "download again") from None
    elif spec.download is None:
        raise _unavailable(name, folder, "found no copy")
    elif not (spec.local and spec.local()) and not any(_reachable(url) for url in spec.urls):
        raise _unavailable(name, folder, f"tried to fetch {', '.join(spec.urls)} but no host answered within "
                                         f"{TIMEOUT:g} s (offline?)")
    else:
        arrays = _download(name, folder)
    return arrays


def _download(name: str, folder: Path) -> Arrays:
    """Download into a temporary folder; move it into place only once its files check and load."""
    spec = BENCHMARKS[name]
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with _socket_timeout(60.0):
            spec.download(partial)
        _check_checksums(name, partial, spec.checksums)
        arrays = spec.read(partial)
    except DatasetUnavailable:  # a corrupt file, or what the data are built from is missing: the message says which
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except Exception as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise _unavailable(name, folder, f"tried to fetch {', '.join(spec.urls)} and the download failed "
                                         f"({type(error).__name__}: {error})") from None
    partial.replace(folder)
    return arrays


def _images(x: np.ndarray, size: int) -> torch.Tensor:
    """``N×H×W`` or ``N×C×H×W`` bytes -> ``N×3×size×size`` floats in [0, 1] (grey repeated over three channels)."""
    x = torch.as_tensor(np.ascontiguousarray(x))
    if x.dtype != torch.uint8 or x.ndim not in (3, 4):
        raise ValueError(f"expected N×H×W or N×C×H×W uint8 images, got {x.dtype} {tuple(x.shape)}")
    x = (x.unsqueeze(1) if x.ndim == 3 else x).float() / 255
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x.expand(-1, 3, -1, -1).contiguous()
