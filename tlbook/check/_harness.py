"""The machinery every checker shares: cases, a comparison with the reference, and a diagnosis
that names the likely mistake when a wrong answer matches a known wrong variant."""
from __future__ import annotations

import copy
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from .._checks import _got

__all__ = ["Case", "CheckFailed", "Mistake", "call_student", "devices", "expect_callable", "expect_tensor", "run_checks"]


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


def _copy(value: Any) -> Any:
    """A deep copy of a case's inputs (tensors keep requires_grad as leaves of their own)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, (tuple, list)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return copy.deepcopy(value)


def _student_frame(error: BaseException) -> str:
    """Where the student's code raised: the last frame outside tlbook's own files."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "/tlbook/" not in f.filename.replace("\\", "/")]
    if not frames:
        return ""
    frame = frames[-1]
    return f"\n  in {frame.name}, line {frame.lineno}: {frame.line}" if frame.line else ""


def expect_callable(name: str, student: Any, argument: str = "student") -> None:
    """A checker takes the student's function itself (``check.mmd(my_mmd)``), not what it returns: anything
    else is a ``TypeError`` naming the checker, the argument and what was given."""
    if not callable(student):
        raise TypeError(f"check.{name}: {argument} must be your function itself (a callable: check.{name}(my_function), "
                        f"not check.{name}(my_function(...))), got {_got(student)}")


def call_student(name: str, student: Callable, args: tuple, kwargs: dict | None = None, where: str = "") -> Any:
    """``student(*args, **kwargs)``; any exception becomes a ``CheckFailed`` naming the input, the
    student's exception and the line of the student's code that raised it."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    try:
        return student(*args, **(kwargs or {}))
    except NotImplementedError as error:
        raise CheckFailed(f"{name}: {error}" if str(error) else f"{name}: not implemented yet (the function raised NotImplementedError)") from None
    except Exception as error:  # noqa: BLE001 - any error is the student's to see, with the input that caused it
        raise CheckFailed(f"{name}: your code raised {type(error).__name__}: {error}{_student_frame(error)}"
                          + (f"\n  on input: {where}" if where else "")) from error


def expect_tensor(name: str, got: Any, expected: torch.Tensor, where: str) -> None:
    """``got`` must be a tensor with ``expected``'s shape, dtype and device; each miss is named."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    if not isinstance(got, torch.Tensor):
        kind = type(got).__module__.split(".")[0] + "." + type(got).__qualname__ if type(got).__module__ != "builtins" else type(got).__name__
        hint = (" (a NumPy array: keep the computation in torch, so that it runs on the GPU and gradients flow)"
                if kind.startswith("numpy.") else " (a Python number: return the tensor itself, without .item() or float())"
                if isinstance(got, (int, float)) else "")
        raise CheckFailed(f"{name}: expected a torch.Tensor of shape {tuple(expected.shape)}, got a {kind}{hint} "
                          f"on input: {where}")
    if got.shape != expected.shape:
        raise CheckFailed(f"{name}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)} on input: {where}"
                          + (" (return a scalar: reduce with .mean() or .sum() as the formula says)" if expected.ndim == 0 else ""))
    if got.dtype != expected.dtype:
        raise CheckFailed(f"{name}: expected dtype {expected.dtype}, got {got.dtype} on input: {where} (create new "
                          "tensors with the inputs' dtype, e.g. x.new_zeros(...) or torch.zeros(..., dtype=x.dtype))")
    if got.device != expected.device:
        raise CheckFailed(f"{name}: the result is on {got.device} but the inputs are on {expected.device} (input: {where}); "
                          "create tensors on the inputs' device instead of calling .cpu() or .cuda()")


def _changed(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        return not torch.equal(before.detach(), after.detach())
    if isinstance(before, (tuple, list)):
        return any(_changed(b, a) for b, a in zip(before, after))
    return False


def _with_grad(args: tuple) -> tuple:
    return tuple(a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                 for a in args)


def _leaves(args: tuple) -> list[tuple[str, torch.Tensor]]:
    """The tensors a gradient should reach: the arguments that require grad and the parameters of the modules."""
    found = [(f"argument {i + 1}", a) for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]
    return found + [(f"parameter {n!r} of argument {i + 1}", p) for i, a in enumerate(args) if isinstance(a, torch.nn.Module)
                    for n, p in a.named_parameters() if p.requires_grad]


def run_checks(name: str, student: Callable, reference: Callable, cases: Sequence[Case], mistakes: Sequence[Mistake] = (),
               rtol: float = 1e-5, atol: float = 1e-8, quiet: bool = False, alternatives: Sequence[Callable] = ()) -> None:
    """Compare ``student(*case.args)`` with ``reference(*case.args)`` on every case; raise
    ``CheckFailed`` at the first disagreement, naming the case, the expected and the received value,
    and the likely mistake when the answer matches one of ``mistakes``. ``alternatives`` are other
    references that count as right too (e.g. another convention for the median). Prints one line on success.

    The student gets its own copies of the inputs; the reference, the alternatives and the mistakes
    are computed on copies made before the call, so a student who changes an input in place cannot
    change what is expected (and is told about it). Where the reference carries a gradient, the
    student's result must too."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    for case in cases:
        pristine = _copy((case.args, case.kwargs))
        args, kwargs = _copy((case.args, case.kwargs))
        got = call_student(name, student, args, kwargs, case.name)
        expected = reference(*_copy(pristine[0]), **_copy(pristine[1]))
        expect_tensor(name, got, expected, case.name)
        fresh = lambda f: f(*_copy(pristine[0]), **_copy(pristine[1]))  # noqa: E731
        if not (_close(got, expected, rtol, atol) or any(_close(got, fresh(alt), rtol, atol) for alt in alternatives)):
            message = f"{name}: wrong value on input: {case.name}\n  expected {_describe(expected)}, got {_describe(got)}"
            for mistake in mistakes:
                try:
                    wrong = fresh(mistake.compute)
                except Exception:  # noqa: BLE001 - a mistake that cannot be computed here is simply not the one
                    continue
                if isinstance(wrong, torch.Tensor) and _close(got, wrong, rtol, atol):
                    message += f"\n  Likely mistake: {mistake.hint}"
                    break
            raise CheckFailed(message)
        if _changed(pristine, (args, kwargs)):
            raise CheckFailed(f"{name}: the value is right, but your function changed its input in place (input: {case.name}); "
                              "work on new tensors (x = x - m, not x -= m or x.sub_(m)): in training the inputs are "
                              "features that other losses still need")
    _check_gradient_flows(name, student, reference, cases[0])
    if not quiet:
        print(f"✓ {name}: correct on all {len(cases)} inputs")


def _check_gradient_flows(name: str, student: Callable, reference: Callable, case: Case) -> None:
    """Where the reference's result depends differentiably on the inputs, the student's must too."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    args = _with_grad(case.args)
    expected = reference(*args, **case.kwargs)
    if not expected.requires_grad or not _leaves(args):
        return
    student_args = _with_grad(case.args)
    got = call_student(name, student, student_args, _copy(case.kwargs), case.name + ", inputs requiring grad")
    hint = "a loss must stay in the autograd graph: avoid .item(), .detach(), .numpy() and torch.tensor(...) on the way"
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise CheckFailed(f"{name}: the value is right, but the result carries no gradient (input: {case.name}); {hint}")
    needed = torch.autograd.grad(expected.sum(), [leaf for _, leaf in _leaves(args)], allow_unused=True)
    reached = call_student(name, torch.autograd.grad, (got.sum(), [leaf for _, leaf in _leaves(student_args)]),
                           {"allow_unused": True}, case.name + ", the gradient of your result")
    cut = [where for (where, _), want, have in zip(_leaves(args), needed, reached) if want is not None and have is None]
    if cut:
        raise CheckFailed(f"{name}: the value is right, but no gradient flows back from your result to {cut[0]} "
                          f"(input: {case.name}); {hint}")
