"""The encoders and the shared decoder of Domain Separation Networks, sized for small digit images."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from .digit_cnn import DigitCNN

__all__ = ["CodeEncoder", "SharedDecoder"]


class CodeEncoder(nn.Module):
    """Image → code: a small ``DigitCNN`` and a linear layer with ReLU to ``code_dim``.

    DSN uses one per domain as the **private** encoder (the shared encoder is the
    classifier's backbone + bottleneck)."""

    def __init__(self, in_channels: int = 3, image_size: int = 16, code_dim: int = 64, widths: tuple[int, int] = (8, 16)):
        super().__init__()
        _checks.integer(code_dim, "code_dim", "CodeEncoder")
        cnn = DigitCNN(in_channels, image_size, widths=widths)
        self.net = nn.Sequential(cnn, nn.Linear(cnn.out_features, code_dim), nn.ReLU(inplace=True))
        self.code_dim = code_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SharedDecoder(nn.Module):
    """Code → image in [0, 1]: a linear layer to a ``width``×(s/4)×(s/4) map, then two
    (nearest ×2 upsampling → 3×3 convolution → ReLU) stages and a 3×3 convolution with a sigmoid."""

    def __init__(self, code_dim: int = 64, out_channels: int = 3, image_size: int = 16, width: int = 16):
        super().__init__()
        where = "SharedDecoder"
        for name, value in (("code_dim", code_dim), ("out_channels", out_channels), ("image_size", image_size)):
            _checks.integer(value, name, where)
        if image_size % 4:
            raise ValueError(f"{where}: image_size must be divisible by 4, got {image_size}")
        _checks.integer(width, "width", where, minimum=2)  # the last stage has width // 2 channels
        self.side, self.width = image_size // 4, width
        self.project = nn.Sequential(nn.Linear(code_dim, width * self.side * self.side), nn.ReLU(inplace=True))
        self.net = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2), nn.Conv2d(width, width // 2, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width // 2, out_channels, 3, padding=1), nn.Sigmoid(),
        )
        self.code_dim = code_dim

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        if code.ndim != 2 or code.shape[1] != self.code_dim:
            raise ValueError(f"SharedDecoder expects codes of shape (N, {self.code_dim}), got {tuple(code.shape)}")
        return self.net(self.project(code).view(len(code), self.width, self.side, self.side))
