"""Behavioural tests: on a small shift, each discrepancy method beats source-only."""
import pytest
import torch

import tlbook
from tlbook.methods import CMD, DAN, DDC, DeepCORAL, SourceOnly
from tlbook.nn import MLP, Classifier, toy_classifier

from toy import blob_domain


SOURCE, TARGET = blob_domain("clean", 1.0, 0.0, 0), blob_domain("noisy", 3.0, 2.0, 1)


def _classifier(activation="relu"):
    return Classifier(MLP(8, (32,)), 2, bottleneck=16, bottleneck_activation=activation, hidden=())


def _target_accuracy(make, seed):
    tlbook.seed_everything(seed)
    history = tlbook.fit(make(), SOURCE, TARGET, steps=300, batch_size=64, optimizer="adam", lr=1e-2,
                         seed=seed, progress_bar=False, eval_every=300)
    return history.final("target test")


CASES = {
    "DDC": (lambda: DDC(_classifier(), weight=1.0), "relu"),
    "DAN": (lambda: DAN(_classifier(), layers=["bottleneck", "logits"]), "relu"),
    "DeepCORAL": (lambda: DeepCORAL(_classifier(), weight=10.0), "relu"),
    "CMD": (lambda: CMD(_classifier("sigmoid")), "sigmoid"),
}


@pytest.mark.parametrize("name", CASES)
def test_adaptation_beats_source_only_on_a_small_shift(name):
    make, activation = CASES[name]
    gains = []
    for seed in (0, 1):
        baseline = _target_accuracy(lambda: SourceOnly(_classifier(activation)), seed)
        adapted = _target_accuracy(make, seed)
        assert adapted > baseline, f"{name}, seed {seed}: {adapted:.3f} vs source-only {baseline:.3f}"
        gains.append(adapted - baseline)
    assert sum(gains) / len(gains) > 0.03, f"{name}: mean gain {sum(gains) / len(gains):.3f}"


def test_discrepancy_term_is_logged_and_weight_zero_is_source_only():
    tlbook.seed_everything(0)
    ddc = DDC(_classifier(), weight=0.0)
    history = tlbook.fit(ddc, SOURCE, TARGET, steps=20, progress_bar=False)
    assert set(history.terms) == {"loss", "classification", "discrepancy"}
    assert history.terms["loss"] == pytest.approx(history.terms["classification"])


def test_unknown_layer_and_missing_target_are_clear_errors():
    with pytest.raises(ValueError, match=r"no layer named \['fc7'\]"):
        DAN(_classifier(), layers=["fc7"])
    with pytest.raises(ValueError, match="no layer named"):
        DDC(toy_classifier(), layer="bottleneck")  # it has none
    with pytest.raises(ValueError, match="needs target batches"):
        tlbook.fit(DDC(_classifier()), SOURCE, None, steps=1, progress_bar=False)


def test_ddc_adapts_the_last_hidden_layer_by_default():
    from tlbook.nn import digit_classifier

    assert DDC(digit_classifier(bottleneck=64)).layers == ("fc2",)
    assert DDC(_classifier()).layers == ("bottleneck",)
