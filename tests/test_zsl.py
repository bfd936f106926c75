"""Zero-shot learning: the hinge, ESZSL, DAP and the metrics against NumPy; data splits; behaviour."""
import numpy as np
import pytest
import torch
from torch import nn

from tlbook import zsl
from tlbook.losses import attribute_hinge
from tlbook.nn import DigitCNN


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


# --- independent NumPy references ---

def np_hinge(scores, labels, margin, violators):
    losses = []
    for s, y in zip(scores, labels):
        others = [s[m] for m in range(len(s)) if m != y]
        if violators == "max":
            losses.append(max(0.0, margin - s[y] + max(others)))
        else:
            losses.append(sum(max(0.0, margin - s[y] + o) for o in others))
    return np.mean(losses)


def np_eszsl(X, labels, S, gamma, lam):  # X: m×d rows; S: z×a rows (the paper's matrices transposed)
    Xp, Sp = X.T, S.T
    Y = -np.ones((len(labels), len(S)))
    Y[np.arange(len(labels)), labels] = 1
    A = np.linalg.solve(Xp @ Xp.T + gamma * np.eye(Xp.shape[0]), Xp @ Y @ Sp.T)
    return np.linalg.solve((Sp @ Sp.T + lam * np.eye(Sp.shape[0])).T, A.T).T


# --- the hinge ---

@pytest.mark.parametrize("violators", ["max", "sum"])
@pytest.mark.parametrize("margin", [0.0, 0.5, 1.0])
def test_hinge_matches_numpy(violators, margin):
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=(13, 6)), rng.integers(0, 6, 13)
    got = attribute_hinge(_t(scores), torch.tensor(labels), margin, violators).item()
    assert got == pytest.approx(np_hinge(scores, labels, margin, violators), abs=1e-12)


@pytest.mark.parametrize("violators", ["max", "sum"])
def test_hinge_is_zero_when_every_margin_holds_and_positive_otherwise(violators):
    labels = torch.tensor([0, 2, 1])
    scores = torch.zeros(3, 4, dtype=torch.float64)
    scores[torch.arange(3), labels] = 1.0  # the true class beats every other by exactly the margin
    assert attribute_hinge(scores, labels, 1.0, violators).item() == 0.0
    scores[0, 3] = 0.5  # one rival comes within the margin
    assert attribute_hinge(scores, labels, 1.0, violators).item() == pytest.approx(0.5 / 3)


def test_hinge_sum_bounds_max_and_gradient_reaches_only_violators():
    scores = torch.tensor([[2.0, 1.5, -3.0]], requires_grad=True)
    loss = attribute_hinge(scores, torch.tensor([0]), 1.0, "max")
    loss.backward()
    assert scores.grad.tolist() == [[-1.0, 1.0, 0.0]]
    s = torch.randn(20, 5, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 5, (20,), generator=torch.Generator().manual_seed(2))
    assert attribute_hinge(s, y, violators="sum") >= attribute_hinge(s, y, violators="max")


@pytest.mark.parametrize("bad,match", [
    (dict(scores=torch.zeros(3, 1)), "2 classes"),
    (dict(scores=torch.zeros(3, 4, dtype=torch.int64)), "floating"),
    (dict(labels=torch.tensor([0, 1])), "labels must hold one class per example, 3, got 2"),
    (dict(labels=torch.tensor([0, 1, 4])), r"labels must lie in \[0, 4\), got class\(es\) \[4\]"),
    (dict(margin=-1.0), "margin"),
    (dict(violators="mean"), "violators"),
])
def test_hinge_rejects_bad_input(bad, match):
    args = dict(scores=torch.zeros(3, 4), labels=torch.tensor([0, 1, 2]), margin=1.0, violators="max") | bad
    with pytest.raises((ValueError, TypeError), match=match):
        attribute_hinge(**args)


# --- ESZSL ---

@pytest.mark.parametrize("gamma,lam", [(1.0, 1.0), (0.1, 10.0), (3.0, 0.5)])
def test_eszsl_matches_numpy_solve(gamma, lam):
    rng = np.random.default_rng(3)
    X, labels, S = rng.normal(size=(40, 7)), rng.integers(0, 5, 40), rng.normal(size=(5, 4))
    V = zsl.eszsl_fit(_t(X), torch.tensor(labels), _t(S), gamma, lam)
    np.testing.assert_allclose(V.numpy(), np_eszsl(X, labels, S, gamma, lam), rtol=1e-9, atol=1e-12)
    scores = zsl.eszsl_scores(_t(X), V, _t(S))
    np.testing.assert_allclose(scores.numpy(), X @ V.numpy() @ S.T, rtol=1e-9, atol=1e-12)


def test_eszsl_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must lie in \\[0, 3\\)"):
        zsl.eszsl_fit(torch.zeros(4, 2), torch.tensor([0, 1, 2, 3]), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"gamma must lie in \(0, inf\)"):
        zsl.eszsl_fit(torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]), torch.zeros(3, 2), gamma=0.0)


# --- DAP ---

def test_dap_scores_match_the_factorised_posterior():
    torch.manual_seed(0)
    encoder = nn.Identity()
    encoder.out_features = 3
    model = zsl.DAP(encoder, 3).double()
    attributes = torch.tensor([[1.0, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=torch.float64)
    model.train()
    model.loss(torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0]), attributes)
    np.testing.assert_allclose(model.prior.numpy(), [2 / 3, 2 / 3, 2 / 3])
    x = torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        p = torch.sigmoid(model.attribute_logits(x)).numpy()
        got = model(x, attributes).numpy()
    a, prior = attributes.numpy(), np.full(3, 2 / 3)
    expected = np.array([[np.sum(np.log(np.where(z == 1, pi, 1 - pi)) - np.log(np.where(z == 1, prior, 1 - prior)))
                          for z in a] for pi in p])
    np.testing.assert_allclose(got, expected, rtol=1e-10)


# --- metrics ---

def test_harmonic_mean_including_zeros():
    assert zsl.harmonic_mean(0.5, 0.5) == pytest.approx(0.5)
    assert zsl.harmonic_mean(0.2, 0.8) == pytest.approx(2 * 0.2 * 0.8 / 1.0)
    assert zsl.harmonic_mean(0.0, 0.9) == 0.0
    assert zsl.harmonic_mean(0.0, 0.0) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        zsl.harmonic_mean(50.0, 0.2)


def test_per_class_accuracy_weights_classes_equally():
    labels = torch.tensor([0, 0, 0, 0, 1])
    predictions = torch.tensor([0, 0, 0, 0, 0])
    assert zsl.per_class_accuracy(predictions, labels) == pytest.approx(0.5)  # plain accuracy would be 0.8


@pytest.mark.parametrize("calibration", [0.0, 0.7, -2.0, 100.0])
def test_prediction_never_leaves_the_candidate_set(calibration):
    g = torch.Generator().manual_seed(0)
    candidates = torch.tensor([7, 2, 11, 4])
    scores = torch.randn(200, 4, generator=g)
    pred = zsl.predict(scores, candidates, seen=torch.tensor([2, 4]), calibration=calibration)
    assert torch.isin(pred, candidates).all()
    if calibration == 100.0:  # a large γ sends everything to the unseen candidates
        assert torch.isin(pred, torch.tensor([7, 11])).all()


def test_class_scores_reject_candidates_outside_the_classes():
    model = zsl.AttributeEmbedding(DigitCNN(in_channels=1), 4)
    with pytest.raises(ValueError, match=r"candidates must lie in \[0, 3\), got class\(es\) \[3\]"):
        zsl.class_scores(model, torch.zeros(2, 1, 16, 16), torch.zeros(3, 4), torch.tensor([0, 3]))


def test_calibration_raises_unseen_accuracy_and_curve_spans_both_extremes():
    g = torch.Generator().manual_seed(0)
    candidates, seen = torch.arange(4), torch.tensor([0, 1])
    y_seen, y_unseen = torch.tensor([0, 1] * 20), torch.tensor([2, 3] * 20)
    bias = torch.tensor([2.0, 2.0, 0.0, 0.0])  # seen classes swamp unseen ones
    s_seen = torch.nn.functional.one_hot(y_seen, 4) * 1.5 + bias + 0.1 * torch.randn(40, 4, generator=g)
    s_unseen = torch.nn.functional.one_hot(y_unseen, 4) * 1.5 + bias + 0.1 * torch.randn(40, 4, generator=g)
    plain = zsl.generalised(s_seen, y_seen, s_unseen, y_unseen, candidates, seen)
    assert plain.u == 0.0 and plain.H == 0.0
    gammas, u, s, H = zsl.seen_unseen_curve(s_seen, y_seen, s_unseen, y_unseen, candidates, seen)
    assert u[0] == 0 and s[-1] == 0 and u[-1] == 1 and s[0] == 1
    gamma = zsl.choose_calibration(s_seen, y_seen, s_unseen, y_unseen, candidates, seen)
    assert zsl.generalised(s_seen, y_seen, s_unseen, y_unseen, candidates, seen, gamma).H > 0.9


def test_signatures_are_unit_norm_plus_minus_codes():
    sig = zsl.signatures(torch.tensor([[1.0, 0.0, 1.0, 1.0]]))
    np.testing.assert_allclose(sig.numpy(), [[0.5, -0.5, 0.5, 0.5]])


# --- data ---

@pytest.fixture(scope="module")
def shapes():
    return zsl.load_zero_shot("shapes")


@pytest.fixture(scope="module")
def digits():
    return zsl.load_zero_shot("digits")


def _varies_among_seen(data):
    seen_attributes = data.attributes[data.seen]
    return (seen_attributes.min(0).values == 0) & (seen_attributes.max(0).values == 1)


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_splits_are_disjoint_and_every_class_has_its_own_signature(name, request):
    data = request.getfixturevalue(name)
    assert not torch.isin(data.y_train, data.unseen).any()
    assert torch.isin(data.y_test_unseen, data.unseen).all() and torch.isin(data.y_test_seen, data.seen).all()
    assert set(data.y_test_unseen.unique().tolist()) == set(data.unseen.tolist())
    assert len(torch.unique(data.attributes, dim=0)) == data.num_classes
    learnable = data.attributes[data.unseen][:, _varies_among_seen(data)]  # what seen classes can teach
    assert len(torch.unique(learnable, dim=0)) == len(data.unseen)


def test_every_shape_attribute_can_be_learnt_from_seen_classes(shapes):
    assert _varies_among_seen(shapes).all()


def test_digit_split_follows_the_attribute_rule(digits):
    assert digits.unseen.tolist() == [0, 1, 2, 5, 7]
    assert digits.input_shape == (1, 16, 16) and digits.num_attributes == 15
    assert zsl.most_distinct_classes(torch.eye(3), 2) == (0, 1)


def test_shapes_have_64_combinations_and_16_unseen(shapes):
    assert shapes.num_classes == 64 and shapes.num_attributes == 12 and len(shapes.unseen) == 16
    assert shapes.input_shape == (3, 16, 16)
    assert 0 <= shapes.x_train.min() and shapes.x_train.max() <= 1
    assert torch.equal(zsl.render_shapes([("cross", "red", "large", "outline")]),
                       zsl.render_shapes([("cross", "red", "large", "outline")]))


def test_validation_stays_inside_the_seen_training_images(shapes):
    val = shapes.validation()
    assert set(val.unseen.tolist()) == set(shapes.validation_unseen)
    assert set(val.seen.tolist()) | set(val.unseen.tolist()) == set(shapes.seen.tolist())
    assert len(val.x_train) + len(val.x_test_seen) + len(val.x_test_unseen) == len(shapes.x_train)


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(KeyError, match="digits"):
        zsl.load_zero_shot("awa2")


def test_data_rejects_a_wrong_attribute_matrix(digits):
    with pytest.raises(ValueError, match=r"\(10, A\)"):
        digits.with_attributes(torch.zeros(9, 3), ("a", "b", "c"))


# --- behaviour: learning from seen classes transfers to unseen ones ---

@pytest.mark.parametrize("make", [
    lambda a: zsl.AttributeEmbedding(DigitCNN(widths=(16, 32)), a, cosine_scale=10.0),
    lambda a: zsl.DAP(DigitCNN(widths=(16, 32)), a),
], ids=["embedding", "dap"])
def test_models_recognise_unseen_shape_combinations_well_above_chance(make, shapes):
    model = make(shapes.num_attributes)
    zsl.train_zero_shot(model, shapes, steps=150, seed=0, progress_bar=False)
    scores = zsl.class_scores(model, shapes.x_test_unseen, shapes.attributes, shapes.unseen)
    accuracy = zsl.per_class_accuracy(zsl.predict(scores, shapes.unseen), shapes.y_test_unseen)
    assert accuracy > 3 / len(shapes.unseen), accuracy
