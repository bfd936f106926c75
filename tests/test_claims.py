"""The claim helper: paired per-seed rules, the printed evidence, and a readable failure."""
import numpy as np
import pytest

from tlbook.claims import ClaimFailed, claim, observe
from tlbook.experiment import Runs


def test_a_robust_gain_passes_and_prints_the_per_seed_table(capsys):
    evidence = claim("DANN beats source-only", [0.52, 0.55, 0.49], [0.40, 0.43, 0.41], seeds=[0, 1, 2],
                     names=("DANN", "source only"), mean_gain=0.05, every_seed=0.0)
    assert evidence.holds
    assert evidence.mean == pytest.approx(np.mean([0.12, 0.12, 0.08]))
    out = capsys.readouterr().out
    assert "Claim: DANN beats source-only" in out and "holds" in out
    for row in ("0 |", "1 |", "2 |", "+12.0", "+8.0", "mean"):
        assert row in out


def test_a_gain_inside_the_seed_spread_fails_with_the_claim_and_the_evidence():
    # mean gain +3.3 points, but one seed loses 6: a mean difference inside the spread is no evidence
    with pytest.raises(ClaimFailed) as failure:
        claim("LoRA beats the head alone", [0.60, 0.71, 0.55], [0.66, 0.58, 0.52], seeds=[0, 1, 2],
              names=("LoRA", "head only"), every_seed=0.0, quiet=True)
    message = str(failure.value)
    assert "LoRA beats the head alone" in message and "DOES NOT HOLD" in message
    assert "-6.0" in message and "+13.0" in message and "+3.0" in message  # each seed's difference
    assert "on every seed" in message  # the rule
    assert isinstance(failure.value, AssertionError)  # nbval and nbgrader treat it as a failed check


def test_standard_error_rule_separates_signal_from_noise():
    signal = [0.10, 0.12, 0.11, 0.09]
    noise = [0.10, -0.08, 0.05, -0.03]
    claim("signal", signal, 0.0, standard_errors=2, quiet=True)
    with pytest.raises(ClaimFailed):
        claim("noise", noise, 0.0, standard_errors=2, quiet=True)


def test_upper_bound_rules_for_does_not_help_claims():
    claim("small gain", [0.47, 0.45], [0.46, 0.46], mean_below=0.05, quiet=True)
    with pytest.raises(ClaimFailed):
        claim("small gain", [0.60, 0.45], [0.46, 0.46], every_seed_below=0.05, quiet=True)


def test_a_level_baseline_and_runs_paired_by_seed():
    class FakeRuns(Runs):
        def __init__(self, name, seeds, acc):
            super().__init__(name, list(seeds), [], [])
            self._acc = np.asarray(acc)

        def accuracies(self, eval_set="target test"):
            return self._acc

    base = FakeRuns("source only", [0, 1, 2], [0.40, 0.50, 0.60])
    ablation = FakeRuns("ablation", [2, 0], [0.70, 0.45])  # fewer seeds, another order
    evidence = claim("ablation beats source only", ablation, base, every_seed=0.0, quiet=True)
    assert evidence.seeds == (2, 0) and np.allclose(evidence.baseline, [0.60, 0.40])
    assert evidence.names == ("ablation", "source only")
    level = claim("above chance", base, 0.1, every_seed=0.2, quiet=True)
    assert level.names == ("source only", "level")


def test_observation_prints_and_never_raises(capsys):
    evidence = observe("DANN vs source only", [0.50, 0.38, 0.47], [0.41, 0.44, 0.40])
    assert evidence.holds is None and evidence.within_noise()
    assert "within noise" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    (dict(variant=[0.5, 0.6], baseline=[0.4]), "pairs them seed by seed"),
    (dict(variant=[0.5], baseline=[0.4]), "at least two seeds"),
    (dict(variant=[0.5, 0.6], baseline=[0.4, 0.5], seeds=[1, 1]), "distinct"),
    (dict(variant=0.5, baseline=0.4), "one value per seed"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        claim("x", every_seed=0.0, quiet=True, **kwargs)


def test_a_claim_without_a_rule_is_an_error():
    with pytest.raises(ValueError, match="state the claim's rule"):
        claim("x", [0.5, 0.6], [0.4, 0.5])
