"""Tiny 8×8 image domains for behavioural tests of pixel- and reconstruction-level methods."""
import torch

from tlbook.data import Domain


def shapes(n: int, seed: int, look: str = "plain", noise: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Four classes (horizontal bar, vertical bar, diagonal, hollow square) at random places.

    ``look``: ``"plain"`` bright shapes on black; ``"inverted"`` dark shapes on a bright, tinted
    background (a pixel-level shift); ``"tinted"`` dimmer shapes under a strong colour cast and noise.
    ``noise``: the uniform pixel noise of the plain and inverted looks.
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.zeros(n, 1, 8, 8)
    for i, c in enumerate(y.tolist()):
        r, s = torch.randint(1, 5, (2,), generator=g).tolist()
        if c == 0:
            x[i, 0, r + 1, s - 1 : s + 3] = 1
        elif c == 1:
            x[i, 0, r - 1 : r + 3, s + 1] = 1
        elif c == 2:
            for k in range(4):
                x[i, 0, r - 1 + k, s - 1 + k] = 1
        else:
            x[i, 0, r - 1 : r + 3, s - 1 : s + 3] = 1
            x[i, 0, r : r + 2, s : s + 2] = 0
    x = x.expand(-1, 3, -1, -1).clone()
    if look == "inverted":
        x = (1 - x) * (0.7 + 0.3 * torch.rand(n, 3, 1, 1, generator=g)) + noise * torch.rand(x.shape, generator=g)
    elif look == "tinted":
        x = 0.5 * x + 0.6 * torch.rand(n, 3, 1, 1, generator=g) + 0.15 * torch.rand(x.shape, generator=g)
    elif look == "plain":
        x = x + noise * torch.rand(x.shape, generator=g)
    else:
        raise ValueError(f"unknown look {look!r}")
    return x.clamp(0, 1), y


def shape_domain(name: str, look: str, seed: int, noise: float = 0.05) -> Domain:
    return Domain(name, "shapes", *shapes(400, seed, look, noise), *shapes(400, seed + 50, look, noise), 4)
