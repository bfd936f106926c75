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
from tqdm import tqdm

from .._utils import seed_everything
from ..data import BatchSampler
from ..nn import DigitCNN
from .pretrained import cached_model

__all__ = ["ConvAutoencoder", "pretrain_autoencoder"]


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


def pretrain_autoencoder(images: torch.Tensor, encoder: DigitCNN, tag: str, *, steps: int = 1500,
                         batch_size: int = 64, lr: float = 1e-3, noise: float = 0.3, seed: int = 0,
                         cache: bool = True, progress_bar: bool = True) -> ConvAutoencoder:
    """Train a denoising ``ConvAutoencoder`` around ``encoder`` on ``images`` (no labels); cached by ``tag``."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"expected a non-empty batch of images (N, C, H, W), got {tuple(images.shape)}")
    seed_everything(seed)
    model = ConvAutoencoder(encoder).to(images.device)

    def train() -> None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        sampler = BatchSampler(images, None, batch_size, seed=seed)
        generator = torch.Generator(images.device).manual_seed(seed)
        for _ in tqdm(range(steps), desc="autoencoder", disable=not progress_bar, mininterval=1.0):
            x, _ = next(sampler)
            noisy = x + noise * torch.randn(x.shape, generator=generator, device=x.device)
            loss = F.mse_loss(model(noisy), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return cached_model(model, "autoencoder", tag, images, train, cache, steps=steps, bs=batch_size, lr=lr,
                        noise=noise, seed=seed)
