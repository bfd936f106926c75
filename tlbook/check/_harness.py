"""The machinery every checker shares: cases, a comparison with the reference, and a diagnosis
that names the likely mistake when a wrong answer matches a known wrong variant."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

__all__ = ["Case", "CheckFailed", "Mistake", "devices", "run_checks"]


class CheckFailed(AssertionError):
    """A student's implementation disagrees with the reference; the message says where and why."""


@dataclass
class Case:
    """One input on which the student's function is compared with the reference."""

    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass
class Mistake:
    """A typical wrong implementation, and the hint to give when the student's answer matches it."""

    hint: str
    compute: Callable[..., torch.Tensor]


def devices() -> list[torch.device]:
    """The CPU, and the GPU when there is one (every check is repeated there)."""
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return f"{value.item():.6g}"
        return f"a {tuple(value.shape)} tensor (first values {value.flatten()[:3].tolist()})"
    return repr(value)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and torch.allclose(a.detach().double().cpu(), b.detach().double().cpu(), rtol=rtol, atol=atol)


def run_checks(name: str, student: Callable, reference: Callable, cases: Sequence[Case], mistakes: Sequence[Mistake] = (),
               rtol: float = 1e-5, atol: float = 1e-8, quiet: bool = False, alternatives: Sequence[Callable] = ()) -> None:
    """Compare ``student(*case.args)`` with ``reference(*case.args)`` on every case; raise
    ``CheckFailed`` at the first disagreement, naming the case, the expected and the received value,
    and the likely mistake when the answer matches one of ``mistakes``. ``alternatives`` are other
    references that count as right too (e.g. another convention for the median). Prints one line on success."""
    for case in cases:
        try:
            got = student(*case.args, **case.kwargs)
        except NotImplementedError as error:
            raise CheckFailed(f"{name}: not implemented yet ({error or 'the function raised NotImplementedError'})") from None
        except Exception as error:  # noqa: BLE001 - any error is the student's to see, with the input that caused it
            raise CheckFailed(f"{name}: your function raised {type(error).__name__}: {error}\n  on input: {case.name}") from error
        expected = reference(*case.args, **case.kwargs)
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"{name}: expected a torch.Tensor, got {type(got).__name__} on input: {case.name}")
        if got.shape != expected.shape:
            raise CheckFailed(f"{name}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)} on input: {case.name}"
                              + (" (return a scalar: reduce with .mean() or .sum() as the formula says)" if expected.ndim == 0 else ""))
        if got.dtype != expected.dtype:
            raise CheckFailed(f"{name}: expected dtype {expected.dtype}, got {got.dtype} on input: {case.name} (create new "
                              "tensors with the inputs' dtype, e.g. x.new_zeros(...) or torch.zeros(..., dtype=x.dtype))")
        if got.device != expected.device:
            raise CheckFailed(f"{name}: the result is on {got.device} but the inputs are on {expected.device} (input: {case.name}); "
                              "create tensors on the inputs' device instead of calling .cpu() or .cuda()")
        if _close(got, expected, rtol, atol) or any(_close(got, alt(*case.args, **case.kwargs), rtol, atol) for alt in alternatives):
            continue
        message = f"{name}: wrong value on input: {case.name}\n  expected {_describe(expected)}, got {_describe(got)}"
        for mistake in mistakes:
            try:
                wrong = mistake.compute(*case.args, **case.kwargs)
            except Exception:  # noqa: BLE001 - a mistake that cannot be computed here is simply not the one
                continue
            if isinstance(wrong, torch.Tensor) and _close(got, wrong, rtol, atol):
                message += f"\n  Likely mistake: {mistake.hint}"
                break
        raise CheckFailed(message)
    if not quiet:
        print(f"✓ {name}: correct on all {len(cases)} inputs")
