"""Minimum Class Confusion: the loss against NumPy float64, its range, and the method on a small shift."""
import numpy as np
import pytest
import torch

import tlbook
from tlbook.losses import minimum_class_confusion
from tlbook.methods import MCC, SourceOnly
from tlbook.nn import MLP, Classifier

from toy import blob_domain


def np_mcc(z, temperature):
    e = np.exp(z / temperature - (z / temperature).max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    h = -(p * np.log(p)).sum(1)
    w = 1 + np.exp(-h)
    w = len(z) * w / w.sum()
    c = p.T @ np.diag(w) @ p
    c = c / c.sum(1, keepdims=True)
    return (c.sum() - np.trace(c)) / z.shape[1]


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_mcc_against_numpy(temperature):
    z = np.random.default_rng(0).normal(size=(9, 4)) * 2
    got = minimum_class_confusion(torch.from_numpy(z), temperature)
    assert got.item() == pytest.approx(np_mcc(z, temperature), rel=1e-12)


def test_mcc_is_zero_for_confident_distinct_classes_and_large_for_hesitation():
    confident = torch.eye(3, dtype=torch.float64).repeat(4, 1) * 60
    assert minimum_class_confusion(confident).item() < 1e-6
    hesitant = torch.zeros(12, 3, dtype=torch.float64)  # uniform predictions: every pair of classes confused
    assert minimum_class_confusion(hesitant).item() == pytest.approx(2 / 3)


def test_mcc_names_bad_input():
    with pytest.raises(ValueError, match="two classes"):
        minimum_class_confusion(torch.zeros(4, 1))
    with pytest.raises(ValueError, match=r"logits must be target logits \(N, C\) with 2 dimension"):
        minimum_class_confusion(torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="temperature"):
        minimum_class_confusion(torch.zeros(4, 2), temperature=0.0)


def test_mcc_beats_source_only_on_a_small_shift():
    source, target = blob_domain("clean", 1.0, 0.0, 0), blob_domain("noisy", 3.0, 2.0, 1)
    for seed in (0, 1):
        accuracies = []
        for make in (SourceOnly, MCC):
            tlbook.seed_everything(seed)
            method = make(Classifier(MLP(8, (32,)), 2, bottleneck=16, hidden=()))
            accuracies.append(tlbook.fit(method, source, target, steps=300, batch_size=64, optimizer="adam", lr=1e-2,
                                         seed=seed, progress_bar=False, eval_every=300).final("target test"))
        assert accuracies[1] > accuracies[0] + 0.02, f"seed {seed}: source-only, MCC = {accuracies}"
