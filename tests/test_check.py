"""tlbook.check: every checker accepts the reference and rejects typical wrong implementations,
naming the mistake."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tlbook import check, losses
from tlbook.finetune import LoRALinear
from tlbook.nn import grad_reverse


def _cov(x, ddof=1):
    c = x - x.mean(0)
    return c.T @ c / (len(x) - ddof)


def _l2sp(model, start, alpha, beta, head, towards_zero=False, half=0.5):
    ref = dict(start.named_parameters())
    pull = sum(((p - (0 if towards_zero else ref[n])) ** 2).sum() for n, p in model.named_parameters() if not n.startswith(head))
    decay = sum((p ** 2).sum() for n, p in model.named_parameters() if n.startswith(head))
    return half * (alpha * pull + beta * decay)


def _mkmmd(x, y, detach=True, unbiased=False, diagonal=False, whole=False):
    pooled = torch.cat([x, y])
    d2 = torch.cdist(pooled, pooled) ** 2
    i, j = torch.triu_indices(len(pooled), len(pooled), 0 if diagonal else 1)
    gamma = d2.median() if whole else d2[i, j].median()
    gamma = gamma.detach() if detach else gamma
    k = sum(torch.exp(-d2 / (2 ** (e / 2) * gamma)) for e in range(-16, 17)) / 33
    n = len(x)
    if unbiased:
        off = lambda a: (a.sum() - a.diagonal().sum()) / (len(a) * (len(a) - 1))  # noqa: E731
        return off(k[:n, :n]) + off(k[n:, n:]) - 2 * k[:n, n:].mean()
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def _l2sp_fisher(model, start, fisher, alpha, beta, head, power=1.0, half=0.5):
    start_values = dict(start.named_parameters())
    total = 0.0
    for name, p in model.named_parameters():
        if name.startswith(head):
            total = total + beta * (p ** 2).sum()
        else:
            total = total + alpha * (fisher[name] ** power * (p - start_values[name]) ** 2).sum()
    return half * total


class _LoRA(nn.Module):
    def __init__(self, base, rank, alpha, scale=True, zero_b=True, freeze=True):
        super().__init__()
        self.base, self.scale = base, (alpha / rank if scale else 1.0)
        for p in base.parameters():
            p.requires_grad_(not freeze)
        self.A = nn.Parameter(torch.randn(rank, base.in_features) * 0.1)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank) if zero_b else torch.randn(base.out_features, rank))

    def forward(self, x):
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam, sign):
        ctx.lam, ctx.sign = lam, sign
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.sign * ctx.lam * g, None, None


#: checker -> (a correct implementation, [(a wrong implementation, words the message must contain), ...])
CASES = {
    "mmd": (lambda x, y: (x.mean(0) - y.mean(0)).pow(2).sum(), [
        (lambda x, y: (x.mean(0) - y.mean(0)).norm(), "not squared"),
        (lambda x, y: (x.mean(0) - y.mean(0)).pow(2).mean(), "averaged over the features"),
    ]),
    "mk_mmd": (_mkmmd, [
        (lambda x, y: _mkmmd(x, y, unbiased=True), "unbiased"),
        (lambda x, y: _mkmmd(x, y, diagonal=True), "distinct pairs"),
        (lambda x, y: _mkmmd(x, y, whole=True), "whole distance matrix"),
    ]),
    "coral": (lambda x, y: (_cov(x) - _cov(y)).pow(2).sum() / (4 * x.shape[1] ** 2), [
        (lambda x, y: (_cov(x) - _cov(y)).pow(2).sum(), "1/(4d²)"),
        (lambda x, y: (_cov(x, 0) - _cov(y, 0)).pow(2).sum() / (4 * x.shape[1] ** 2), "biased covariance"),
    ]),
    "cmd": (lambda x, y: losses.cmd(x, y), [
        (lambda x, y: (x.mean(0) - y.mean(0)).norm() + sum((x.pow(k).mean(0) - y.pow(k).mean(0)).norm() for k in range(2, 6)), "raw moments"),
        (lambda x, y: sum(((x - x.mean(0)).pow(k).mean(0) - (y - y.mean(0)).pow(k).mean(0)).norm() for k in range(2, 6)), "means) is missing"),
    ]),
    "confusion": (lambda z: -F.log_softmax(z, 1).mean(), [
        (lambda z: -(F.softmax(z, 1) * F.log_softmax(z, 1)).sum(1).mean(), "entropy"),
        (lambda z: -F.log_softmax(z, 1).sum(1).mean(), "summed over the domains"),
        (lambda z: -F.log_softmax(z, dim=0).mean(), "over the batch (dim=0)"),
    ]),
    "soft_labels": (lambda z, y, t: torch.stack([F.softmax(z[y == k] / t, 1).mean(0) for k in range(z.shape[1])]), [
        (lambda z, y, t: torch.stack([F.softmax(z[y == k], 1).mean(0) for k in range(z.shape[1])]), "temperature is not applied"),
        (lambda z, y, t: F.softmax(z / t, 1).mean(0).expand(z.shape[1], -1), "average within each class"),
        (lambda z, y, t: torch.stack([(F.softmax(z[y == k], 1) / t).mean(0) for k in range(z.shape[1])]), "after the softmax"),
    ]),
    "difference": (lambda a, b: (F.normalize(a - a.mean(0), dim=1).T @ F.normalize(b - b.mean(0), dim=1)).pow(2).mean(), [
        (lambda a, b: (F.normalize(a, dim=1).T @ F.normalize(b, dim=1)).pow(2).mean(), "not centred"),
        (lambda a, b: ((a - a.mean(0)).T @ (b - b.mean(0))).pow(2).mean(), "unit length"),
    ]),
    "scale_invariant_mse": (lambda a, b: ((b - a).flatten(1).pow(2).mean(1) - (b - a).flatten(1).mean(1).pow(2)).mean(), [
        (lambda a, b: (-(b - a).flatten(1).mean(1).pow(2)).mean(), "only the second term"),
        (lambda a, b: (b - a).pow(2).mean(), "only the first term"),
        (lambda a, b: ((b - a).flatten(1).pow(2).mean(1) + (b - a).flatten(1).mean(1).pow(2)).mean(), "second term is added"),
    ]),
    "zsl_hinge": (lambda s, y, k: (k - s.gather(1, y[:, None]) + s.scatter(1, y[:, None], float("-inf")).amax(1, keepdim=True)).clamp_min(0).mean(), [
        (lambda s, y, k: (k - s.gather(1, y[:, None]) + s.amax(1, keepdim=True)).clamp_min(0).mean(), "not excluded"),
        (lambda s, y, k: losses.attribute_hinge(s, y, k, violators="sum"), "summed over the violating"),
    ]),
    "gradient_reversal": (lambda x, lam: _Reverse.apply(x, lam, -1.0), [
        (lambda x, lam: _Reverse.apply(x, lam, 1.0), "sign is not reversed"),
        (lambda x, lam: _Reverse.apply(x, 1.0, -1.0) if lam != 1.0 else grad_reverse(x, lam), "not multiplied by λ"),
        (lambda x, lam: -x, "negates x"),
        (lambda x, lam: x.detach(), "no gradient can come back"),
    ]),
    "l2sp": (_l2sp, [
        (lambda *a: _l2sp(*a, towards_zero=True), "towards zero"),
        (lambda *a: _l2sp(*a, half=1.0), "1/2"),
    ]),
    "l2sp_fisher": (_l2sp_fisher, [
        (lambda m, s, f, a, b, h: _l2sp_fisher(m, s, {k: torch.ones_like(v) for k, v in f.items()}, a, b, h), "plain L2-SP"),
        (lambda *a: _l2sp_fisher(*a, power=2.0), "squared"),
        (lambda *a: _l2sp_fisher(*a, half=1.0), "1/2"),
    ]),
    "multilinear_map": (lambda f, g: (g[:, :, None] * f[:, None, :]).reshape(len(f), -1), [
        (lambda f, g: (f[:, :, None] * g[:, None, :]).reshape(len(f), -1), "other order"),
        (lambda f, g: (g.amax(1, keepdim=True) * f).repeat(1, g.shape[1]), "predicted* class only"),
    ]),
    "randomized_multilinear_map": (lambda f, g, rf, rg: (f @ rf) * (g @ rg) / rf.shape[1] ** 0.5, [
        (lambda f, g, rf, rg: (f @ rf) * (g @ rg), "1/√k is missing"),
        (lambda f, g, rf, rg: (f @ rf) * (g @ rg) / rf.shape[1], "not by √k"),
    ]),
    "bbse_weights": (lambda c, mu: torch.linalg.lstsq(c.double(), mu.double()[:, None]).solution[:, 0].clamp_min(0), [
        (lambda c, mu: torch.linalg.solve(c.double(), mu.double()), "not clipped"),
        (lambda c, mu: torch.linalg.solve(c.double().T, mu.double()).clamp_min(0), "transposed"),
        (lambda c, mu: torch.linalg.solve(c, mu).clamp_min(0), "dtype torch.float64"),
    ]),
    "lora_linear": (lambda base, r, a: _LoRA(base, r, a), [
        (lambda base, r, a: _LoRA(base, r, a, scale=False), "alpha / rank"),
        (lambda base, r, a: _LoRA(base, r, a, zero_b=False), "B must start at zero"),
        (lambda base, r, a: _LoRA(base, r, a, freeze=False), "still trainable"),
    ]),
}


def test_there_is_a_checker_for_every_from_scratch_piece():
    assert set(CASES) == set(check.__all__) - {"CheckFailed"}


@pytest.mark.parametrize("name", CASES)
def test_checker_accepts_a_correct_implementation(name, capsys):
    getattr(check, name)(CASES[name][0])
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("name", CASES)
def test_checker_rejects_typical_mistakes_and_names_them(name):
    wrongs = CASES[name][1]
    assert len(wrongs) >= 2
    for wrong, words in wrongs:
        with pytest.raises(check.CheckFailed) as failure:
            getattr(check, name)(wrong)
        assert words in str(failure.value), f"{name}: the message should say '{words}', got:\n{failure.value}"


def test_messages_name_the_input_and_both_values_and_catch_dtype_and_unfinished_work():
    with pytest.raises(check.CheckFailed, match=r"(?s)wrong value on input: x 16×4.*expected .*, got "):
        check.coral(lambda x, y: (_cov(x) - _cov(y)).pow(2).sum() / 7)
    with pytest.raises(check.CheckFailed, match="expected dtype torch.float64"):
        check.mmd(lambda x, y: (x.mean(0) - y.mean(0)).pow(2).sum().float())
    with pytest.raises(check.CheckFailed, match=r"not implemented yet \(the function raised NotImplementedError\)"):
        check.coral(lambda x, y: (_ for _ in ()).throw(NotImplementedError()))  # nbgrader's bare stub: a message, not "()"
    with pytest.raises(check.CheckFailed, match="expected shape"):
        check.mmd(lambda x, y: (x.mean(0) - y.mean(0)).pow(2))
    assert issubclass(check.CheckFailed, AssertionError)  # an nbgrader test cell fails on it


def test_in_a_notebook_a_failed_check_shows_its_verdict_and_no_frames_of_tlbook(tmp_path):
    """The error output a student (or nbgrader's feedback) sees is the verdict alone, and the cell still fails."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("from tlbook import check\n"
                                                "check.coral(lambda x, y: (x.mean(0) - y.mean(0)).pow(2).sum())")]
    with pytest.raises(CellExecutionError):
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    error, = notebook.cells[0].outputs
    assert error.output_type == "error" and error.ename == "CheckFailed" and "expected" in error.evalue
    assert len(error.traceback) == 1 and "tlbook/check" not in error.traceback[0]
