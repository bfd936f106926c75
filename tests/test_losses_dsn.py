"""DSN's difference loss and scale-invariant MSE against NumPy float64, plus their invariances."""
import numpy as np
import pytest
import torch

from tlbook.losses import difference_loss, scale_invariant_mse


def np_difference(hc, hp):
    def normalise(h):
        h = h - h.mean(0)
        return h / np.linalg.norm(h, axis=1, keepdims=True)

    c = normalise(hc).T @ normalise(hp)
    return np.sum(c**2) / c.size


def np_si_mse(x_hat, x):
    out = []
    for a, b in zip(x_hat.reshape(len(x), -1), x.reshape(len(x), -1)):
        d = b - a
        out.append(np.sum(d**2) / d.size - np.sum(d) ** 2 / d.size**2)
    return np.mean(out)


@pytest.mark.parametrize("n,dc,dp", [(8, 4, 3), (32, 16, 16), (5, 2, 7)])
def test_difference_loss_against_numpy(n, dc, dp):
    rng = np.random.default_rng(n)
    hc, hp = rng.normal(size=(n, dc)), rng.normal(size=(n, dp)) + 0.5 * rng.normal(size=(n, 1))
    got = difference_loss(torch.tensor(hc), torch.tensor(hp))
    assert got.dtype == torch.float64 and np.isclose(got.item(), np_difference(hc, hp), rtol=1e-10)


def test_difference_loss_is_zero_for_orthogonal_codes_and_ignores_row_scale():
    # centred columns living on disjoint sets of examples are orthogonal after centring
    hc = torch.tensor([[1.0, 0], [-1, 0], [0, 0], [0, 0]], dtype=torch.float64)
    hp = torch.tensor([[0.0], [0], [2], [-2]], dtype=torch.float64)
    assert difference_loss(hc, hp).item() == pytest.approx(0.0, abs=1e-12)
    # rows in ± pairs have zero column means, so centring leaves them alone; scaling a pair
    # (a row and its mirror) keeps it so, and the row normalisation must then undo the scale
    rng = np.random.default_rng(0)
    half_c, half_p = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    hc, hp = torch.tensor(np.vstack([half_c, -half_c])), torch.tensor(np.vstack([half_p, -half_p]))
    scale = torch.ones(10, 1, dtype=torch.float64)
    scale[[2, 7]] = 9.0
    loss = difference_loss(hc, hp)
    assert loss.item() > 1e-3
    assert difference_loss(hc * scale, hp).item() == pytest.approx(loss.item(), rel=1e-12)
    assert difference_loss(hc, hp * 0.01).item() == pytest.approx(loss.item(), rel=1e-12)


def test_difference_loss_errors():
    with pytest.raises(ValueError, match="same examples"):
        difference_loss(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="at least 2"):
        difference_loss(torch.randn(1, 3), torch.randn(1, 3))


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (2, 10), (6, 1, 4, 4)])
def test_scale_invariant_mse_against_numpy(shape):
    rng = np.random.default_rng(len(shape))
    x, x_hat = rng.normal(size=shape), rng.normal(size=shape)
    got = scale_invariant_mse(torch.tensor(x_hat), torch.tensor(x))
    assert got.dtype == torch.float64 and np.isclose(got.item(), np_si_mse(x_hat, x), rtol=1e-10)


def test_scale_invariant_mse_ignores_a_constant_shift_but_not_the_second_term_alone():
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    assert scale_invariant_mse(x + 0.37, x).item() == pytest.approx(0.0, abs=1e-12)
    per_example = torch.tensor([0.1, -0.5, 2.0], dtype=torch.float64)[:, None, None, None]
    assert scale_invariant_mse(x + per_example, x).item() == pytest.approx(0.0, abs=1e-12)
    noisy = x + 0.1 * torch.randn_like(x)
    assert scale_invariant_mse(noisy, x) > 0
    with pytest.raises(ValueError, match="same shape"):
        scale_invariant_mse(x, x[:, :1])
