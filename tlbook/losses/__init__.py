"""Loss functions on tensors: the first level of tlbook, usable in any training loop.

Every loss takes source rows ``x`` (n×d) and target rows ``y`` (m×d), works on any device
and floating dtype, and raises a clear error for inputs it cannot handle.
"""
from .cmd import cmd
from .coral import coral, covariance
from .mmd import dan_bandwidths, median_bandwidth, mk_mmd, mmd, squared_distances

__all__ = ["cmd", "coral", "covariance", "dan_bandwidths", "median_bandwidth", "mk_mmd", "mmd", "squared_distances"]
