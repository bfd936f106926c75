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

from .. import _checks
from .._utils import SeededNoise, seed_everything
from ..data import Domain
from ..methods.base import Batch, Method
from ..nn import DigitCNN
from ..train import fit
from . import _args
from .pretrained import cached_model

__all__ = ["ConvAutoencoder", "Denoising", "pretrain_autoencoder"]


def _check_encoder(encoder: object, where: str) -> list[nn.Conv2d]:
    """A ``DigitCNN`` of two convolutions whose feature map the decoder (two ×2 upsamplings) brings back to
    the image size: the side of its map times 4 must be its ``image_size``. Returns its convolutions."""
    if not isinstance(encoder, DigitCNN):
        raise TypeError(f"{where}: encoder must be a tlbook.nn.DigitCNN, got {_checks._got(encoder)}")
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        raise ValueError(f"{where}: encoder must be a DigitCNN of two convolutions (widths of length 2), got {len(convs)}")
    side = (encoder.out_features / convs[-1].out_channels) ** 0.5
    if 4 * side != encoder.image_size:
        raise ValueError(f"{where}: encoder must map its {encoder.image_size}×{encoder.image_size} images to a "
                         f"{encoder.image_size / 4:g}×{encoder.image_size / 4:g} map (the decoder upsamples it twice "
                         f"by 2), got {side:g}×{side:g}: use padding=2 and an image size divisible by 4")
    return convs


def _check_noise(noise: object, where: str) -> float:
    """The noise's standard deviation, relative to pixels in [0, 1]: in [0, 1) (1 or more drowns the image)."""
    _checks.number(noise, "noise", where, low=0.0, high=1.0)
    if noise == 1:
        raise ValueError(f"{where}: noise must lie in [0, 1) (a standard deviation for pixels in [0, 1]), got 1")
    return noise


class ConvAutoencoder(nn.Module):
    """``encoder`` (a ``DigitCNN``) → transposed convolutions back to the image (sigmoid output)."""

    def __init__(self, encoder: DigitCNN):
        super().__init__()
        convs = _check_encoder(encoder, "ConvAutoencoder")
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
        _checks.module(autoencoder, "autoencoder", "Denoising")
        _check_noise(noise, "Denoising")
        _checks.integer(seed, "seed", "Denoising", minimum=None)
        super().__init__(autoencoder)
        self.noise_level, self.noise = noise, SeededNoise(seed)

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, _ = source
        reconstruction = F.mse_loss(self.classifier(x + self.noise_level * self.noise.like(x)), x)
        return reconstruction, {"reconstruction": reconstruction.detach()}


def pretrain_autoencoder(images: torch.Tensor, encoder: DigitCNN, tag: str, *, steps: int = 1500,
                         batch_size: int = 64, lr: float = 1e-3, noise: float = 0.3, seed: int = 0,
                         cache: bool = True, progress_bar: bool = True) -> ConvAutoencoder:
    """Train a denoising ``ConvAutoencoder`` around ``encoder`` on ``images`` (no labels); cached by ``tag``."""
    where = "pretrain_autoencoder"
    _checks.tensor(images, "images", where, ndim=4, min_rows=1, what="a batch of images (N, C, H, W)")
    _check_encoder(encoder, where)
    expected = (encoder.in_channels, encoder.image_size, encoder.image_size)
    if tuple(images.shape[1:]) != expected:
        raise ValueError(f"{where}: images must be of shape (N, {', '.join(map(str, expected))}), as the encoder "
                         f"reads, got {tuple(images.shape)}")
    _args.file_part(tag, "tag", where)
    _args.training(where, steps, batch_size, lr, seed)
    _check_noise(noise, where)
    _args.flag(cache, "cache", where)
    _args.flag(progress_bar, "progress_bar", where)
    seed_everything(seed)
    model = ConvAutoencoder(encoder).to(images.device)

    def train() -> None:
        fit(Denoising(model, noise, seed), Domain.unlabelled("unlabelled images", images), steps=steps,
            batch_size=batch_size, optimizer="adam", lr=lr, seed=seed, eval_sets={}, progress_bar=progress_bar)

    return cached_model(model, "autoencoder", tag, images, train, cache, steps=steps, bs=batch_size, lr=lr,
                        noise=noise, seed=seed)
