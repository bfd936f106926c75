r"""Self-taught learning: learn features from **unlabelled** images, then use them for a labelled task.

Raina et al. (ICML 2007) learn a representation from plentiful unlabelled data that need not
come from the target's classes or distribution, then train a classifier on it with few labels.
Here the unsupervised objective is a convolutional **denoising autoencoder**: the encoder is the
book's digit backbone, the decoder mirrors it with transposed convolutions, and the loss is

.. math::

    \mathcal{L} = \frac{1}{N}\sum_i \lVert g(f(\tilde x_i)) - x_i \rVert_2^2,
    \qquad \tilde x_i = x_i + \sigma \varepsilon_i ,

so the encoder ``f`` must capture the structure of the images, not copy their pixels.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from .._utils import SeededNoise, seed_everything
from ..data import Domain
from ..methods.base import Batch, Method
from ..nn import DigitCNN
from ..train import fit
from .pretrained import cached_model

__all__ = ["ConvAutoencoder", "Denoising", "pretrain_autoencoder"]


class ConvAutoencoder(nn.Module):
    """``encoder`` (a ``DigitCNN``) → transposed convolutions back to the image (sigmoid output)."""

    def __init__(self, encoder: DigitCNN):
        super().__init__()
        convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
        if not isinstance(encoder, DigitCNN) or len(convs) != 2:
            raise ValueError("ConvAutoencoder expects a tlbook.nn.DigitCNN encoder")
        channels = convs[-1].out_channels
        self.side = int(round((encoder.out_features / channels) ** 0.5))
        self.encoder, self.channels = encoder, channels
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(channels, convs[0].out_channels, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(convs[0].out_channels, encoder.in_channels, 4, stride=2, padding=1), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.encoder(x).view(len(x), self.channels, self.side, self.side)
        return self.decoder(code)


class Denoising(Method):
    """The denoising objective above as a method for ``fit``: unlabelled batches, ``x + σε`` in,
    ``x`` out (the noise generator is part of what ``fit`` checkpoints). Logged: ``reconstruction``."""

    uses_source_labels = False

    def __init__(self, autoencoder: ConvAutoencoder, noise: float = 0.3, seed: int = 0):
        super().__init__(autoencoder)
        if noise < 0:
            raise ValueError(f"noise must be non-negative, got {noise}")
        self.noise_level, self.noise = noise, SeededNoise(seed)

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, _ = source
        reconstruction = F.mse_loss(self.classifier(x + self.noise_level * self.noise.like(x)), x)
        return reconstruction, {"reconstruction": reconstruction.detach()}


def pretrain_autoencoder(images: torch.Tensor, encoder: DigitCNN, tag: str, *, steps: int = 1500,
                         batch_size: int = 64, lr: float = 1e-3, noise: float = 0.3, seed: int = 0,
                         cache: bool = True, progress_bar: bool = True) -> ConvAutoencoder:
    """Train a denoising ``ConvAutoencoder`` around ``encoder`` on ``images`` (no labels); cached by ``tag``."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"expected a non-empty batch of images (N, C, H, W), got {tuple(images.shape)}")
    seed_everything(seed)
    model = ConvAutoencoder(encoder).to(images.device)

    def train() -> None:
        fit(Denoising(model, noise, seed), Domain.unlabelled("unlabelled images", images), steps=steps,
            batch_size=batch_size, optimizer="adam", lr=lr, seed=seed, eval_sets={}, progress_bar=progress_bar)

    return cached_model(model, "autoencoder", tag, images, train, cache, steps=steps, bs=batch_size, lr=lr,
                        noise=noise, seed=seed)
