"""What several test files build the same way: two-class blob domains, a short ``fit``, and the list of the
package's method classes."""
import inspect

import torch

import tlbook
from tlbook.data import Domain


def blobs(n: int, seed: int, scale: float, offset: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes told apart by dimension 0; a domain multiplies seven nuisance dimensions by ``scale`` and
    adds ``offset`` to them (scale 1, offset 0: the clean source)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 8, generator=g)
    x[:, 0] += 2.0 * (2 * y - 1)
    x[:, 1:] = x[:, 1:] * scale + offset
    return x, y


def blob_domain(name: str, scale: float, offset: float, seed: int) -> Domain:
    """400 training and 400 test examples of ``blobs`` (the test split drawn with ``seed + 100``)."""
    return Domain(name, "toy", *blobs(400, seed, scale, offset), *blobs(400, seed + 100, scale, offset), 2)


def quick_fit(method, source, target, **options) -> tlbook.History:
    """``fit`` for tests: 30 steps of 32 at learning rate 0.05, seed 0, no progress bar, unless ``options`` say otherwise."""
    defaults = dict(steps=30, batch_size=32, lr=0.05, progress_bar=False, seed=0)
    return tlbook.fit(method, source, target, **{**defaults, **options})


def method_classes() -> set[type]:
    """Every concrete ``Method`` subclass the package defines (in ``tlbook.methods``, ``finetune`` and ``zsl``)."""
    import tlbook.finetune, tlbook.methods, tlbook.zsl  # noqa: F401  (every package that defines methods)
    from tlbook.methods import Method

    found, todo = set(), [Method]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("tlbook.") and not inspect.isabstract(sub):
                found.add(sub)
    return found
