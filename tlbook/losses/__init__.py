"""Loss functions on tensors: the first level of tlbook, usable in any training loop.

The discrepancy losses take source rows ``x`` (n×d) and target rows ``y`` (m×d); every loss
works on any device and floating dtype and raises a clear error for inputs it cannot handle.
"""
from .cmd import cmd
from .coral import coral, covariance
from .mmd import dan_bandwidths, median_bandwidth, mk_mmd, mmd, squared_distances
from .zsl import attribute_hinge

__all__ = ["attribute_hinge", "cmd", "coral", "covariance", "dan_bandwidths", "median_bandwidth", "mk_mmd", "mmd", "squared_distances"]
