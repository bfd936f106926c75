r"""Simultaneous deep transfer across domains and tasks (Tzeng, Hoffman, Darrell & Saenko, ICCV 2015).

Semi-supervised: labelled source data, unlabelled target data, and a few labelled target
examples. Two ideas:

- **Domain confusion by alternating updates** (not a gradient reversal). The domain classifier
  :math:`\theta_D` minimises its cross-entropy on the (fixed) features; then the features
  minimise the cross-entropy between the domain classifier's prediction and the *uniform*
  distribution, :math:`\mathcal{L}_{conf} = -\frac{1}{D}\sum_d \log q_d`.
- **Soft labels**: a source-trained network's softened predictions :math:`\mathrm{softmax}(z/\tau)`,
  averaged per class, say which classes resemble each other. Each labelled target example is
  also trained towards the soft label of its class, so the few target labels transfer the
  source's *class relations*, not just the hard class.

.. math::

    \mathcal{L}(\theta_{repr}, \theta_C) = \mathcal{L}_C(x, y) + \lambda\,\mathcal{L}_{conf}
    + \nu\,\mathcal{L}_{soft}(x_T, y_T)

with :math:`\mathcal{L}_C` the cross-entropy on the labelled examples: here the source batch's mean and the
labelled target examples' mean, summed, so that a few target labels are not drowned by the source batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..data import BatchSampler, Domain
from ..losses import class_soft_labels, domain_accuracy, domain_classification, domain_confusion, soft_label_loss
from ..metrics import extract
from ..nn import Classifier, DomainDiscriminator
from .base import Batch, Method, _classifier, _weights, _widths

__all__ = ["SDT", "source_soft_labels"]


def source_soft_labels(model: nn.Module, source: Domain, temperature: float = 2.0) -> torch.Tensor:
    """The (C, C) soft-label table of a source-trained ``model``: per-class mean of
    ``softmax(logits / temperature)`` over the source training set (evaluated in eval mode)."""
    _checks.module(model, "model", "source_soft_labels")
    if not isinstance(source, Domain):
        raise TypeError(f"source_soft_labels: source must be a tlbook.data.Domain, got {_checks._got(source)}")
    _checks.number(temperature, "temperature", "source_soft_labels", low=0.0, low_open=True)
    logits = extract(model, model, source.x_train)
    return class_soft_labels(logits, source.y_train, temperature)


def _labelled_target(value: object, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SDT's few labelled target examples: a pair ``(x, y)`` of matching, non-empty inputs and class indices."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"SDT: labelled_target must be a pair (x, y) of inputs and labels, got {_checks._got(value)}")
    x, y = value
    _checks.tensor(x, "labelled_target's inputs", "SDT", floating=None, what="a batch of inputs (N, ...)")
    _checks.labels(y, "labelled_target's labels", "SDT", num_classes=classes)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"SDT: labelled_target must hold matching, non-empty inputs and labels, got {len(x)} and {len(y)}")
    return x, y


class SDT(Method):
    """Domain confusion + soft labels on a few labelled target examples.

    - ``labelled_target``: ``(x, y)``, e.g. ``labelled_subset(target, k)``; a mini-batch of
      them (all of them when there are no more than ``batch_size``) joins every step.
    - ``soft_labels``: the (C, C) table of ``source_soft_labels`` (same ``temperature``).
    - ``layer``: where the domain classifier reads the features; the paper uses fc7, the last
      hidden layer, here ``classifier.layer_names[-2]``.
    - ``confusion_weight`` λ = 0.01 and ``soft_weight`` ν = 0.1, τ = 2: the paper's values.

    Two optimisers: one for the domain classifier, one for the rest. Each step first updates
    the network on the full objective, then the domain classifier on the (detached) features.
    """

    def __init__(self, classifier: Classifier, labelled_target: tuple[torch.Tensor, torch.Tensor], soft_labels: torch.Tensor, *,
                 layer: str | None = None, confusion_weight: float = 0.01, soft_weight: float = 0.1,
                 temperature: float = 2.0, hidden: tuple[int, ...] = (100,), batch_size: int = 64, seed: int = 0):
        super().__init__(_classifier(classifier, "SDT"))
        classes = classifier.num_classes
        x, y = _labelled_target(labelled_target, classes)
        _checks.tensor(soft_labels, "soft_labels", "SDT", ndim=2, what="a (C, C) table of soft labels")
        if soft_labels.shape != (classes, classes):
            raise ValueError(f"SDT: soft_labels must be ({classes}, {classes}) for a {classes}-class classifier, "
                             f"got {tuple(soft_labels.shape)}")
        rows = soft_labels.sum(1)
        if not (torch.isfinite(soft_labels).all() and (soft_labels >= 0).all() and ((rows - 1).abs() <= 1e-3).all()):
            raise ValueError("SDT: soft_labels must hold a probability distribution in each row (finite, non-negative, "
                             f"summing to 1; source_soft_labels makes them), got row sums {rows.tolist()}")
        if layer is not None:
            _checks.choice(layer, "layer", "SDT", classifier.layer_names)
        _weights("SDT", confusion_weight=confusion_weight, soft_weight=soft_weight)
        _checks.number(temperature, "temperature", "SDT", low=0.0, low_open=True)
        _widths(hidden, "hidden", "SDT")
        _checks.integer(batch_size, "batch_size", "SDT")
        _checks.integer(seed, "seed", "SDT", minimum=None)
        self.layer = layer or classifier.layer_names[-2]
        self.discriminator = DomainDiscriminator(classifier.width(self.layer), hidden, domains=2)
        self.register_buffer("soft_labels", soft_labels.detach().clone())
        self.labelled = BatchSampler(x, y, batch_size, seed=seed)
        self.confusion_weight, self.soft_weight, self.temperature = confusion_weight, soft_weight, temperature

    def configure_optimizers(self, make):
        network = [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]
        return [make(self.discriminator.parameters()), make(network)]

    def loss(self, source: Batch, target: Batch, progress: float,
             labelled: Batch | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The network's objective on a batch of the labelled target examples (all of them by default;
        training draws a batch of them each step). The domain classifier's update is in ``training_step``."""
        total, terms, _ = self._network_objective(source, target, labelled or (self.labelled.x, self.labelled.y))
        return total, terms

    def _network_objective(self, source: Batch, target: Batch, labelled: Batch):
        """The network's objective, its logged terms, and the (detached) source and target features
        on which the domain classifier then trains."""
        (xs, ys), (xt, _), (xl, yl) = source, target, labelled
        if xt is None:
            raise ValueError("SDT needs unlabelled target batches: pass a target domain to fit")
        acts = self.classifier.activations(torch.cat([xs, xl, xt]))
        ns, nl = len(xs), len(xl)
        logits = acts["logits"]
        classification = F.cross_entropy(logits[:ns], ys) + F.cross_entropy(logits[ns : ns + nl], yl)
        soft = soft_label_loss(logits[ns : ns + nl], yl, self.soft_labels, self.temperature)
        features = acts[self.layer]
        confusion = domain_confusion(self.discriminator(features))
        total = classification + self.confusion_weight * confusion + self.soft_weight * soft
        terms = {"classification": classification.detach(), "soft": soft.detach(), "confusion": confusion.detach()}
        return total, terms, (features[:ns].detach(), features[ns + nl :].detach())

    def training_step(self, source: Batch, target: Batch, progress: float, optimizers) -> dict[str, torch.Tensor]:
        discriminator_opt, network_opt = optimizers
        # 1. the network moves its features towards a uniform domain prediction ...
        with self.mixed_precision():
            total, terms, (fs, ft) = self._network_objective(source, target, next(self.labelled))
        network_opt.zero_grad(set_to_none=True)
        total.backward()
        network_opt.step()
        # 2. ... then the domain classifier learns to tell those (fixed) features apart
        with self.mixed_precision():
            ds, dt = self.discriminator(fs), self.discriminator(ft)
            domain = domain_classification(ds, dt)
        discriminator_opt.zero_grad(set_to_none=True)  # also drops what the confusion term left on it
        domain.backward()
        discriminator_opt.step()
        return {"loss": total.detach(), **terms, "domain": domain.detach(), "domain accuracy": domain_accuracy(ds, dt)}
