"""Loss functions on tensors: the first level of tlbook, usable in any training loop.

The discrepancy losses take source rows ``x`` (n×d) and target rows ``y`` (m×d); every loss
works on any device and floating dtype and raises a clear error for inputs it cannot handle.
"""
from .adversarial import class_soft_labels, domain_accuracy, domain_classification, domain_confusion, soft_label_loss
from .cmd import cmd
from .conditional import entropy_weights, multilinear_map, randomized_multilinear_map
from .coral import coral, covariance
from .dsn import difference_loss, scale_invariant_mse
from .mcc import minimum_class_confusion
from .mmd import dan_bandwidths, median_bandwidth, mk_mmd, mmd, squared_distances
from .zsl import attribute_hinge

__all__ = [
    "attribute_hinge", "class_soft_labels", "cmd", "coral", "covariance", "dan_bandwidths", "difference_loss",
    "domain_accuracy", "domain_classification", "domain_confusion", "entropy_weights", "median_bandwidth", "minimum_class_confusion", "mk_mmd",
    "mmd", "multilinear_map", "randomized_multilinear_map", "scale_invariant_mse", "soft_label_loss", "squared_distances",
]
