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
from .beyond import bbse_weights, multilinear_map, randomized_multilinear_map
from .losses import cmd, confusion, coral, difference, mk_mmd, mmd, scale_invariant_mse, soft_labels, zsl_hinge
from .modules import gradient_reversal, l2sp, l2sp_fisher, lora_linear

__all__ = [
    "CheckFailed", "bbse_weights", "cmd", "confusion", "coral", "difference", "gradient_reversal", "l2sp", "l2sp_fisher",
    "lora_linear", "mk_mmd", "mmd", "multilinear_map", "randomized_multilinear_map",
    "scale_invariant_mse", "soft_labels", "zsl_hinge",
]


def _verdict_only(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython's handler for a failed check: the verdict alone, without the frames of tlbook's checking code
    (the message already names the input, the values, the likely mistake and the student's line)."""
    verdict = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, verdict)  # what IPython does with a traceback: the cell's error output
    return verdict


def _brief_in_ipython() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CheckFailed,), _verdict_only)


_brief_in_ipython()
