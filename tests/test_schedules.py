import math

import pytest

from tlbook.schedules import dann_lambda, dann_lr


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dann_schedules_match_the_paper(p):
    assert dann_lr(p) == pytest.approx(1 / (1 + 10 * p) ** 0.75)
    assert dann_lambda(p) == pytest.approx(2 / (1 + math.exp(-10 * p)) - 1)


def test_dann_schedule_values():
    assert dann_lr(0.0) == 1.0 and dann_lr(1.0) == pytest.approx(11**-0.75)
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(0.5) == pytest.approx(0.98661, abs=1e-5)
    assert dann_lambda(1.0) == pytest.approx(0.99991, abs=1e-5)


@pytest.mark.parametrize("schedule", [dann_lr, dann_lambda])
def test_progress_outside_unit_interval_is_an_error(schedule):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        schedule(1.5)
