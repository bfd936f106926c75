r"""Losses of adversarial adaptation: domain classification, domain confusion and soft labels.

Domain logits come either as one logit per example, shape ``(N,)`` (binary: the
probability of "target" is :math:`\sigma(z)`), or as ``(N, D)`` logits over ``D`` domains.
Every loss takes logits, never probabilities, so it stays exact under mixed precision.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _checks
from ._checks import at_least_float32

__all__ = ["class_soft_labels", "domain_accuracy", "domain_classification", "domain_confusion", "soft_label_loss"]


def _check_logits(logits: torch.Tensor, name: str, argument: str = "logits") -> None:
    _checks.tensor(logits, argument, name, ndim=(1, 2), min_rows=1, what="(N,) binary or (N, D) domain logits")


def _check_domain_pair(source_logits: torch.Tensor, target_logits: torch.Tensor, name: str) -> None:
    _check_logits(source_logits, name, "source_logits")
    _check_logits(target_logits, name, "target_logits")
    if source_logits.shape[1:] != target_logits.shape[1:]:
        raise ValueError(f"{name}: source_logits {tuple(source_logits.shape)} and target_logits "
                         f"{tuple(target_logits.shape)} disagree on the number of domains")


def _check_class_logits(logits: torch.Tensor, labels: torch.Tensor, temperature: float, name: str) -> None:
    _checks.tensor(logits, "logits", name, ndim=2, min_rows=1, what="class logits (N, C)")
    _checks.labels(labels, "labels", name, num_classes=logits.shape[1], n=len(logits))
    _checks.number(temperature, "temperature", name, low=0.0, low_open=True)


def domain_classification(source_logits: torch.Tensor, target_logits: torch.Tensor,
                          weights: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    r"""Cross-entropy of a domain classifier that labels source 0 and target 1, averaged
    over all :math:`n_s + n_t` examples (the discriminator's loss in DANN and SDT):

    .. math:: -\frac{1}{n_s+n_t}\Big(\sum_{i \in S} \log p_i(0) + \sum_{j \in T} \log p_j(1)\Big)

    ``weights``: ``(source_weights, target_weights)``, one non-negative weight per example (CDAN+E's
    ``entropy_weights``). Each domain's weights are rescaled to average 1 within that domain, as CDAN's
    authors normalise them, and multiply its terms: equal weights give the unweighted loss.
    """
    _check_domain_pair(source_logits, target_logits, "domain_classification")
    logits = torch.cat([source_logits, target_logits])
    domain = torch.cat([torch.zeros(len(source_logits), dtype=torch.int64, device=logits.device),
                        torch.ones(len(target_logits), dtype=torch.int64, device=logits.device)])
    reduction = "mean" if weights is None else "none"
    if logits.ndim == 1:
        losses = F.binary_cross_entropy_with_logits(logits, domain.to(logits.dtype), reduction=reduction)
    else:
        losses = F.cross_entropy(logits, domain, reduction=reduction)
    if weights is None:
        return losses
    return (losses * _normalised(weights, len(source_logits), len(target_logits)).to(losses)).mean()


def _normalised(weights: tuple[torch.Tensor, torch.Tensor], n_source: int, n_target: int) -> torch.Tensor:
    """Both domains' weights, each rescaled to average 1, as one detached column of ``n_s + n_t`` rows."""
    if not isinstance(weights, (tuple, list)) or len(weights) != 2:
        raise TypeError("domain_classification: weights must be a pair (source_weights, target_weights)")
    rescaled = []
    for name, w, n in (("source", weights[0], n_source), ("target", weights[1], n_target)):
        if not isinstance(w, torch.Tensor) or not w.is_floating_point() or w.shape != (n,):
            raise ValueError(f"domain_classification: {name} weights must be a floating tensor of shape ({n},), got "
                             f"{getattr(w, 'dtype', type(w).__name__)} of shape {tuple(getattr(w, 'shape', ()))}")
        w = w.detach()
        total = w.sum()
        if not torch.isfinite(total) or total <= 0 or (w < 0).any():
            raise ValueError(f"domain_classification: {name} weights must be finite, non-negative and not all zero")
        rescaled.append(w * (n / total))
    return torch.cat(rescaled)


def domain_accuracy(source_logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """How often the domain classifier behind ``domain_classification`` is right (source = domain 0,
    target = domain 1); 0.5 is chance. Binary logits ``(N,)`` say "target" when positive; ``(N, D)``
    logits by their argmax. A detached scalar, for logging."""
    _check_domain_pair(source_logits, target_logits, "domain_accuracy")

    def says_target(logits: torch.Tensor) -> torch.Tensor:
        return logits > 0 if logits.ndim == 1 else logits.argmax(1) == 1

    right = torch.cat([~says_target(source_logits.detach()), says_target(target_logits.detach())])
    return right.float().mean()


def domain_confusion(logits: torch.Tensor) -> torch.Tensor:
    r"""Cross-entropy between the domain classifier's prediction and the **uniform**
    distribution over the :math:`D` domains (Tzeng et al., ICCV 2015, eq. 4):

    .. math:: \mathcal{L}_{conf} = -\frac{1}{N}\sum_n \frac{1}{D}\sum_{d=1}^{D} \log p_n(d)

    Minimal (:math:`\log D`) when every prediction is uniform: the features carry no domain
    information the classifier can read. Trained with alternating updates against
    ``domain_classification``, not through a gradient reversal. One logit per example
    means :math:`D = 2`, :math:`p(1) = \sigma(z)`.
    """
    _check_logits(logits, "domain_confusion")
    if logits.ndim == 1:  # log σ(z) and log σ(−z) = log(1 − σ(z)), both stable
        return -0.5 * (F.logsigmoid(logits) + F.logsigmoid(-logits)).mean()
    return -F.log_softmax(logits, dim=1).mean(1).mean()


def class_soft_labels(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 2.0) -> torch.Tensor:
    r"""Per-class average of the softened predictions of a source-trained network
    (Tzeng et al., ICCV 2015, §3.2): row :math:`k` is

    .. math:: l^{(k)} = \frac{1}{|S_k|}\sum_{i \in S_k} \mathrm{softmax}(z_i / \tau)

    ``logits`` (N, C) of source examples, ``labels`` (N,) their classes; returns (C, C), each
    row a distribution that says which other classes class k resembles. τ = 2 in the paper.
    Every class needs at least one example. Detached: soft labels are fixed targets.
    """
    _check_class_logits(logits, labels, temperature, "class_soft_labels")
    classes = logits.shape[1]
    counts = torch.bincount(labels, minlength=classes)
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"class_soft_labels: no source example of class(es) {missing}; every class needs one")
    probabilities = F.softmax(at_least_float32(logits.detach()) / temperature, dim=1)
    sums = probabilities.new_zeros(classes, classes).index_add_(0, labels, probabilities)
    return sums / counts[:, None]


def soft_label_loss(logits: torch.Tensor, labels: torch.Tensor, soft_labels: torch.Tensor, temperature: float = 2.0) -> torch.Tensor:
    r"""Cross-entropy between the soft label of each example's class and its softened
    prediction (Tzeng et al., ICCV 2015, eq. 5), averaged over the batch:

    .. math:: \mathcal{L}_{soft} = -\frac{1}{N}\sum_n \sum_k l^{(y_n)}_k \log \mathrm{softmax}(z_n/\tau)_k

    ``soft_labels`` is the (C, C) table of ``class_soft_labels``; use the same τ for both.
    """
    _check_class_logits(logits, labels, temperature, "soft_label_loss")
    classes = logits.shape[1]
    _checks.tensor(soft_labels, "soft_labels", "soft_label_loss", ndim=2, what="the (C, C) table of class_soft_labels")
    if soft_labels.shape != (classes, classes):
        raise ValueError(f"soft_label_loss: soft_labels must be ({classes}, {classes}), got {tuple(soft_labels.shape)}")
    log_p = F.log_softmax(at_least_float32(logits) / temperature, dim=1)
    return -(soft_labels[labels].to(log_p) * log_p).sum(1).mean()
