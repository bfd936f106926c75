"""Checkers for the losses a student writes from scratch: each compares with ``tlbook.losses`` on
random and edge-case inputs (unequal and tiny batches, float64, the GPU when present)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .. import losses
from ._harness import Case, CheckFailed, Mistake, devices, expect_callable, run_checks

__all__ = ["cmd", "confusion", "coral", "difference", "mk_mmd", "mmd", "scale_invariant_mse", "soft_labels", "zsl_hinge"]


def _pairs(d: int = 4, shift: float = 0.5, seed: int = 0) -> list[Case]:
    """Source/target feature matrices: equal, unequal and tiny batches, float32 and float64, every device."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n, m, dtype in ((16, 16, torch.float32), (10, 7, torch.float32), (2, 3, torch.float32), (12, 9, torch.float64)):
        x = torch.randn(n, d, generator=g, dtype=dtype)
        y = shift + 1.3 * torch.randn(m, d, generator=g, dtype=dtype)
        for device in devices():
            cases.append(Case(f"x {n}×{d}, y {m}×{d}, {str(dtype).replace('torch.', '')}, {device.type}", (x.to(device), y.to(device))))
    return cases


def _bounded(cases: list[Case]) -> list[Case]:
    return [Case(c.name + ", values in [0, 1]", tuple(torch.sigmoid(t) for t in c.args)) for c in cases]


def _cov(x: torch.Tensor, ddof: int) -> torch.Tensor:
    c = x - x.mean(0)
    return c.T @ c / (len(x) - ddof)


def mmd(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(x, y)``: the biased linear-kernel MMD² of DDC, :math:`\\|\\bar x - \\bar y\\|_2^2`."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("mmd", student)
    mistakes = [
        Mistake("the norm is not squared: MMD² is the *squared* distance between the means", lambda x, y: (x.mean(0) - y.mean(0)).norm()),
        Mistake("you averaged over the features too: sum the squared differences over features, average only over examples",
                lambda x, y: (x.mean(0) - y.mean(0)).pow(2).mean()),
        Mistake("you used sums over the examples instead of means", lambda x, y: (x.sum(0) - y.sum(0)).pow(2).sum()),
    ]
    run_checks("mmd", student, lambda x, y: losses.mmd(x, y, "linear"), _pairs(), mistakes)


def mk_mmd(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(x, y)``: DAN's biased multi-kernel MMD² with the 33 Gaussian kernels
    :math:`\\exp(-\\|a-b\\|^2 / (m_u\\gamma))`, :math:`m_u = 2^{-8}, 2^{-7.5}, …, 2^{8}`, uniform weights, and
    :math:`\\gamma` the median squared distance between distinct pooled rows, **detached** (the mean of the
    two middle values when their number is even, or the lower one as ``torch.median`` gives: both pass)."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("mk_mmd", student)
    multipliers = losses.dan_bandwidths()

    def variant(x, y, *, detach=True, diagonal=False, whole=False, estimator="biased", squared=True, lower=False):
        pooled = torch.cat([x, y])
        d2 = torch.cdist(pooled, pooled).pow(2)
        pairs = d2.flatten() if whole else d2[torch.triu_indices(len(pooled), len(pooled), 0 if diagonal else 1).unbind()]
        upper = pairs.sort().values
        middle = len(upper) // 2
        gamma = upper[(len(upper) - 1) // 2] if lower else upper[middle] if len(upper) % 2 else (upper[middle - 1] + upper[middle]) / 2
        gamma = gamma.detach() if detach else gamma
        dist = d2 if squared else d2.clamp_min(0).sqrt()
        k = sum(torch.exp(-dist / (mu * gamma)) for mu in multipliers) / len(multipliers)
        n = len(x)
        kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
        if estimator == "unbiased":
            off = lambda a: (a.sum() - a.diagonal().sum()) / (len(a) * (len(a) - 1))  # noqa: E731
            return off(kxx) + off(kyy) - 2 * kxy.mean()
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()

    mistakes = [
        Mistake(hint, lambda x, y, o=options, low=lower: variant(x, y, lower=low, **o))
        for hint, options in (
            ("you used the unbiased estimator (diagonal excluded); the book's DAN uses the biased one", dict(estimator="unbiased")),
            ("the median includes the zero distances of each row to itself: take it over distinct pairs only", dict(diagonal=True)),
            ("the median is taken over the whole distance matrix: its diagonal of zeros pulls it down (and every pair "
             "counts twice); take it over distinct pairs only", dict(whole=True)),
            ("the kernel uses the distance, not the squared distance", dict(squared=False)),
        )
        for lower in (False, True)
    ]
    # torch.median returns the lower of the two middle values; that convention is accepted too
    lower_median = lambda x, y: variant(x, y, lower=True)  # noqa: E731
    run_checks("mk_mmd", student, losses.mk_mmd, _pairs(), mistakes, rtol=1e-4, atol=1e-7, alternatives=[lower_median])
    # The bandwidth must be a constant for the gradient: compare gradients on one case.
    x, y = _pairs(seed=1)[0].args
    grads = []
    for fn in (student, losses.mk_mmd, lower_median, lambda a, b: variant(a, b, detach=False),
               lambda a, b: variant(a, b, detach=False, lower=True)):
        xg = x.clone().requires_grad_(True)
        fn(xg, y).backward()
        grads.append(xg.grad)
    close = lambda a, b: torch.allclose(a, b, rtol=1e-3, atol=1e-6)  # noqa: E731
    if not (close(grads[0], grads[1]) or close(grads[0], grads[2])):
        hint = ("the bandwidth is not detached: the gradient also flows through the median, which pushes the "
                "features to change their scale instead of their distribution" if close(grads[0], grads[3]) or close(grads[0], grads[4])
                else "check that every operation is differentiable and that the bandwidth is detached")
        raise CheckFailed(f"mk_mmd: the value is right but the gradient with respect to x is not\n  Likely mistake: {hint}")


def coral(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(x, y)``: Deep CORAL's :math:`\\|C_S - C_T\\|_F^2 / 4d^2` with unbiased covariances."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("coral", student)
    def fro(a, b):
        return (a - b).pow(2).sum()

    mistakes = [
        Mistake("the 1/(4d²) factor is missing", lambda x, y: fro(_cov(x, 1), _cov(y, 1))),
        Mistake("biased covariances (divided by n): CORAL uses the unbiased 1/(n − 1)", lambda x, y: fro(_cov(x, 0), _cov(y, 0)) / (4 * x.shape[1] ** 2)),
        Mistake("divided by 4d instead of 4d²", lambda x, y: fro(_cov(x, 1), _cov(y, 1)) / (4 * x.shape[1])),
        Mistake("the Frobenius norm is not squared", lambda x, y: fro(_cov(x, 1), _cov(y, 1)).sqrt() / (4 * x.shape[1] ** 2)),
        Mistake("the covariances are not centred (that is E[xxᵀ], not a covariance)",
                lambda x, y: fro(x.T @ x / (len(x) - 1), y.T @ y / (len(y) - 1)) / (4 * x.shape[1] ** 2)),
    ]
    run_checks("coral", student, losses.coral, _pairs(), mistakes)


def cmd(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(x, y)``: CMD of order 5 for activations in [0, 1]:
    :math:`\\|E(X) - E(Y)\\|_2 + \\sum_{k=2}^{5} \\|c_k(X) - c_k(Y)\\|_2` with central moments :math:`c_k`."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("cmd", student)
    def variant(x, y, central=True, mean_term=True, squared=False):
        norm = (lambda v: v.pow(2).sum()) if squared else (lambda v: v.norm())
        total = norm(x.mean(0) - y.mean(0)) if mean_term else x.new_zeros(())
        for k in range(2, 6):
            cx = (x - x.mean(0)) if central else x
            cy = (y - y.mean(0)) if central else y
            total = total + norm(cx.pow(k).mean(0) - cy.pow(k).mean(0))
        return total

    mistakes = [
        Mistake("raw moments E[x^k] instead of central moments E[(x − E x)^k]", lambda x, y: variant(x, y, central=False)),
        Mistake("the first term (the distance between the means) is missing", lambda x, y: variant(x, y, mean_term=False)),
        Mistake("squared distances: CMD sums plain Euclidean norms", lambda x, y: variant(x, y, squared=True)),
    ]
    run_checks("cmd", student, lambda x, y: losses.cmd(x, y, k=5), _bounded(_pairs()), mistakes, rtol=1e-4, atol=1e-7)


def _domain_logits() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    cases = []
    for n, d, dtype in ((32, 2, torch.float32), (1, 2, torch.float32), (9, 3, torch.float64)):
        z = 3 * torch.randn(n, d, generator=g, dtype=dtype)
        cases += [Case(f"logits {n}×{d}, {str(dtype).replace('torch.', '')}, {dev.type}", (z.to(dev),)) for dev in devices()]
    return cases


def confusion(student: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``student(logits)``: cross-entropy between softmax(logits) (N×D) and the uniform distribution over the D domains."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("confusion", student)
    mistakes = [
        Mistake("you summed over the domains: the uniform target gives each log-probability weight 1/D",
                lambda z: -F.log_softmax(z, 1).sum(1).mean()),
        Mistake("that is the entropy of the prediction (−Σ p log p), not the cross-entropy to uniform (−Σ (1/D) log p)",
                lambda z: -(F.softmax(z, 1) * F.log_softmax(z, 1)).sum(1).mean()),
        Mistake("the log of the softmax is missing: use log_softmax", lambda z: -F.softmax(z, 1).mean(1).mean()),
        Mistake("the softmax runs over the batch (dim=0): it must run over the domains of each example (dim=1)",
                lambda z: -F.log_softmax(z, 0).mean(1).mean()),
    ]
    run_checks("confusion", student, losses.domain_confusion, _domain_logits(), mistakes)


def soft_labels(student: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """``student(logits, labels, temperature)``: the C×C table whose row k is the mean of
    softmax(logits / temperature) over the examples of class k."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("soft_labels", student)
    g = torch.Generator().manual_seed(4)
    cases = []
    for n, c, dtype, tau in ((40, 4, torch.float32, 2.0), (6, 3, torch.float64, 3.0)):
        z = 3 * torch.randn(n, c, generator=g, dtype=dtype)
        y = (torch.arange(n) % c)[torch.randperm(n, generator=g)]  # every class, in no fixed order
        cases += [Case(f"{n} examples, {c} classes, τ = {tau}, {str(dtype).replace('torch.', '')}, {d.type}", (z.to(d), y.to(d), tau))
                  for d in devices()]

    def per_class(p, y, c):
        return torch.stack([p[y == k].mean(0) for k in range(c)])

    mistakes = [
        Mistake("the temperature is not applied (divide the logits by τ before the softmax)",
                lambda z, y, t: per_class(F.softmax(z, 1), y, z.shape[1])),
        Mistake("you multiplied the logits by τ instead of dividing", lambda z, y, t: per_class(F.softmax(z * t, 1), y, z.shape[1])),
        Mistake("the probabilities are divided by τ after the softmax: divide the logits by τ before it",
                lambda z, y, t: per_class(F.softmax(z, 1) / t, y, z.shape[1])),
        Mistake("every row is the mean over all examples: average within each class",
                lambda z, y, t: F.softmax(z / t, 1).mean(0, keepdim=True).expand(z.shape[1], -1)),
    ]
    run_checks("soft_labels", student, lambda z, y, t: losses.class_soft_labels(z, y, t), cases, mistakes)


def difference(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(shared, private)``: DSN's difference loss, the mean squared entry of
    :math:`\\tilde H_c^\\top \\tilde H_p` with codes centred over the batch and rows scaled to unit length."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("difference", student)
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, dc, dp, dtype in ((16, 6, 4, torch.float32), (2, 3, 3, torch.float32), (10, 5, 7, torch.float64)):
        hc, hp = torch.randn(n, dc, generator=g, dtype=dtype), torch.randn(n, dp, generator=g, dtype=dtype) + 0.5
        cases += [Case(f"shared {n}×{dc}, private {n}×{dp}, {str(dtype).replace('torch.', '')}, {d.type}", (hc.to(d), hp.to(d)))
                  for d in devices()]

    def variant(hc, hp, centre=True, normalise=True, reduce="mean"):
        if centre:
            hc, hp = hc - hc.mean(0), hp - hp.mean(0)
        if normalise:
            hc, hp = F.normalize(hc, dim=1), F.normalize(hp, dim=1)
        c = (hc.T @ hp).pow(2)
        return c.mean() if reduce == "mean" else c.sum()

    mistakes = [
        Mistake("the codes are not centred over the batch first", lambda a, b: variant(a, b, centre=False)),
        Mistake("the rows are not scaled to unit length", lambda a, b: variant(a, b, normalise=False)),
        Mistake("you summed the squared entries; the book (and the official code) averages them over d_c·d_p",
                lambda a, b: variant(a, b, reduce="sum")),
        Mistake("you normalised the columns instead of the rows",
                lambda a, b: (F.normalize(a - a.mean(0), dim=0).T @ F.normalize(b - b.mean(0), dim=0)).pow(2).mean()),
    ]
    run_checks("difference", student, losses.difference_loss, cases, mistakes, rtol=1e-4, atol=1e-7)


def scale_invariant_mse(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``student(reconstruction, target)``: per example :math:`\\frac1k\\|d\\|^2 - \\frac1{k^2}(\\sum d)^2`
    with d = target − reconstruction over its k entries, averaged over the batch."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("scale_invariant_mse", student)
    g = torch.Generator().manual_seed(6)
    cases = []
    for shape, dtype in (((4, 3, 5, 5), torch.float32), ((1, 1, 4, 4), torch.float32), ((3, 10), torch.float64)):
        a, b = torch.rand(shape, generator=g, dtype=dtype), torch.rand(shape, generator=g, dtype=dtype)
        cases += [Case(f"images {shape}, {str(dtype).replace('torch.', '')}, {d.type}", (a.to(d), b.to(d))) for d in devices()]

    def parts(a, b):
        d = (b - a).flatten(1)
        k = d.shape[1]
        return d.pow(2).sum(1) / k, d.sum(1).pow(2) / k**2, k

    mistakes = [
        Mistake("only the second term: −(1/k²)(Σd)² alone rewards a constant error and punishes nothing else "
                "(a bug of one popular port)", lambda a, b: (-parts(a, b)[1]).mean()),
        Mistake("only the first term: that is the plain MSE, which is not invariant to a shift", lambda a, b: parts(a, b)[0].mean()),
        Mistake("the second term is divided by k instead of k²", lambda a, b: (parts(a, b)[0] - parts(a, b)[1] * parts(a, b)[2]).mean()),
        Mistake("the second term is added: the scale-invariant MSE subtracts (1/k²)(Σd)²", lambda a, b: (parts(a, b)[0] + parts(a, b)[1]).mean()),
        Mistake("the sums run over the whole batch instead of each example", lambda a, b: ((b - a).pow(2).mean() - (b - a).mean().pow(2))),
    ]
    run_checks("scale_invariant_mse", student, losses.scale_invariant_mse, cases, mistakes)


def zsl_hinge(student: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """``student(scores, labels, margin)``: mean over the batch of max(0, margin − s_true + max_{m≠true} s_m)."""
    __tracebackhide__ = True  # IPython shows the student's line and the verdict, not tlbook's frames
    expect_callable("zsl_hinge", student)
    g = torch.Generator().manual_seed(7)
    cases = []
    for n, c, dtype, margin in ((12, 5, torch.float32, 1.0), (1, 2, torch.float32, 0.5), (7, 4, torch.float64, 2.0)):
        s = torch.randn(n, c, generator=g, dtype=dtype)
        y = torch.randint(0, c, (n,), generator=g)
        cases += [Case(f"scores {n}×{c}, margin {margin}, {str(dtype).replace('torch.', '')}, {d.type}", (s.to(d), y.to(d), margin))
                  for d in devices()]

    def true_score(s, y):
        return s.gather(1, y[:, None])

    mistakes = [
        Mistake("you summed over the violating classes (DeViSE's form); this hinge takes the largest rival only",
                lambda s, y, k: losses.attribute_hinge(s, y, k, violators="sum")),
        Mistake("the true class is not excluded from the max over rivals",
                lambda s, y, k: (k - true_score(s, y) + s.max(1, keepdim=True).values).clamp_min(0).mean()),
        Mistake("no max(0, ·): the hinge must not go negative", lambda s, y, k: (
            k - true_score(s, y) + s.scatter(1, y[:, None], float("-inf")).max(1, keepdim=True).values).mean()),
    ]
    run_checks("zsl_hinge", student, lambda s, y, k: losses.attribute_hinge(s, y, k), cases, mistakes)
