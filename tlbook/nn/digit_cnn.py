"""The digit feature extractor of the DANN paper, with an optional batch-norm variant."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from . import _args

__all__ = ["DigitCNN"]


class DigitCNN(nn.Module):
    """conv 5×5×32 → ReLU → max-pool 2 → conv 5×5×48 → ReLU → max-pool 2 → flatten.

    The feature extractor Ganin et al. (JMLR 2016, §5.2) used for MNIST → MNIST-M.
    On 28×28 inputs without padding it gives 48·4·4 = 768 features. The book's
    images are 16×16, so the convolutions pad by 2 by default, which again ends
    on a 4×4 map and 768 features. ``batch_norm=True`` adds batch normalisation
    after each convolution (the variant most modern reimplementations use).
    ``widths`` changes the channel counts (e.g. ``(16, 32)`` for a faster CPU run).
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 16,
        *,
        widths: tuple[int, int] = (32, 48),
        batch_norm: bool = False,
        padding: int = 2,
    ):
        super().__init__()
        where = "DigitCNN"
        _checks.integer(in_channels, "in_channels", where)
        _checks.integer(image_size, "image_size", where)
        _args.widths(widths, "widths", where)
        _args.flag(batch_norm, "batch_norm", where)
        _checks.integer(padding, "padding", where, minimum=0)
        layers: list[nn.Module] = []
        channels = in_channels
        side = image_size
        for width in widths:
            layers.append(nn.Conv2d(channels, width, kernel_size=5, padding=padding))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels, side = width, (side + 2 * padding - 4) // 2
        if side < 1:
            raise ValueError(f"DigitCNN: image_size {image_size} is too small for two 5×5 convolutions with padding {padding}")
        self.layers = nn.Sequential(*layers, nn.Flatten())
        self.in_channels, self.image_size = in_channels, image_size
        self.out_features = channels * side * side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError(
                f"DigitCNN expects images of shape (N, {self.in_channels}, {self.image_size}, "
                f"{self.image_size}), got {tuple(x.shape)}"
            )
        if x.device.type == "cpu":
            # The same function in channels-last memory: PyTorch's CPU max-pooling is several times
            # faster in that layout, and a training step of this network about 20% faster.
            x = x.contiguous(memory_format=torch.channels_last)
        return self.layers(x)
