"""The label-free scores against NumPy float64, and the density ratio against a known one."""
import numpy as np
import pytest
import torch

from tlbook.selection import (deep_embedded_score, density_ratios, entropy_score, importance_weighted_score,
                              soft_neighborhood_density)


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_entropy_score_is_minus_the_mean_entropy():
    p = _softmax(np.random.default_rng(0).normal(size=(7, 4)))
    assert entropy_score(torch.from_numpy(p)) == pytest.approx((p * np.log(p)).sum(1).mean(), rel=1e-12)
    assert entropy_score(torch.tensor([[1.0, 0.0], [0.0, 1.0]])) == 0.0


def test_soft_neighborhood_density_against_numpy():
    p = _softmax(np.random.default_rng(1).normal(size=(6, 3)) * 2)
    tau = 0.05
    unit = p / np.linalg.norm(p, axis=1, keepdims=True)
    s = unit @ unit.T / tau
    np.fill_diagonal(s, -1 / tau)
    q = np.exp(s - s.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    expected = -(q * np.log(q)).sum(1).mean()
    assert soft_neighborhood_density(torch.from_numpy(p), tau) == pytest.approx(expected, rel=1e-10)


def test_soft_neighborhood_density_is_higher_for_tight_clusters():
    rng = np.random.default_rng(2)
    centres = np.eye(3)[rng.integers(0, 3, 60)]
    tight = _softmax(10 * centres + 0.1 * rng.normal(size=(60, 3)))
    scattered = _softmax(rng.normal(size=(60, 3)) * 3)
    assert soft_neighborhood_density(torch.from_numpy(tight)) > soft_neighborhood_density(torch.from_numpy(scattered))


def test_importance_weighted_and_deep_embedded_scores_against_numpy():
    rng = np.random.default_rng(3)
    losses, weights = rng.uniform(0, 2, 50), rng.uniform(0.2, 3, 50)
    assert importance_weighted_score(losses, weights) == pytest.approx(-(weights * losses).mean(), rel=1e-12)
    wl = weights * losses
    eta = -np.cov(wl, weights)[0, 1] / np.var(weights, ddof=1)
    assert deep_embedded_score(losses, weights) == pytest.approx(-(wl.mean() + eta * weights.mean() - eta), rel=1e-12)
    ones = np.ones(50)
    assert deep_embedded_score(losses, ones) == pytest.approx(-losses.mean())
    assert importance_weighted_score(losses, ones) == pytest.approx(-losses.mean())


def test_density_ratios_recover_a_known_ratio():
    """Source N(0, 1), target N(1, 1): p_t(x) / p_s(x) = exp(x - 1/2), which a logistic regression can represent."""
    g = torch.Generator().manual_seed(0)
    source, target = torch.randn(4000, 1, generator=g), torch.randn(4000, 1, generator=g) + 1
    at = torch.linspace(-1, 2, 7)[:, None]
    got = density_ratios(source, target, at)
    np.testing.assert_allclose(got, np.exp(at.numpy().ravel() - 0.5), rtol=0.15)


def test_scores_name_bad_input():
    with pytest.raises(ValueError, match="probabilities needs at least 2 rows"):
        entropy_score(torch.ones(1, 3) / 3)
    with pytest.raises(ValueError, match=r"probabilities must be softmax outputs \(N, C\) .* with 2 dimension"):
        soft_neighborhood_density(torch.ones(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="not the logits"):
        entropy_score(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"temperature must lie in \(0, inf\)"):
        soft_neighborhood_density(torch.ones(4, 2) / 2, temperature=0)
    with pytest.raises(ValueError, match="one length"):
        importance_weighted_score([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        deep_embedded_score([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="one width"):
        density_ratios(torch.randn(5, 2), torch.randn(5, 3), torch.randn(1, 2))


def test_label_free_scores_of_a_model_agree_with_each_score_and_use_no_target_label():
    from tlbook.metrics import accuracy
    from tlbook.nn import toy_classifier
    from tlbook.selection import SCORES, label_free_scores

    torch.manual_seed(0)
    model = toy_classifier(3).eval()
    x_val, y_val = torch.randn(40, 2), torch.randint(0, 3, (40,))
    source_x, target_x = torch.randn(60, 2), torch.randn(50, 2) + 1.0
    scores = label_free_scores(model, (x_val, y_val), source_x, target_x)
    assert tuple(scores) == SCORES
    assert scores["source accuracy"] == pytest.approx(accuracy(model, x_val, y_val))
    with torch.no_grad():
        probabilities = torch.softmax(model(target_x).double(), 1)
    assert scores["entropy"] == pytest.approx(entropy_score(probabilities))
    assert scores["SND"] == pytest.approx(soft_neighborhood_density(probabilities))
    assert label_free_scores(model, (x_val, y_val), source_x, target_x) == scores  # seeded: the same scores again
    with pytest.raises(ValueError, match="at least two inputs"):
        label_free_scores(model, (x_val[:1], y_val[:1]), source_x, target_x)
    with pytest.raises(ValueError, match="max_rows"):
        label_free_scores(model, (x_val, y_val), source_x, target_x, max_rows=1)
