r"""Pixel-level adaptation with a GAN: PixelDA (Bousmalis, Silberman, Dohan, Erhan & Krishnan, CVPR 2017).

A generator :math:`G(x^s, z)` renders a source image as if it came from the target domain; a
discriminator :math:`D` tells real target images from rendered ones; the task classifier
:math:`T` learns from source images *and* their renderings, with the source labels:

.. math::

    \min_{G, T}\max_D\; \alpha\,\mathcal{L}_d(D, G) + \beta\,\mathcal{L}_t(G, T) + \gamma\,\mathcal{L}_c(G)

:math:`\mathcal{L}_d`: the GAN loss; :math:`\mathcal{L}_t`: cross-entropy of :math:`T` on
:math:`x^s` and :math:`G(x^s, z)`; :math:`\mathcal{L}_c`: content similarity, the masked
pairwise MSE between the source foreground and its rendering (so :math:`G` may recolour a
digit but not redraw it). Adaptation happens in pixel space: :math:`T` never needs aligned
features, and the renderings can be looked at.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .. import _checks, files
from ..losses import domain_accuracy, scale_invariant_mse
from ..metrics import eval_mode
from ..nn import Classifier, ImageDiscriminator, PixelGenerator
from .base import Batch, Method, _image_shape, _weights

__all__ = ["PixelDA"]


class PixelDA(Method):
    """PixelDA on the shared loop: three optimisers (D, G, T), updated in that order each step.

    - ``generator``/``discriminator``: ``PixelGenerator``/``ImageDiscriminator`` sized from
      ``image_shape`` (channels, height, width) when not given.
    - ``adversarial_weight`` α = 0.1356 and ``task_weight`` (the task loss that reaches G) =
      0.0101: the official MNIST → MNIST-M settings; ``content_weight`` γ on the masked PMSE.
    - ``foreground``: source pixels brighter than this (mean over channels) form the content mask.

    Logged: ``D`` (discriminator loss), ``D accuracy`` (real vs generated), ``G adversarial``,
    ``content``, ``task`` (T on source + generated). Forward = the task classifier ``T``.
    """

    def __init__(self, classifier: Classifier, image_shape: tuple[int, int, int], *, generator: PixelGenerator | None = None,
                 discriminator: ImageDiscriminator | None = None, adversarial_weight: float = 0.1356,
                 task_weight: float = 0.0101, content_weight: float = 0.1, foreground: float = 0.25, noise_dim: int = 10):
        super().__init__(classifier)
        channels, height, width = _image_shape(image_shape, "PixelDA")  # its networks expect square images
        for name, network in (("generator", generator), ("discriminator", discriminator)):
            if network is not None:
                _checks.module(network, name, "PixelDA")
        _weights("PixelDA", adversarial_weight=adversarial_weight, task_weight=task_weight, content_weight=content_weight)
        _checks.number(foreground, "foreground", "PixelDA")
        _checks.integer(noise_dim, "noise_dim", "PixelDA")
        self.generator = generator if generator is not None else PixelGenerator(channels, channels, height, noise_dim)
        self.discriminator = discriminator if discriminator is not None else ImageDiscriminator(channels, height)
        self.adversarial_weight, self.task_weight, self.content_weight = adversarial_weight, task_weight, content_weight
        self.foreground = foreground
        self.snapshots: list[tuple[int, torch.Tensor]] = []

    def configure_optimizers(self, make):
        return [make(self.discriminator.parameters()), make(self.generator.parameters()), make(self.classifier.parameters())]

    def content_mask(self, x: torch.Tensor) -> torch.Tensor:
        """1 where the source image shows the digit (mean over channels above ``foreground``)."""
        return (x.mean(1, keepdim=True) > self.foreground).to(x.dtype)

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's loss (real target images are 1, renderings 0) and its accuracy."""
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        loss = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        return loss, domain_accuracy(fake_logits, real_logits)  # generated = domain 0, real target = 1

    def generator_loss(self, fake: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss: fool D (non-saturating), keep the source's content (masked PMSE), stay classifiable."""
        fooled = self.discriminator(fake)
        adversarial = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        content = scale_invariant_mse(fake, xs, self.content_mask(xs))
        task_on_fake = F.cross_entropy(self.classifier(fake), ys)
        loss = self.adversarial_weight * adversarial + self.content_weight * content + self.task_weight * task_on_fake
        return loss, {"G adversarial": adversarial.detach(), "content": content.detach()}

    def task_loss(self, xs: torch.Tensor, fake: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """T's loss: the source labels, on the source images and on their renderings."""
        return 0.5 * (F.cross_entropy(self.classifier(xs), ys) + F.cross_entropy(self.classifier(fake), ys))

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The three players' losses at the current parameters, summed (the logged ``loss``). Training
        does not minimise this sum: ``training_step`` updates D, then G against the updated D, then T."""
        played = list(self._rounds(source, target))
        return sum(loss for loss, _ in played), {k: v for _, terms in played for k, v in terms.items()}

    def training_step(self, source: Batch, target: Batch, progress: float, optimizers) -> dict[str, torch.Tensor]:
        total, terms = 0.0, {}
        for optimizer, (loss, logged) in zip(optimizers, self._rounds(source, target)):  # D, G, T
            optimizer.zero_grad(set_to_none=True)  # T's also drops what G's task term left on it
            loss.backward()
            optimizer.step()  # before the next player's loss is computed: G plays against the updated D
            total, terms = total + loss.detach(), {**terms, **logged}
        return {"loss": total, **terms}

    def _rounds(self, source: Batch, target: Batch):
        """D's loss, then G's, then T's, each with its logged terms. A generator: the next player's loss is
        computed only when asked for, after ``training_step`` has updated the previous player."""
        (xs, ys), (xt, _) = source, target
        if xt is None:
            raise ValueError("PixelDA needs target images: pass a target domain to fit")
        with self.mixed_precision():
            fake = self.generator(xs)
            d_loss, d_accuracy = self.discriminator_loss(xt, fake.detach())
        yield d_loss, {"D": d_loss.detach(), "D accuracy": d_accuracy}
        with self.mixed_precision():
            g_loss, g_terms = self.generator_loss(fake, xs, ys)
        yield g_loss, g_terms
        with self.mixed_precision():
            task = self.task_loss(xs, fake.detach(), ys)
        yield task, {"task": task.detach()}

    def render(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``G(x, z)`` in eval mode, detached: what the generator makes of ``x``."""
        with eval_mode(self.generator):
            return self.generator(x, z).detach()

    def snapshot(self, step: int, x: torch.Tensor, every: int, seed: int = 0, folder: str | Path | None = None) -> None:
        """Every ``every`` steps, render the fixed images ``x`` with fixed noise (drawn from ``seed``)
        into ``self.snapshots`` (and ``folder/step_XXXXX.pt`` when given), so a notebook can show how
        the renderings evolve, collapse or oscillate. Call it from ``fit``'s callback."""
        if every <= 0:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        if step % every:
            return
        z = self.generator.sample_noise(len(x), torch.Generator().manual_seed(seed), x.device)
        rendered = self.render(x, z).cpu()
        self.snapshots.append((step, rendered))
        if folder is not None:
            files.save(rendered, Path(folder) / f"step_{step:05d}.pt", "rendering")

    def snapshot_callback(self, x: torch.Tensor, every: int, folder: str | Path | None = None,
                          seed: int = 0) -> Callable[[int, Method, object], None]:
        """``snapshot`` as a ``fit`` callback for this method."""
        return lambda step, method, history: self.snapshot(step, x, every, seed, folder)
