"""Discrepancy losses against independent NumPy float64 formulas, plus their invariants."""
import numpy as np
import pytest
import torch

from tlbook.losses import cmd, coral, dan_bandwidths, median_bandwidth, mk_mmd, mmd

SHAPES = [(8, 8, 3), (16, 10, 5), (7, 12, 1), (32, 32, 20)]  # (n source, m target, d)


def _sample(n, m, d, seed=0, shift=0.5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(loc=shift, scale=1.3, size=(m, d))


def _t(a, requires_grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)


# --- independent NumPy references: explicit loops over pairs, nothing shared with tlbook ---

def np_kernel_matrix(a, b, kernel):
    return np.array([[kernel(u, v) for v in b] for u in a])


def np_mmd(x, y, kernel, estimator):
    n, m = len(x), len(y)
    if estimator == "linear":
        terms = [kernel(x[2 * i], x[2 * i + 1]) + kernel(y[2 * i], y[2 * i + 1])
                 - kernel(x[2 * i], y[2 * i + 1]) - kernel(x[2 * i + 1], y[2 * i]) for i in range(n // 2)]
        return np.mean(terms)
    kxx, kyy, kxy = np_kernel_matrix(x, x, kernel), np_kernel_matrix(y, y, kernel), np_kernel_matrix(x, y, kernel)
    if estimator == "biased":
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    off = lambda k: (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))  # noqa: E731
    return off(kxx) + off(kyy) - 2 * kxy.mean()


def np_median_sq_distance(x, y):
    pooled = np.vstack([x, y])
    return np.median([np.sum((pooled[i] - pooled[j]) ** 2) for i in range(len(pooled)) for j in range(i + 1, len(pooled))])


def np_gaussian_family(gamma, multipliers):
    return lambda u, v: np.mean([np.exp(-np.sum((u - v) ** 2) / (mu * gamma)) for mu in multipliers])


def np_coral(x, y):
    d = x.shape[1]
    return np.sum((np.cov(x, rowvar=False, ddof=1).reshape(d, d) - np.cov(y, rowvar=False, ddof=1).reshape(d, d)) ** 2) / (4 * d * d)


def np_cmd(x, y, k, a, b):
    total = np.linalg.norm(x.mean(0) - y.mean(0)) / abs(b - a)
    for j in range(2, k + 1):
        total += np.linalg.norm(((x - x.mean(0)) ** j).mean(0) - ((y - y.mean(0)) ** j).mean(0)) / abs(b - a) ** j
    return total


# --- MMD ---

@pytest.mark.parametrize("n,m,d", SHAPES)
@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_linear_mmd_matches_numpy(n, m, d, estimator):
    x, y = _sample(n, m, d)
    expected = np_mmd(x, y, np.dot, estimator)
    assert mmd(_t(x), _t(y), "linear", estimator).item() == pytest.approx(expected, abs=1e-6)
    if estimator == "biased":  # DDC's form: the squared distance of the means
        assert expected == pytest.approx(np.sum((x.mean(0) - y.mean(0)) ** 2), abs=1e-9)


@pytest.mark.parametrize("n,m,d", SHAPES)
@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_gaussian_mmd_matches_numpy(n, m, d, estimator):
    x, y = _sample(n, m, d, seed=1)
    gamma = np_median_sq_distance(x, y)
    expected = np_mmd(x, y, np_gaussian_family(gamma, [1.0]), estimator)
    assert mmd(_t(x), _t(y), "gaussian", estimator).item() == pytest.approx(expected, abs=1e-6)
    assert median_bandwidth(_t(x), _t(y)).item() == pytest.approx(gamma, rel=1e-12)


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
def test_linear_time_estimator_matches_numpy(kernel):
    x, y = _sample(12, 12, 4, seed=2)
    k = np.dot if kernel == "linear" else np_gaussian_family(np_median_sq_distance(x, y), [1.0])
    assert mmd(_t(x), _t(y), kernel, "linear").item() == pytest.approx(np_mmd(x, y, k, "linear"), abs=1e-6)


@pytest.mark.parametrize("n,m,d", SHAPES)
def test_mk_mmd_matches_numpy_with_dan_family(n, m, d):
    x, y = _sample(n, m, d, seed=3)
    family = np_gaussian_family(np_median_sq_distance(x, y), [2.0 ** (u / 2) for u in range(-16, 17)])
    assert mk_mmd(_t(x), _t(y)).item() == pytest.approx(np_mmd(x, y, family, "biased"), abs=1e-6)
    assert mk_mmd(_t(x), _t(y), estimator="unbiased").item() == pytest.approx(np_mmd(x, y, family, "unbiased"), abs=1e-6)


def test_dan_family_is_two_to_the_minus_eight_to_eight_in_root_two_steps():
    family = dan_bandwidths()
    assert len(family) == 33 and family[0] == 2.0**-8 and family[-1] == 2.0**8 and family[16] == 1.0
    assert np.allclose(np.diff(np.log2(family)), 0.5)


def test_mk_mmd_custom_family_and_weights():
    x, y = _sample(10, 9, 3, seed=4)
    gamma = np_median_sq_distance(x, y)
    k = lambda u, v: 0.25 * np.exp(-np.sum((u - v) ** 2) / gamma) + 0.75 * np.exp(-np.sum((u - v) ** 2) / (4 * gamma))  # noqa: E731
    got = mk_mmd(_t(x), _t(y), multipliers=[1.0, 4.0], weights=[0.25, 0.75]).item()
    assert got == pytest.approx(np_mmd(x, y, k, "biased"), abs=1e-6)


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
def test_biased_mmd_of_a_sample_with_itself_is_zero(kernel):
    x, _ = _sample(9, 9, 4)
    assert mmd(_t(x), _t(x), kernel).item() == pytest.approx(0.0, abs=1e-12)
    assert mk_mmd(_t(x), _t(x)).item() == pytest.approx(0.0, abs=1e-12)


def test_mmd_grows_with_the_shift():
    values = [mmd(*map(_t, _sample(64, 64, 3, seed=5, shift=s)), "gaussian").item() for s in (0.0, 0.5, 2.0)]
    assert values[0] < values[1] < values[2]


def test_bandwidth_carries_no_gradient():
    x, y = _t(_sample(6, 6, 2)[0], True), _t(_sample(6, 6, 2)[1], True)
    assert not median_bandwidth(x, y).requires_grad
    # With the bandwidth fixed by hand to the same value the gradients are identical.
    gamma = median_bandwidth(x, y).item()
    g_auto = torch.autograd.grad(mk_mmd(x, y), x)[0]
    g_fixed = torch.autograd.grad(mk_mmd(x, y, bandwidth=gamma), x)[0]
    assert torch.allclose(g_auto, g_fixed, atol=1e-12)


def test_mk_mmd_gradient_passes_gradcheck():
    # the kernel sum computes its own derivative in d² (one pass over the 33 kernels): check it numerically
    x, y = _t(_sample(7, 5, 3, seed=11)[0], True), _t(_sample(7, 5, 3, seed=11)[1], True)
    gamma = median_bandwidth(x, y).item()  # fixed: the median is piecewise, not differentiable everywhere
    for estimator in ("biased", "unbiased"):
        assert torch.autograd.gradcheck(lambda a, b: mk_mmd(a, b, estimator=estimator, bandwidth=gamma), (x, y))


def test_mk_mmd_gradient_equals_plain_autograd_and_learnt_bandwidths_still_get_one():
    x, y = _t(_sample(9, 6, 4, seed=12)[0], True), _t(_sample(9, 6, 4, seed=12)[1])
    fused = torch.autograd.grad(mk_mmd(x, y), x)[0]
    # a bandwidth that requires a gradient takes the plain autograd path: compare the two paths on x
    gamma = median_bandwidth(x, y).clone().requires_grad_()
    plain_x, plain_gamma = torch.autograd.grad(mk_mmd(x, y, bandwidth=gamma), (x, gamma))
    assert torch.allclose(fused, plain_x, atol=1e-12)
    assert plain_gamma.abs() > 0
    # the kernel values are exact: no kernel is clamped by more than exp(-80)
    assert torch.allclose(mk_mmd(x, y), mk_mmd(x, y, bandwidth=gamma.detach()), atol=1e-12)


def test_mk_mmd_is_not_silently_twice_differentiable():
    x, y = _t(_sample(5, 5, 2, seed=13)[0], True), _t(_sample(5, 5, 2, seed=13)[1])
    with pytest.raises(RuntimeError, match="second derivatives"):
        torch.autograd.grad(mk_mmd(x, y), x, create_graph=True)
    gamma = median_bandwidth(x, y).clone().requires_grad_()  # the plain path is twice differentiable
    (g,) = torch.autograd.grad(mk_mmd(x, y, bandwidth=gamma), x, create_graph=True)
    assert torch.autograd.grad(g.sum(), x)[0].abs().sum() > 0


def test_float32_and_float64_agree():
    x, y = _sample(20, 15, 6, seed=6)
    for loss in (lambda a, b: mmd(a, b, "gaussian"), mk_mmd, coral, lambda a, b: cmd(torch.sigmoid(a), torch.sigmoid(b))):
        v32 = loss(_t(x).float(), _t(y).float())
        v64 = loss(_t(x), _t(y))
        assert v32.dtype == torch.float32 and v32.item() == pytest.approx(v64.item(), rel=1e-4, abs=1e-6)


# --- CORAL ---

@pytest.mark.parametrize("n,m,d", SHAPES)
def test_coral_matches_numpy(n, m, d):
    x, y = _sample(n, m, d, seed=7)
    assert coral(_t(x), _t(y)).item() == pytest.approx(np_coral(x, y), abs=1e-6)


def test_coral_is_symmetric_and_ignores_the_mean():
    x, y = map(_t, _sample(20, 13, 4, seed=8))
    assert coral(x, y).item() == pytest.approx(coral(y, x).item(), abs=1e-12)
    assert coral(x, x + 3.0).item() == pytest.approx(0.0, abs=1e-12)


# --- CMD ---

@pytest.mark.parametrize("n,m,d", SHAPES)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_cmd_matches_numpy(n, m, d, k):
    x, y = _sample(n, m, d, seed=9)
    x, y = 1 / (1 + np.exp(-x)), 1 / (1 + np.exp(-y))
    assert cmd(_t(x), _t(y), k=k).item() == pytest.approx(np_cmd(x, y, k, 0.0, 1.0), abs=1e-6)


def test_cmd_scales_by_the_bounds():
    x, y = _sample(10, 10, 3, seed=10)
    x, y = np.tanh(x), np.tanh(y)
    assert cmd(_t(x), _t(y), bounds=(-1.0, 1.0)).item() == pytest.approx(np_cmd(x, y, 5, -1.0, 1.0), abs=1e-6)


def test_cmd_is_symmetric_and_zero_for_equal_samples():
    x, y = map(_t, _sample(11, 14, 5, seed=11))
    assert cmd(x, y).item() == pytest.approx(cmd(y, x).item(), abs=1e-12)
    assert cmd(x, x).item() == 0.0


def test_cmd_gradient_is_finite_for_equal_samples():
    x = _t(_sample(8, 8, 3)[0], requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    cmd(x, y).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


# --- clear errors ---

@pytest.mark.parametrize("loss", [mmd, mk_mmd, coral, cmd])
def test_mismatched_feature_dimensions_are_rejected(loss):
    with pytest.raises(ValueError, match=r"x \(source\) has 3 features but y \(target\) has 4"):
        loss(torch.rand(5, 3), torch.rand(5, 4))


@pytest.mark.parametrize("loss", [mmd, mk_mmd, coral, cmd])
def test_non_2d_inputs_are_rejected(loss):
    with pytest.raises(ValueError, match=r"x must be source features \(batch, features\) with 2 dimension"):
        loss(torch.rand(5, 3, 2), torch.rand(5, 3, 2))


def test_batches_too_small_for_the_statistic_are_rejected():
    with pytest.raises(ValueError, match="x needs at least 2 row"):
        coral(torch.rand(1, 3), torch.rand(4, 3))
    with pytest.raises(ValueError, match="y needs at least 2 rows"):
        mmd(torch.rand(4, 3), torch.rand(1, 3), estimator="unbiased")
    with pytest.raises(ValueError, match="equal, even batch sizes"):
        mmd(torch.rand(4, 3), torch.rand(6, 3), estimator="linear")


def test_integer_inputs_and_unknown_options_are_rejected():
    with pytest.raises(TypeError, match="x must be source features .* floating-point dtype"):
        coral(torch.ones(4, 2, dtype=torch.int64), torch.ones(4, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="unknown kernel"):
        mmd(torch.rand(4, 2), torch.rand(4, 2), kernel="laplace")
    with pytest.raises(ValueError, match="unknown estimator"):
        mk_mmd(torch.rand(4, 2), torch.rand(4, 2), estimator="fast")
    with pytest.raises(ValueError, match="with a < b"):
        cmd(torch.rand(4, 2), torch.rand(4, 2), bounds=(1.0, 1.0))


@pytest.mark.parametrize("offset", [1e2, 1e4])
def test_float32_features_far_from_the_origin_stay_accurate(offset):
    """Without centring, ‖a‖² + ‖b‖² − 2a·b cancels catastrophically and MK-MMD went negative."""
    x, y = _sample(64, 64, 50, seed=12, shift=0.1)
    for loss in (mk_mmd, lambda a, b: mmd(a, b, "gaussian"), lambda a, b: mmd(a, b, "linear", "unbiased")):
        exact = loss(_t(x + offset), _t(y + offset)).item()
        single = loss(_t(x + offset).float(), _t(y + offset).float()).item()
        assert single == pytest.approx(exact, rel=1e-3, abs=1e-5)
    assert mk_mmd(_t(x + offset).float(), _t(y + offset).float()).item() >= 0
