"""Gradient reversal, the domain discriminator and the adversarial losses against NumPy float64."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tlbook.losses import class_soft_labels, domain_classification, domain_confusion, soft_label_loss
from tlbook.nn import DomainDiscriminator, GradientReversal, grad_reverse
from tlbook.schedules import dann_lambda


def np_log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


# --- gradient reversal ---

@pytest.mark.parametrize("coefficient", [0.0, 0.3, 1.0, 2.5])
def test_reversal_is_identity_forward_and_minus_lambda_backward(coefficient):
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    y = grad_reverse(x, coefficient)
    assert torch.equal(y, x)
    g = torch.randn(5, 4, dtype=torch.float64)
    (grad,) = torch.autograd.grad(y, x, g)
    assert torch.equal(grad, -coefficient * g)


@pytest.mark.parametrize("coefficient", [0.5, 1.0, 3.0])
def test_reversal_gradcheck(coefficient):
    """gradcheck compares autograd's Jacobian with finite differences of the forward pass. The
    reversal's forward is the identity, so wrap it: g(x) = R(x) − (1 + λ)·stop_grad(x) computes −λx,
    and its only gradient path runs through R. gradcheck passes iff R's backward is exactly −λ·I."""
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: grad_reverse(t, coefficient) - (1 + coefficient) * t.detach(), (x,))
    # and the raw layer must fail it: its gradient is deliberately not the derivative of its forward
    assert not torch.autograd.gradcheck(lambda t: grad_reverse(t, coefficient), (x,), raise_exception=False)


def test_reversal_module_follows_its_coefficient_and_rejects_a_negative_one():
    layer = GradientReversal()
    x = torch.ones(2, 3, requires_grad=True)
    layer.coefficient = dann_lambda(0.5)
    layer(x).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, -dann_lambda(0.5)))
    with pytest.raises(ValueError, match="non-negative"):
        grad_reverse(x, -1.0)


def test_discriminator_outputs_logits_of_the_right_shape():
    d = DomainDiscriminator(12, hidden=(8,))
    assert d(torch.randn(5, 12)).shape == (5,)
    assert DomainDiscriminator(12, domains=2)(torch.randn(5, 3, 4)).shape == (5, 2)
    with pytest.raises(ValueError, match="expects 12 features"):
        d(torch.randn(5, 11))


def test_features_get_a_domain_gradient_that_raises_the_domain_loss():
    """Through the reversal, a small step of the *features* along their gradient increases the
    discriminator's loss (they confuse it), while the discriminator's own step decreases it."""
    torch.manual_seed(0)
    encoder, disc = torch.nn.Linear(4, 6), DomainDiscriminator(6, hidden=(5,))
    xs, xt = torch.randn(16, 4) + 1, torch.randn(16, 4) - 1

    def domain_loss():
        return domain_classification(disc(grad_reverse(encoder(xs), 1.0)), disc(grad_reverse(encoder(xt), 1.0)))

    before = domain_loss()
    before.backward()
    assert encoder.weight.grad.abs().sum() > 0
    with torch.no_grad():  # gradient *descent* on the total loss, for the encoder only
        for p in encoder.parameters():
            p -= 1e-2 * p.grad
        assert domain_loss() > before
        for p in encoder.parameters():
            p += 1e-2 * p.grad
        for p in disc.parameters():
            p -= 1e-2 * p.grad
        assert domain_loss() < before


# --- losses against NumPy ---

def test_domain_classification_binary_and_multi_logit():
    rng = np.random.default_rng(0)
    zs, zt = rng.normal(size=7), rng.normal(size=5)
    expected = -(np.log(1 - np_sigmoid(zs)).sum() + np.log(np_sigmoid(zt)).sum()) / 12
    got = domain_classification(torch.tensor(zs), torch.tensor(zt))
    assert got.dtype == torch.float64 and np.isclose(got.item(), expected, rtol=1e-12)
    Zs, Zt = rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    expected = -(np_log_softmax(Zs)[:, 0].sum() + np_log_softmax(Zt)[:, 1].sum()) / 12
    assert np.isclose(domain_classification(torch.tensor(Zs), torch.tensor(Zt)).item(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="disagree"):
        domain_classification(torch.tensor(zs), torch.tensor(Zt))


@pytest.mark.parametrize("domains", [1, 2, 3])
def test_domain_confusion_is_cross_entropy_to_uniform(domains):
    rng = np.random.default_rng(domains)
    if domains == 1:
        z = rng.normal(size=9) * 3
        expected = -np.mean(0.5 * np.log(np_sigmoid(z)) + 0.5 * np.log(1 - np_sigmoid(z)))
    else:
        z = rng.normal(size=(9, domains)) * 3
        expected = -np.mean(np_log_softmax(z).mean(1))
    got = domain_confusion(torch.tensor(z))
    assert np.isclose(got.item(), expected, rtol=1e-12)
    uniform = torch.zeros(4) if domains == 1 else torch.zeros(4, domains)
    assert np.isclose(domain_confusion(uniform).item(), np.log(max(domains, 2)), rtol=1e-6)  # its minimum


def test_domain_confusion_is_finite_for_confident_logits():
    z = torch.tensor([80.0, -80.0], requires_grad=True)
    loss = domain_confusion(z)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_soft_labels_and_soft_label_loss_against_numpy():
    rng = np.random.default_rng(3)
    z, y, tau = rng.normal(size=(30, 4)) * 2, rng.permutation(np.arange(30) % 4), 2.0
    p = np.exp(np_log_softmax(z / tau))
    table = np.stack([p[y == k].mean(0) for k in range(4)])
    got = class_soft_labels(torch.tensor(z), torch.tensor(y))
    assert got.dtype == torch.float64 and np.allclose(got.numpy(), table, atol=1e-12)
    assert np.allclose(got.sum(1).numpy(), 1.0)
    zt, yt = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    expected = -np.mean([(table[c] * np_log_softmax(zt / tau)[i]).sum() for i, c in enumerate(yt)])
    loss = soft_label_loss(torch.tensor(zt), torch.tensor(yt), torch.tensor(table), temperature=tau)
    assert np.isclose(loss.item(), expected, rtol=1e-12)


def test_soft_label_errors_name_the_problem():
    z = torch.randn(6, 3)
    with pytest.raises(ValueError, match=r"class\(es\) \[2\]"):
        class_soft_labels(z, torch.tensor([0, 1, 0, 1, 0, 1]))
    with pytest.raises(TypeError, match="labels must be class indices of dtype torch.int64"):
        class_soft_labels(z, torch.tensor([0, 1, 2, 0, 1, 2], dtype=torch.int32))
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        soft_label_loss(z, torch.zeros(6, dtype=torch.int64), torch.eye(4))
    with pytest.raises(ValueError, match=r"temperature must lie in \(0, inf\)"):
        soft_label_loss(z, torch.zeros(6, dtype=torch.int64), torch.eye(3), temperature=0)
