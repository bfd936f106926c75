"""Check a student's implementation against the book's reference, with a helpful message.

Every checker takes the student's function (or class), runs it on random and edge-case inputs
(unequal and tiny batches, float64, the GPU when there is one), compares with ``tlbook``'s own
implementation and either prints one line of success or raises ``CheckFailed`` (an
``AssertionError``) that names the input, the expected and received values, and, when the wrong
answer matches a typical mistake, what that mistake probably is::

    from tlbook import check
    check.coral(my_coral)
"""
from ._harness import CheckFailed
from .losses import cmd, confusion, coral, difference, mk_mmd, mmd, scale_invariant_mse, soft_labels, zsl_hinge
from .modules import gradient_reversal, l2sp, lora_linear

__all__ = [
    "CheckFailed", "cmd", "confusion", "coral", "difference", "gradient_reversal", "l2sp", "lora_linear", "mk_mmd", "mmd",
    "scale_invariant_mse", "soft_labels", "zsl_hinge",
]
