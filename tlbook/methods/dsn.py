r"""Domain Separation Networks (Bousmalis, Trigeorgis, Silberman, Krishnan & Erhan, NIPS 2016).

Each image is explained by a **shared** code :math:`h_c = E_c(x)`, which the task classifier reads
and which should look the same in both domains, plus a **private** code :math:`h_p = E_p^{s}(x)` or
:math:`E_p^{t}(x)` (one encoder per domain) that absorbs what is specific to its domain. One shared
decoder rebuilds the image from both, :math:`\hat x = D(h_c + h_p)`:

.. math::

    \mathcal{L} = \mathcal{L}_{task} + \alpha\,\mathcal{L}_{recon} + \beta\,\mathcal{L}_{difference}
    + \gamma\,\mathcal{L}_{similarity}

- :math:`\mathcal{L}_{recon}`: scale-invariant MSE of :math:`\hat x` for both domains;
- :math:`\mathcal{L}_{difference}`: soft orthogonality of shared and private codes, per domain, so
  the private code cannot simply copy the shared one;
- :math:`\mathcal{L}_{similarity}`: DANN's domain loss through a gradient reversal, or a discrepancy
  such as MMD, on the shared codes.

Without the reconstruction, a shared encoder that must fool a domain classifier may discard target
information; with it, what is removed from the shared code has to go into the private one.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .. import _checks
from ..losses import difference_loss, scale_invariant_mse
from ..nn import Classifier, CodeEncoder, DomainAdversarialLoss, DomainDiscriminator, SharedDecoder
from ..schedules import dann_lambda
from .base import Batch, Method, _image_shape, _weights, _widths

__all__ = ["DSN"]


class DSN(Method):
    """DSN on the shared loop. ``classifier`` must have a bottleneck: its output is the shared code.

    - ``image_shape``: (channels, height, width) of the domains, to size the private encoders and decoder.
    - ``recon_weight`` α = 0.1, ``difference_weight`` β = 0.05, ``similarity_weight`` γ = 0.25: inside the
      paper's ranges (α 0.01–0.15, β 0.05–0.075, γ 0.25–0.3).
    - ``similarity``: ``None`` for the paper's adversarial similarity (gradient reversal into a domain
      classifier, the reversal coefficient ramped like DANN's over the adaptation phase), or a discrepancy
      ``f(h_s, h_t) -> loss`` on the shared codes, as ``Discrepancy`` takes one (``tlbook.losses.mk_mmd``
      for the paper's MMD variant).
    - ``reconstruction``: the reconstruction loss ``f(rebuilt, images)``; the paper's scale-invariant MSE
      by default (``torch.nn.functional.mse_loss`` for the plain one).
    - ``warmup``: fraction of training in which the features learn from the task loss alone (the paper
      switches the adaptation losses on after a source-only phase): reconstruction, difference and a discrepancy
      similarity are multiplied by 0 until then; with the adversarial similarity the domain classifier already
      learns, but the reversal passes no gradient to the features (its coefficient is 0).

    Logged: ``classification``, ``reconstruction``, ``difference``, ``similarity`` and, with the adversarial
    similarity, ``domain accuracy``. ``decode(x, domain)`` returns the full, shared-only and
    private-only reconstructions for the book's figures.
    """

    def __init__(self, classifier: Classifier, image_shape: tuple[int, int, int], *, recon_weight: float = 0.1,
                 difference_weight: float = 0.05, similarity_weight: float = 0.25,
                 similarity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 warmup: float = 0.1, private_widths: tuple[int, int] = (8, 16),
                 reconstruction: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = scale_invariant_mse):
        super().__init__(classifier)
        if "bottleneck" not in getattr(classifier, "layer_names", ()):
            raise ValueError("DSN reads the shared code from the classifier's bottleneck: build the classifier "
                             "(a tlbook.nn.Classifier) with bottleneck=...")
        channels, size, _ = _image_shape(image_shape, "DSN")
        if size % 4:
            raise ValueError("DSN: image_shape must have a size divisible by 4 (the decoder upsamples twice), "
                             f"got {tuple(image_shape)}")
        if similarity is not None and not callable(similarity):
            raise TypeError("DSN: similarity must be None (the adversarial similarity) or a function f(h_s, h_t) -> loss "
                            f"such as tlbook.losses.mk_mmd, got {similarity!r}")
        if not callable(reconstruction):
            raise TypeError("DSN: reconstruction must be a function f(rebuilt, images) -> loss, "
                            f"got {_checks._got(reconstruction)}")
        _weights("DSN", recon_weight=recon_weight, difference_weight=difference_weight, similarity_weight=similarity_weight)
        if _checks.number(warmup, "warmup", "DSN", low=0.0) >= 1.0:
            raise ValueError(f"DSN: warmup must lie in [0, 1), got {warmup}")
        _widths(private_widths, "private_widths", "DSN", length=2)
        code = classifier.feature_dim
        self.private_source = CodeEncoder(channels, size, code, private_widths)
        self.private_target = CodeEncoder(channels, size, code, private_widths)
        self.decoder = SharedDecoder(code, channels, size)
        self.adversary = DomainAdversarialLoss(DomainDiscriminator(code, (100,))) if similarity is None else None
        self.reconstruction = reconstruction
        self.recon_weight, self.difference_weight, self.similarity_weight = recon_weight, difference_weight, similarity_weight
        self.similarity, self.warmup = similarity, warmup

    def shared_code(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(x)

    def private_code(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        if domain not in ("source", "target"):
            raise ValueError(f"domain must be 'source' or 'target', got {domain!r}")
        return (self.private_source if domain == "source" else self.private_target)(x)

    def loss(self, source: Batch, target: Batch, progress: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        (xs, ys), (xt, _) = source, target
        if xt is None:
            raise ValueError("DSN needs target batches: pass a target domain to fit")
        n = len(xs)
        shared = self.shared_code(torch.cat([xs, xt]))
        hs, ht = shared[:n], shared[n:]
        ps, pt = self.private_source(xs), self.private_target(xt)
        classification = F.cross_entropy(self.classifier.head(hs), ys)
        reconstruction = self.reconstruction(self.decoder(hs + ps), xs) + self.reconstruction(self.decoder(ht + pt), xt)
        difference = difference_loss(hs, ps) + difference_loss(ht, pt)
        terms = {"classification": classification.detach(), "reconstruction": reconstruction.detach(),
                 "difference": difference.detach()}
        on = 1.0 if progress >= self.warmup else 0.0
        if self.similarity is None:
            # the domain classifier always learns; the features feel it only once the reversal is on
            coefficient = dann_lambda((progress - self.warmup) / (1 - self.warmup)) if on else 0.0
            similarity, terms["domain accuracy"] = self.adversary(hs, ht, coefficient)
            similarity_weight = self.similarity_weight
        else:
            similarity = self.similarity(hs, ht)
            similarity_weight = on * self.similarity_weight
        terms["similarity"] = similarity.detach()
        adaptation = self.recon_weight * reconstruction + self.difference_weight * difference
        total = classification + on * adaptation + similarity_weight * similarity
        return total, terms

    @torch.no_grad()
    def decode(self, x: torch.Tensor, domain: str) -> dict[str, torch.Tensor]:
        """Reconstructions of ``x`` from ``domain``: ``full`` = D(h_c + h_p), ``shared`` = D(h_c),
        ``private`` = D(h_p) (in eval mode)."""
        from ..metrics import eval_mode

        with eval_mode(self):
            shared, private = self.shared_code(x), self.private_code(x, domain)
            return {"full": self.decoder(shared + private), "shared": self.decoder(shared), "private": self.decoder(private)}
