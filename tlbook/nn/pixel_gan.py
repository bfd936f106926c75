"""PixelDA's two networks: a generator from a source image plus noise to a target-looking
image, and a discriminator that tells real target images from generated ones."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from . import _args

__all__ = ["ImageDiscriminator", "PixelGenerator"]


class _Residual(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class PixelGenerator(nn.Module):
    """G(x, z): an image of the same size, in [0, 1] (Bousmalis et al., CVPR 2017, §3, scaled down).

    The noise vector ``z`` (``noise_dim``, uniform in [−1, 1] in the paper) is mapped by a linear
    layer to one extra input channel; then a 3×3 convolution, ``blocks`` residual blocks (conv-BN-
    ReLU-conv-BN) at full resolution, and a 3×3 convolution to ``out_channels`` with a sigmoid.
    Full resolution throughout: the generator changes the look of pixels, not the layout.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, image_size: int = 16, noise_dim: int = 10,
                 width: int = 32, blocks: int = 2):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("image_size", image_size),
                            ("noise_dim", noise_dim), ("width", width)):
            _checks.integer(value, name, "PixelGenerator")
        _checks.integer(blocks, "blocks", "PixelGenerator", minimum=0)
        self.noise_dim, self.image_size, self.in_channels = noise_dim, image_size, in_channels
        self.noise = nn.Linear(noise_dim, image_size * image_size)
        self.net = nn.Sequential(nn.Conv2d(in_channels + 1, width, 3, padding=1), nn.ReLU(inplace=True),
                                 *[_Residual(width) for _ in range(blocks)],
                                 nn.Conv2d(width, out_channels, 3, padding=1), nn.Sigmoid())

    def sample_noise(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """``n`` noise vectors, uniform in [−1, 1]."""
        return (torch.rand(n, self.noise_dim, generator=generator) * 2 - 1).to(device)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError(f"PixelGenerator expects (N, {self.in_channels}, {self.image_size}, {self.image_size}) images, "
                             f"got {tuple(x.shape)}")
        if z is None:
            z = self.sample_noise(len(x), device=x.device)
        if z.shape != (len(x), self.noise_dim):
            raise ValueError(f"noise must be ({len(x)}, {self.noise_dim}), got {tuple(z.shape)}")
        noise_map = self.noise(z.to(x.dtype)).view(len(x), 1, self.image_size, self.image_size)
        return self.net(torch.cat([x, noise_map], dim=1))


class ImageDiscriminator(nn.Module):
    """Real target image vs generated: strided 3×3 convolutions with leaky ReLUs → one logit.

    As in PixelDA, Gaussian noise (std ``input_noise``) is added to its input and dropout
    to its features during training, so it cannot win too quickly.
    """

    def __init__(self, in_channels: int = 3, image_size: int = 16, widths: tuple[int, ...] = (32, 64),
                 input_noise: float = 0.1, dropout: float = 0.1):
        super().__init__()
        where = "ImageDiscriminator"
        _checks.integer(in_channels, "in_channels", where)
        _checks.integer(image_size, "image_size", where)
        _args.widths(widths, "widths", where)
        _checks.number(input_noise, "input_noise", where, low=0.0)
        _args.probability(dropout, "dropout", where)
        layers: list[nn.Module] = []
        channels, side = in_channels, image_size
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout)]
            channels, side = width, (side + 1) // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(channels * side * side, 1)
        self.input_noise = input_noise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.input_noise > 0:
            x = x + self.input_noise * torch.randn_like(x)
        return self.head(self.features(x)).squeeze(1)
