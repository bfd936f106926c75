"""Checkers for the pieces that are not plain losses: gradient reversal, L2-SP and a LoRA layer."""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from ..finetune import L2SP
from ._harness import Case, CheckFailed, Mistake, call_student, devices, expect_callable, expect_tensor, run_checks

__all__ = ["gradient_reversal", "l2sp", "l2sp_fisher", "lora_linear"]


def gradient_reversal(student: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """``student(x, lam)``: the identity going forward, :math:`-\\lambda\\,g` going back."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("gradient_reversal", student)
    g = torch.Generator().manual_seed(8)
    for device in devices():
        for lam, dtype in ((0.3, torch.float64), (2.5, torch.float32), (1.0, torch.float32)):
            where = f"λ = {lam}, {str(dtype).replace('torch.', '')}, {device.type}"
            x = torch.randn(5, 3, generator=g, dtype=dtype).to(device).requires_grad_(True)
            upstream = torch.randn(5, 3, generator=g, dtype=dtype).to(device)
            out = call_student("gradient_reversal", student, (x, lam), where=where)
            expect_tensor("gradient_reversal", out, x.detach(), where)
            if not torch.equal(out.detach(), x.detach()):
                hint = ("the forward pass negates x: reversal is the identity going forward, only the gradient changes sign"
                        if torch.allclose(out.detach(), -x.detach()) else "the forward pass must return x unchanged")
                raise CheckFailed(f"gradient_reversal: wrong forward value ({where})\n  Likely mistake: {hint}")
            if not out.requires_grad:
                raise CheckFailed(f"gradient_reversal: the output does not require grad ({where})\n  Likely mistake: "
                                  "x is detached on every path to the output, so no gradient can come back")
            (grad,) = torch.autograd.grad(out, x, upstream, allow_unused=True)
            if grad is None:
                raise CheckFailed(f"gradient_reversal: no gradient comes back to x ({where})\n  Likely mistake: the output "
                                  "is a new tensor with x's values, not computed from x (return x.view_as(x), or a "
                                  "function of x, from forward)")
            expected = -lam * upstream
            if not torch.allclose(grad, expected):
                if torch.allclose(grad, upstream):
                    hint = "the gradient passes through unchanged: no reversal happened (is backward called at all?)"
                elif torch.allclose(grad, -upstream):
                    hint = "the gradient is negated but not multiplied by λ"
                elif torch.allclose(grad, lam * upstream):
                    hint = "the gradient is multiplied by λ but its sign is not reversed"
                else:
                    hint = "backward must return −λ·grad (and None for λ)"
                raise CheckFailed(f"gradient_reversal: wrong gradient ({where})\n  expected −{lam}·g, got something else\n  Likely mistake: {hint}")
    print("✓ gradient_reversal: identity forward and −λ·g backward on all inputs")


def _small_model(seed: int, names: tuple[str, str] = ("body", "head")) -> nn.Module:
    torch.manual_seed(seed)
    from collections import OrderedDict

    return nn.Sequential(OrderedDict([(names[0], nn.Linear(4, 5)), (names[1], nn.Linear(5, 3))]))


#: the two parts of the small models, and so the ``head`` prefixes, the checks use: a student who ignores
#: ``head`` (and writes "head" in its place) fails on the second
_PARTS = (("body", "head"), ("features", "classifier"))


def _moved_from_start(seed: int, names: tuple[str, str] = ("body", "head")) -> tuple[nn.Module, nn.Module]:
    """A small model after "fine-tuning" (its weights moved a little) and the copy it started from."""
    start = _small_model(seed, names)
    model = copy.deepcopy(start)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model, start


def _l2sp_cases(settings: tuple, fisher: bool = False) -> list[Case]:
    """One case per (α, β, parts) of ``settings``: a small model moved from its start, its start, the weights and
    the head's prefix; with ``fisher``, Fisher values in [0, 2) for each transferred parameter after the start."""
    cases = []
    for seed, (alpha, beta, names) in enumerate(settings):
        model, start = _moved_from_start(seed, names)
        head, values, extra = names[1], (), ""
        if fisher:
            values = ({n: 2 * torch.rand_like(p) for n, p in start.named_parameters() if not n.startswith(head)},)
            extra = "Fisher values in [0, 2), "
        cases.append(Case(f"a 2-layer model ({' and '.join(names)}) moved away from its start, {extra}α = {alpha}, β = {beta}, "
                          f"head = {head!r}", (model, start, *values, alpha, beta, head)))
    return cases


def l2sp(student: Callable[[nn.Module, nn.Module, float, float, str], torch.Tensor]) -> None:
    """``student(model, start, alpha, beta, head)``: :math:`\\frac{\\alpha}{2}\\|w_S - w_S^0\\|^2 +
    \\frac{\\beta}{2}\\|w_{head}\\|^2`, where ``start`` is a copy of the model before fine-tuning and
    ``head`` the name prefix of the new (not transferred) parameters."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("l2sp", student)
    cases = _l2sp_cases(((0.1, 0.01, _PARTS[0]), (1.0, 0.0, _PARTS[0]), (0.0, 0.5, _PARTS[0]), (0.3, 0.2, _PARTS[1])))

    def reference(model, start, alpha, beta, head):
        penalty = L2SP(start, alpha, beta, new=[head])
        return penalty(model)

    def variant(model, start, alpha, beta, head, zero=False, half=True, head_to_start=False):
        ref = dict(start.named_parameters())
        pull = sum(((p - (0 if zero else ref[n])) ** 2).sum() for n, p in model.named_parameters() if not n.startswith(head))
        head_term = sum(((p - (ref[n] if head_to_start else 0)) ** 2).sum() for n, p in model.named_parameters() if n.startswith(head))
        factor = 0.5 if half else 1.0
        return factor * (alpha * pull + beta * head_term)

    mistakes = [
        Mistake("plain L2: the transferred weights are pulled towards zero instead of towards their starting point",
                lambda *a: variant(*a, zero=True)),
        Mistake("the factor 1/2 is missing", lambda *a: variant(*a, half=False)),
        Mistake("the new head is pulled towards its (random) initial values; it should get plain L2 with β",
                lambda *a: variant(*a, head_to_start=True)),
    ]
    run_checks("l2sp", student, reference, cases, mistakes)


def l2sp_fisher(student: Callable[[nn.Module, nn.Module, dict, float, float, str], torch.Tensor]) -> None:
    """``student(model, start, fisher, alpha, beta, head)``: L2-SP-Fisher (Li et al., 2018),
    :math:`\\frac{\\alpha}{2}\\sum_{j \\in S} F_j (w_j - w_j^0)^2 + \\frac{\\beta}{2}\\|w_{head}\\|^2`, where ``fisher``
    maps the name of each transferred parameter (not starting with ``head``) to a tensor of its shape."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("l2sp_fisher", student)
    cases = _l2sp_cases(((0.1, 0.01, _PARTS[0]), (1.0, 0.0, _PARTS[0]), (0.5, 0.5, _PARTS[0]), (0.3, 0.2, _PARTS[1])),
                        fisher=True)

    def variant(model, start, fisher, alpha, beta, head, weigh=lambda f: f, half=True):
        ref = dict(start.named_parameters())
        pull = sum((weigh(fisher[n]) * (p - ref[n]) ** 2).sum() for n, p in model.named_parameters() if not n.startswith(head))
        decay = sum((p ** 2).sum() for n, p in model.named_parameters() if n.startswith(head))
        return (0.5 if half else 1.0) * (alpha * pull + beta * decay)

    mistakes = [
        Mistake("the Fisher values are not applied: that is plain L2-SP; multiply each squared difference by its F_j",
                lambda *a: variant(*a, weigh=lambda f: 1.0)),
        Mistake("the Fisher values are squared: F_j weighs the squared difference as it is", lambda *a: variant(*a, weigh=lambda f: f ** 2)),
        Mistake("the square root of the Fisher values is used: F_j weighs the squared difference as it is",
                lambda *a: variant(*a, weigh=torch.sqrt)),
        Mistake("the factor 1/2 is missing", lambda *a: variant(*a, half=False)),
    ]
    run_checks("l2sp_fisher", student, variant, cases, mistakes)


def lora_linear(student_class: type) -> None:
    """``student_class(base: nn.Linear, rank: int, alpha: float)``: a module with parameters ``A``
    (rank × in) and ``B`` (out × rank, initialised to zero) whose forward is
    ``base(x) + (alpha / rank) · x Aᵀ Bᵀ``, with ``base`` frozen and the gradient flowing to ``A`` and ``B``.
    Two layers, of other sizes, ranks and alphas, so that none of the three can be ignored."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("lora_linear", student_class, "student_class")
    if isinstance(student_class, nn.Module):
        raise TypeError(f"check.lora_linear: student_class must be your class itself (check.lora_linear(MyLoRALinear)), "
                        f"not a layer made with it, got a {type(student_class).__name__} instance")
    for seed, (d_in, d_out, rank, alpha) in enumerate(((6, 4, 2, 4.0), (5, 3, 3, 1.5))):
        _check_lora_layer(student_class, seed, d_in, d_out, rank, alpha)
    print("✓ lora_linear: shapes, frozen base, zero start, the scaled low-rank update and its gradient are right")


def _check_lora_layer(student_class: type, seed: int, d_in: int, d_out: int, rank: int, alpha: float) -> None:
    """One layer: ``student_class(nn.Linear(d_in, d_out), rank, alpha)``."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    torch.manual_seed(9 + seed)
    base = nn.Linear(d_in, d_out)
    scale = alpha / rank
    made = f"LoRA(Linear({d_in}, {d_out}), rank {rank}, alpha {alpha:g})"
    layer = call_student("lora_linear", student_class, (copy.deepcopy(base), rank, alpha), where=made)
    for name in ("A", "B"):
        if not isinstance(getattr(layer, name, None), nn.Parameter):
            raise CheckFailed(f"lora_linear: expected a trainable nn.Parameter named {name} ({made})")
    if layer.A.shape != (rank, d_in) or layer.B.shape != (d_out, rank):
        raise CheckFailed(f"lora_linear: A must be (rank, in) = {(rank, d_in)} and B (out, rank) = {(d_out, rank)} for {made}; "
                          f"got {tuple(layer.A.shape)} and {tuple(layer.B.shape)}")
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    if trainable != rank * (d_in + d_out):
        frozen_hint = (" (the base layer is still trainable: set requires_grad = False on its weight and bias)"
                       if trainable > rank * (d_in + d_out) else "")
        raise CheckFailed(f"lora_linear: expected r·(d_in + d_out) = {rank * (d_in + d_out)} trainable parameters for {made}, "
                          f"got {trainable}{frozen_hint}")
    x = torch.randn(5, d_in)
    where = f"a batch of 5 inputs with {d_in} features, {made}"
    out = call_student("lora_linear", layer, (x,), where=where)
    expect_tensor("lora_linear", out, base(x).detach(), where)
    if not torch.allclose(out, base(x), atol=1e-6):
        raise CheckFailed(f"lora_linear: at initialisation the layer must equal the base layer ({made})\n  Likely mistake: "
                          "B must start at zero (and A random), so that fine-tuning starts from the pre-trained function")
    with torch.no_grad():
        layer.A.copy_(torch.randn(rank, d_in))
        layer.B.copy_(torch.randn(d_out, rank))
    expected = base(x) + scale * (x @ layer.A.T) @ layer.B.T
    got = call_student("lora_linear", layer, (x,), where=where)
    expect_tensor("lora_linear", got, expected.detach(), where)
    if not torch.allclose(got, expected, atol=1e-5):
        hint = (f"the scale alpha / rank = {scale:g} is missing" if torch.allclose(got, base(x) + (x @ layer.A.T) @ layer.B.T, atol=1e-5)
                else "the update must be (alpha / rank) · x Aᵀ Bᵀ added to base(x)")
        raise CheckFailed(f"lora_linear: wrong output once A and B are non-zero ({made})\n  Likely mistake: {hint}")
    wanted = torch.autograd.grad(expected.sum(), (layer.A, layer.B))
    if not got.requires_grad:
        raise CheckFailed(f"lora_linear: the output carries no gradient ({made}); A and B could not learn: avoid .detach(), "
                          ".item() and torch.tensor(...) in forward")
    reached = call_student("lora_linear", torch.autograd.grad, (got.sum(), (layer.A, layer.B)), {"allow_unused": True},
                           where + ", the gradient of your output")
    for name, want, have in zip("AB", wanted, reached):
        if have is None or not torch.allclose(have, want, atol=1e-5):
            raise CheckFailed(f"lora_linear: the value is right but the gradient with respect to {name} is "
                              f"{'missing' if have is None else 'wrong'} ({made})\n  Likely mistake: forward must compute "
                              f"the update from the parameters {name} themselves, without .detach() or a copy")
