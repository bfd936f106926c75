"""The claim rules: paired per-seed statistics from scipy.stats, one line shown, a readable failure."""
import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from tlbook.claims import ClaimFailed, above, below, equivalent, greater, less, observe, paired, t_quantile
from tlbook.experiment import Runs

ROOT = Path(__file__).resolve().parents[1]


def test_t_thresholds_come_from_scipy_for_two_three_and_five_seeds():
    assert t_quantile(2) == pytest.approx(6.3138, abs=1e-4)
    assert t_quantile(3) == pytest.approx(2.9200, abs=1e-4)
    assert t_quantile(5) == pytest.approx(2.1318, abs=1e-4)
    assert t_quantile(3, level=0.025) == pytest.approx(stats.t.ppf(0.975, 2))


def test_a_robust_gain_passes_and_shows_one_line(capsys):
    evidence = greater("DANN beats source-only", [0.52, 0.55, 0.49], [0.40, 0.43, 0.41], seeds=[0, 1, 2],
                       names=("DANN", "source only"), by=0.05, every_seed=True)
    assert evidence.holds
    assert evidence.mean == pytest.approx(np.mean([0.12, 0.12, 0.08]))
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Claim: DANN beats source-only → holds (+10.7 ± 2.3 points over 3 seeds; p = ")
    for row in ("0 |", "1 |", "2 |", "+12.0", "+8.0", "mean"):
        assert row in out  # outside a notebook the evidence follows the line


def test_the_p_value_is_scipys_paired_t_test():
    v, b = np.array([0.52, 0.55, 0.49]), np.array([0.40, 0.43, 0.41])
    evidence = greater("x", v, b, by=0.05, quiet=True)
    p = stats.ttest_1samp(v - b - 0.05, 0.0, alternative="greater").pvalue
    assert f"p = {p:.2g}" in evidence.line()


def test_a_gain_inside_the_seed_spread_fails_with_the_claim_and_the_evidence():
    # +10 / −4 / −3 averages +1 point: a mean rule would pass it; the t-test does not
    with pytest.raises(ClaimFailed) as failure:
        greater("LoRA beats the head alone", [0.60, 0.46, 0.47], [0.50, 0.50, 0.50], seeds=[0, 1, 2],
                names=("LoRA", "head only"), by=0.01, quiet=True)
    message = str(failure.value)
    assert "LoRA beats the head alone" in message and "DOES NOT HOLD" in message
    assert "+10.0" in message and "-4.0" in message and "-3.0" in message  # each seed's difference
    assert "one-sided paired t-test at 0.05" in message  # the rule
    assert isinstance(failure.value, AssertionError)  # nbval and nbgrader treat it as a failed check


def test_a_consistent_gain_at_n_3_needs_about_1_7_standard_deviations():
    sd = 0.02
    for mean, holds in [(0.04, True), (0.03, False)]:  # t = mean / (sd / √3) against 2.92
        d = np.array([mean - sd, mean, mean + sd])
        if holds:
            greater("x", d, 0.0, quiet=True)
        else:
            with pytest.raises(ClaimFailed):
                greater("x", d, 0.0, quiet=True)


def test_every_seed_is_checked_on_top_of_the_test():
    gains = [0.20, 0.22, 0.21, 0.19, -0.001]  # significant on average, but one seed loses
    greater("mean only", gains, 0.0, quiet=True)
    with pytest.raises(ClaimFailed, match="worst seed -0.1"):
        greater("every seed", gains, 0.0, every_seed=True, quiet=True)


def test_less_is_the_mirror_of_greater():
    less("DAN loses", [0.30, 0.31, 0.29], [0.35, 0.36, 0.33], every_seed=True, quiet=True)
    with pytest.raises(ClaimFailed):
        less("DAN loses", [0.35, 0.36, 0.33], [0.30, 0.31, 0.29], quiet=True)


def test_equivalence_passes_inside_the_margin_and_fails_on_a_30_point_loss():
    equivalent("within 3 points", [0.47, 0.45, 0.46], [0.48, 0.46, 0.45], margin=0.03, quiet=True)
    with pytest.raises(ClaimFailed, match="90% interval"):
        equivalent("within 3 points", [0.17, 0.15, 0.16], [0.48, 0.46, 0.45], margin=0.03, quiet=True)
    with pytest.raises(ClaimFailed):  # a 30-point gain is not "no better" either
        equivalent("within 3 points", [0.78, 0.76, 0.75], [0.48, 0.46, 0.45], margin=0.03, quiet=True)


def test_equivalence_fails_when_the_spread_is_wider_than_the_margin():
    d = np.array([0.04, -0.04, 0.0])  # mean 0, but the 90% interval is ±6.7 points at n = 3
    half = t_quantile(3) * d.std(ddof=1) / np.sqrt(3)
    assert half == pytest.approx(0.0674, abs=1e-3)
    with pytest.raises(ClaimFailed):
        equivalent("x", d, 0.0, margin=0.05, quiet=True)
    equivalent("x", d, 0.0, margin=0.07, quiet=True)


def test_absolute_bounds_hold_on_every_seed():
    above("over 90%", [0.95, 0.96], 0.90, quiet=True)
    below("under 30%", [0.25, 0.22], 0.30, quiet=True)
    with pytest.raises(ClaimFailed, match="below 30.0 on every seed"):
        below("under 30%", [0.25, 0.31], 0.30, quiet=True)


def test_runs_are_paired_by_seed_and_a_level_is_a_baseline():
    class FakeRuns(Runs):
        def __init__(self, name, seeds, acc):
            super().__init__(name, list(seeds), [], [])
            self._acc = np.asarray(acc)

        def accuracies(self, eval_set="target test"):
            return self._acc

    base = FakeRuns("source only", [0, 1, 2], [0.40, 0.50, 0.60])
    ablation = FakeRuns("ablation", [2, 0], [0.70, 0.45])  # fewer seeds, another order
    evidence = observe("ablation against source only", ablation, base, quiet=True)
    assert evidence.seeds == (2, 0) and np.allclose(evidence.baseline, [0.60, 0.40])
    assert evidence.names == ("ablation", "source only")
    level = above("above chance", base, 0.1, quiet=True)
    assert level.names == ("source only", "level")


def test_observation_shows_and_never_raises(capsys):
    evidence = observe("DANN vs source only", [0.50, 0.38, 0.47], [0.41, 0.44, 0.40])
    assert evidence.holds is None and evidence.within_noise()
    assert "within noise (printed, not asserted)" in capsys.readouterr().out


def test_in_a_notebook_a_claim_is_one_line_with_the_evidence_folded():
    evidence = greater("x", [0.52, 0.55, 0.49], [0.40, 0.43, 0.41], quiet=True)
    page = evidence._repr_html_()
    assert page.startswith("<details") and "<summary>Claim: x → holds" in page and "seed" in page
    assert repr(evidence) == evidence.line() and "\n" not in repr(evidence)  # never a raw dataclass repr


@pytest.mark.parametrize("kwargs, message", [
    (dict(variant=[0.5, 0.6], baseline=[0.4]), "pairs them seed by seed"),
    (dict(variant=[0.5], baseline=[0.4]), "at least two seeds"),
    (dict(variant=[0.5, 0.6], baseline=[0.4, 0.5], seeds=[1, 1]), "distinct"),
    (dict(variant=0.5, baseline=0.4), "one value per seed"),
    (dict(variant=[[0.5, 0.6]], baseline=0.4), "1-D"),
    (dict(variant=[0.5, float("nan")], baseline=0.4), "finite"),
    (dict(variant=[0.5, 0.6], baseline=0.4, by=-0.1), "margin ≥ 0"),
    (dict(variant=[0.5, 0.6], baseline=0.4, level=0.7), "significance level"),
    (dict(variant=type("R", (), {"name": "r", "seeds": [0, 1], "accuracies": lambda self, e: [0.5, 0.6]})(),
          baseline=0.4, seeds=[1, 0]), "differ from the variant's own seeds"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        greater("x", quiet=True, **kwargs)


def test_an_equivalence_needs_a_positive_margin():
    with pytest.raises(ValueError, match="margin must be"):
        equivalent("x", [0.5, 0.6], [0.4, 0.5], margin=0.0)


def test_paired_is_the_one_place_seeds_are_matched():
    seeds, v, b, names = paired([0.5, 0.6], 0.1, seeds=[3, 4])
    assert seeds == (3, 4) and np.allclose(b, [0.1, 0.1]) and names == (None, "level")


def _notebook_code() -> dict[str, str]:
    code = {}
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code[path.relative_to(ROOT).as_posix()] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return code


def test_no_notebook_uses_a_mean_only_or_a_one_sided_below_rule():
    """The old rules (mean_gain, mean_below, every_seed_below, standard_errors, claim(...)) are gone from every page."""
    retired = re.compile(r"\b(mean_gain|mean_below|every_seed_below|standard_errors)\s*=|\bclaim\(|import claim\b")
    offenders = {page: retired.findall(code) for page, code in _notebook_code().items() if retired.search(code)}
    assert not offenders, f"retired claim rules still used: {offenders}"


def test_absolute_bounds_in_notebooks_are_against_a_level_not_against_another_run():
    """below()/above() compare with a fixed level; a comparison of two runs needs greater, less or equivalent."""
    found = 0
    for page, code in _notebook_code().items():
        tree = ast.parse("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) in ("above", "below"):
                level = ast.unparse(call.args[2])
                found += 1
                assert re.fullmatch(r"[\d.]+|\d \* CHANCE", level), f"{page}: a bound against {level!r}, not a level"
    assert found >= 5  # the scan sees the notebooks' bounds
