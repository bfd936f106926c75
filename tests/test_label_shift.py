"""Label shift: the subsampled domain, BBSE's estimate against NumPy float64 and against known weights,
and importance-weighted source training."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tlbook
from tlbook.data import Domain
from tlbook.metrics import accuracy
from tlbook.label_shift import (bbse_weights, confusion_joint, estimate_label_shift, label_shift_pair, prediction_rates,
                                 reweighted_predictions)
from tlbook.methods import SourceOnly
from tlbook.nn import toy_classifier


def _points(n_per_class, seed):
    """Three overlapping Gaussian classes in 2-D: a classifier errs near the borders, so priors matter."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]])
    x = torch.cat([centres[c] + torch.randn(n, 2, generator=g) for c, n in enumerate(n_per_class)])
    y = torch.cat([torch.full((n,), c, dtype=torch.int64) for c, n in enumerate(n_per_class)])
    return x, y


SOURCE = Domain("balanced", "toy", *_points([1000] * 3, 0), *_points([1000] * 3, 1), 3)


def test_with_proportions_keeps_each_class_look_and_sets_its_share():
    shifted = SOURCE.with_proportions([0.6, 0.3, 0.1], seed=0)
    for y in (shifted.y_train, shifted.y_test):
        shares = torch.bincount(y, minlength=3).double() / len(y)
        np.testing.assert_allclose(shares.numpy(), [0.6, 0.3, 0.1], atol=2e-3)
    # every kept example is one of the domain's own, with its own label
    rows = {tuple(x.tolist()): int(y) for x, y in zip(SOURCE.x_train, SOURCE.y_train)}
    assert all(rows[tuple(x.tolist())] == int(y) for x, y in zip(shifted.x_train, shifted.y_train))
    assert len(shifted.y_train) == 1000 + 500 + 167  # the rarest requirement: class 0 keeps all its 1000
    assert torch.equal(SOURCE.with_proportions([6, 3, 1], seed=0).y_train, shifted.y_train)  # normalised
    with pytest.raises(ValueError, match="one value per class \\(3\\)"):
        SOURCE.with_proportions([0.5, 0.5])
    with pytest.raises(ValueError, match="non-negative"):
        SOURCE.with_proportions([0.5, -0.1, 0.6])


def test_confusion_and_rates_against_numpy():
    rng = np.random.default_rng(0)
    predictions, labels = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    expected = np.zeros((4, 4))
    for p, y in zip(predictions, labels):
        expected[p, y] += 1 / 50
    got = confusion_joint(torch.from_numpy(predictions), torch.from_numpy(labels), 4)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(prediction_rates(torch.from_numpy(predictions), 4).numpy(), np.bincount(predictions, minlength=4) / 50)


def test_bbse_recovers_known_weights_from_exact_rates():
    """With the target's prediction rates made exactly from C and w (mu = C w), the solve returns w."""
    rng = np.random.default_rng(1)
    conditional = rng.dirichlet(np.ones(4) * 0.3, size=4).T + 3 * np.eye(4)  # p(prediction i | class j), mostly right
    conditional /= conditional.sum(0, keepdims=True)
    source_prior, target_prior = np.full(4, 0.25), np.array([0.5, 0.3, 0.15, 0.05])
    joint = conditional * source_prior  # C[i, j] = p(pred i | y j) p_s(j)
    w = target_prior / source_prior
    got = bbse_weights(torch.from_numpy(joint), torch.from_numpy(joint @ w))
    np.testing.assert_allclose(got.numpy(), w, rtol=1e-10)
    # rates whose exact solution has a negative weight (estimation noise): that weight is clipped to 0
    negative = np.array([1.5, 1.5, 1.1, -0.1])
    rates = joint @ negative
    assert rates.min() >= 0 and abs(rates.sum() - 1) < 1e-12
    clipped = bbse_weights(torch.from_numpy(joint), torch.from_numpy(rates)).numpy()
    np.testing.assert_allclose(clipped, np.clip(negative, 0, None), rtol=1e-10)
    with pytest.raises(ValueError, match="not counts"):
        bbse_weights(torch.from_numpy(joint * 100), torch.from_numpy(rates))


def test_bbse_names_what_makes_the_system_unsolvable():
    singular = torch.tensor([[0.5, 0.5], [0.0, 0.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"never predicted correctly on the source: \[1\]"):
        bbse_weights(singular, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        bbse_weights(torch.eye(2), torch.ones(3))
    with pytest.raises(ValueError, match="in \\[0, 3\\)"):
        confusion_joint(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)
    with pytest.raises(TypeError, match="predictions must be class indices .* integer dtype, got torch.float32"):
        prediction_rates(torch.tensor([0.0, 1.0]), 2)


def test_bbse_estimates_the_weights_of_a_label_shift_and_weighted_training_gains():
    target = Domain("shifted", "toy", *_points([1400, 450, 150], 2), *_points([1400, 450, 150], 3), 3)
    true = torch.tensor([0.7, 0.225, 0.075], dtype=torch.float64) / (1 / 3)
    holdout = _points([500] * 3, 4)  # labelled source data the model does not train on
    gains = []
    for seed in (0, 1):
        tlbook.seed_everything(seed)
        plain = SourceOnly(toy_classifier(3))
        tlbook.fit(plain, SOURCE, None, steps=300, batch_size=64, lr=0.05, seed=seed, progress_bar=False, eval_sets={})
        estimate = estimate_label_shift(plain, holdout, target.x_train, 3)
        assert (estimate - true).abs().max() < 0.25, f"seed {seed}: estimated {estimate.tolist()}, true {true.tolist()}"
        tlbook.seed_everything(seed)
        weighted = SourceOnly(toy_classifier(3), class_weights=estimate)
        tlbook.fit(weighted, SOURCE, None, steps=300, batch_size=64, lr=0.05, seed=seed, progress_bar=False, eval_sets={})
        gains.append(accuracy(weighted, target.x_test, target.y_test) - accuracy(plain, target.x_test, target.y_test))
    assert min(gains) > 0.02, f"importance weighting gained {gains} on the shifted target"


def test_class_weights_weight_each_example_by_its_class():
    torch.manual_seed(0)
    network = toy_classifier(3)
    weights = torch.tensor([2.0, 0.5, 1.0])
    x, y = SOURCE.x_train[::150], SOURCE.y_train[::150]  # every class (the rows are sorted by class)
    assert set(y.tolist()) == {0, 1, 2}
    loss, _ = SourceOnly(network, class_weights=weights).loss((x, y), (None, None), 0.0)
    per_example = F.cross_entropy(network(x), y, reduction="none")
    torch.testing.assert_close(loss, (weights[y] * per_example).mean())
    zero = SourceOnly(network, class_weights=torch.tensor([0.0, 1.0, 1.0])).loss((x[y == 0], y[y == 0]), (None, None), 0.0)[0]
    assert zero.item() == 0.0  # a batch of weight-0 classes adds nothing (no 0/0)
    with pytest.raises(ValueError, match="shape \\(3,\\)"):
        SourceOnly(network, class_weights=torch.ones(2))
    with pytest.raises(ValueError, match="not all zero"):
        SourceOnly(network, class_weights=torch.zeros(3))


def test_label_shift_pair_splits_without_overlap_and_shifts_only_the_target():
    source, target = label_shift_pair(SOURCE, [0.6, 0.3, 0.1], seed=0)
    for split in ("train", "test"):
        xs, xt = getattr(source, f"x_{split}"), getattr(target, f"x_{split}")
        shared = (xs[:, None, :] == xt[None, :, :]).all(-1).any()
        assert not shared, f"the {split} splits share an example"
        assert len(xs) == len(getattr(SOURCE, f"x_{split}")) // 2
    assert abs(torch.bincount(source.y_train).double().std().item()) < 40  # the source stays balanced (about 500 each)
    share = torch.bincount(target.y_train).double() / len(target.y_train)
    np.testing.assert_allclose(share.numpy(), [0.6, 0.3, 0.1], atol=0.01)
    with pytest.raises(ValueError, match="too few to halve"):
        label_shift_pair(Domain("tiny", "toy", *_points([1, 1, 1], 0), *_points([1, 1, 0], 1), 3), [1, 1, 1])


def test_reweighted_predictions_apply_bayes_rule_to_the_softmax():
    model = torch.nn.Linear(2, 3)
    x = torch.randn(50, 2)
    weights = torch.tensor([3.0, 1.0, 0.2], dtype=torch.float64)
    probabilities = F.softmax(model(x).detach().double(), 1).numpy()
    expected = np.argmax(probabilities * weights.numpy(), axis=1)
    np.testing.assert_array_equal(reweighted_predictions(model, x, weights).numpy(), expected)
    np.testing.assert_array_equal(reweighted_predictions(model, x, torch.ones(3)).numpy(), probabilities.argmax(1))
    for bad, message in ((torch.ones(2), "2 weights"), (torch.tensor([1.0, -1.0, 1.0]), "non-negative"),
                         (torch.ones(3, 1), r"\(C,\) tensor")):
        with pytest.raises(ValueError, match=message):
            reweighted_predictions(model, x, bad)
