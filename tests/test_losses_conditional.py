"""CDAN's pieces against NumPy float64: the multilinear map and its randomised version, the entropy
weights, the weighted domain loss; the map's module; and CDAN's domain input through the method."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tlbook.losses import domain_classification, entropy_weights, multilinear_map, randomized_multilinear_map
from tlbook.methods import CDAN
from tlbook.nn import MultilinearMap, toy_classifier


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_multilinear_map_is_every_product_of_a_probability_and_a_feature():
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=(5, 4)), _softmax(rng.normal(size=(5, 3)))
    expected = np.stack([np.outer(g[n], f[n]).ravel() for n in range(5)])  # row c·d + j = g_c f_j
    got = multilinear_map(torch.from_numpy(f), torch.from_numpy(g))
    assert got.shape == (5, 12)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_randomized_map_against_numpy_and_its_expected_inner_product():
    rng = np.random.default_rng(1)
    f, g = rng.normal(size=(2, 6)), _softmax(rng.normal(size=(2, 4)))
    rf, rg = rng.normal(size=(6, 8)), rng.normal(size=(4, 8))
    expected = (f @ rf) * (g @ rg) / np.sqrt(8)
    got = randomized_multilinear_map(*map(torch.from_numpy, (f, g, rf, rg)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    # with Gaussian projections, <T(a), T(b)> estimates <a_f ⊗ a_g, b_f ⊗ b_g> = <a_f, b_f><a_g, b_g>
    k = 200_000
    torch.manual_seed(0)
    rf, rg = torch.randn(6, k, dtype=torch.float64), torch.randn(4, k, dtype=torch.float64)
    mapped = randomized_multilinear_map(torch.from_numpy(f), torch.from_numpy(g), rf, rg)
    full = multilinear_map(torch.from_numpy(f), torch.from_numpy(g))
    exact = float(full[0] @ full[1])
    assert abs(float(mapped[0] @ mapped[1]) - exact) < 0.05 * float(full[0].norm() * full[1].norm())


def test_entropy_weights_run_from_one_for_uniform_to_two_for_certain():
    uniform, certain = torch.full((1, 4), 0.25, dtype=torch.float64), torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    p = _softmax(np.random.default_rng(2).normal(size=(6, 4)))
    expected = 1 + np.exp((p * np.log(p)).sum(1))
    np.testing.assert_allclose(entropy_weights(torch.from_numpy(p)).numpy(), expected, rtol=1e-12)
    assert entropy_weights(uniform).item() == pytest.approx(1.25)  # 1 + e^{-log 4}
    assert entropy_weights(certain).item() == 2.0  # 0 · log 0 taken as 0, not NaN
    assert not entropy_weights(torch.rand(3, 4, requires_grad=True).softmax(1)).requires_grad


@pytest.mark.parametrize("binary", [True, False])
def test_weighted_domain_loss_rescales_each_domain_to_mean_one(binary):
    rng = np.random.default_rng(3)
    shape = (lambda n: (n,)) if binary else (lambda n: (n, 2))
    zs, zt = rng.normal(size=shape(4)), rng.normal(size=shape(6))
    ws, wt = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 6)
    if binary:
        ls, lt = -np.log(1 - 1 / (1 + np.exp(-zs))), -np.log(1 / (1 + np.exp(-zt)))
    else:
        ls = -(zs[:, 0] - np.log(np.exp(zs).sum(1)))
        lt = -(zt[:, 1] - np.log(np.exp(zt).sum(1)))
    expected = (np.sum(ws / ws.mean() * ls) + np.sum(wt / wt.mean() * lt)) / 10
    t = torch.from_numpy
    got = domain_classification(t(zs), t(zt), (t(ws), t(wt)))
    assert got.item() == pytest.approx(expected, rel=1e-12)
    trained = t(ws).requires_grad_()
    domain_classification(t(zs).requires_grad_(), t(zt), (trained, t(wt))).backward()
    assert trained.grad is None  # the weights steer the loss; no gradient reaches them
    equal = domain_classification(t(zs), t(zt), (torch.ones(4, dtype=torch.float64) * 3, torch.ones(6, dtype=torch.float64)))
    assert equal.item() == pytest.approx(domain_classification(t(zs), t(zt)).item(), rel=1e-12)


def test_bad_conditioning_inputs_name_the_problem():
    f, g = torch.randn(4, 3), torch.rand(4, 2)
    with pytest.raises(ValueError, match="4 rows of features but 5"):
        multilinear_map(f, torch.rand(5, 2))
    with pytest.raises(ValueError, match="probabilities must be a floating"):
        multilinear_map(f, torch.ones(4, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"projections must be \(3, k\) and \(2, k\)"):
        randomized_multilinear_map(f, g, torch.randn(3, 5), torch.randn(3, 5))
    with pytest.raises(ValueError, match="target weights must be a floating tensor of shape \\(4,\\)"):
        domain_classification(torch.randn(4), torch.randn(4), (torch.ones(4), torch.ones(3)))
    with pytest.raises(ValueError, match="not all zero"):
        domain_classification(torch.randn(4), torch.randn(4), (torch.zeros(4), torch.ones(4)))
    with pytest.raises(TypeError, match="a pair"):
        domain_classification(torch.randn(4), torch.randn(4), torch.ones(8))
    with pytest.raises(ValueError, match="randomized_dim must be a positive integer"):
        MultilinearMap(3, 2, randomized_dim=0)


def test_the_map_module_keeps_its_projections_as_buffers():
    torch.manual_seed(0)
    full, randomised = MultilinearMap(5, 3), MultilinearMap(5, 3, randomized_dim=7)
    f, g = torch.randn(4, 5), torch.rand(4, 3)
    assert full(f, g).shape == (4, 15) and full.out_features == 15 and not list(full.buffers())
    assert randomised(f, g).shape == (4, 7) and set(randomised.state_dict()) == {"feature_projection", "class_projection"}
    torch.manual_seed(0)
    assert torch.equal(MultilinearMap(5, 3, randomized_dim=7)(f, g), randomised(f, g))  # seeded: the same map


def test_cdan_feeds_its_domain_classifier_the_map_of_features_and_detached_predictions():
    torch.manual_seed(0)
    method = CDAN(toy_classifier(3, bottleneck=4), entropy=True).double()
    x = torch.randn(6, 2, dtype=torch.float64)
    acts = method.classifier.activations(x)
    seen, weights = method.domain_input(acts)
    g = F.softmax(acts["logits"], 1).detach()
    torch.testing.assert_close(seen, multilinear_map(acts["bottleneck"], g))
    torch.testing.assert_close(weights, entropy_weights(g))
    assert method.adversary.discriminator.in_features == 12  # 4 features × 3 classes
    assert CDAN(toy_classifier(3, bottleneck=4), randomize_above=11, randomized_dim=5).conditioning.out_features == 5
    # the prediction is detached: the domain loss reaches the class scores only through the features
    (grad,) = torch.autograd.grad(seen.sum(), acts["logits"], allow_unused=True)
    assert grad is None
