"""The burden model's closed-form event times (simulator/engine/tumour.py) against direct computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from simulator.engine.tumour import GompertzTumourState, TumourModel, TumourState

MODEL = TumourModel(
    log_reference_burden=math.log(0.1),
    reference_hazard=0.002,
    burden_exponent=1.3,
    extrahepatic_hazard_ratio=3.0,
    log_progression_ratio=math.log(1.728),
    log_detection_burden=math.log(0.001),
)


def numeric_cumulative_hazard(state: TumourState, now: float, step: float) -> float:
    value, _ = integrate.quad(state.hazard, now, now + step, limit=200, points=[now + state._growth_until_full(state.log_burden(now))[1]])
    return value


@pytest.mark.parametrize("load, growth, extrahepatic", [(0.05, 0.09, False), (0.4, 0.2, True), (0.002, 0.0, False), (0.95, 0.5, False)])
def test_cumulative_hazard_is_the_integral_of_the_hazard(load, growth, extrahepatic):
    state = TumourState(MODEL, math.log(load), growth, extrahepatic)
    for step in (0.5, 3.0, 24.0, 120.0):
        assert state.cumulative_hazard(0.0, step) == pytest.approx(numeric_cumulative_hazard(state, 0.0, step), rel=1e-6)


@pytest.mark.parametrize("load, growth", [(0.05, 0.09), (0.4, 0.2), (0.002, 0.0), (0.95, 0.5), (0.01, 0.03)])
def test_time_to_death_inverts_the_cumulative_hazard(load, growth):
    state = TumourState(MODEL, math.log(load), growth, False)
    for exposure in (0.01, 0.5, 1.0, 4.0):
        t = state.time_to_death(0.0, exposure)
        assert state.cumulative_hazard(0.0, t) == pytest.approx(exposure, rel=1e-9)


def test_the_hazard_stops_rising_when_the_liver_is_full():
    state = TumourState(MODEL, math.log(0.5), 0.1, False)
    full_at = math.log(2.0) / 0.1
    assert state.hazard(full_at + 10.0) == pytest.approx(state.hazard(full_at))
    assert state.log_burden(full_at + 10.0) == 0.0


def test_progression_is_a_recist_increase_from_the_nadir_of_the_line():
    state = TumourState(MODEL, math.log(0.05), 0.1, False)
    state.start_line(0.0, 0.5)  # a drug halving the growth rate
    ttp = state.time_to_progression(0.0)
    assert ttp == pytest.approx(math.log(1.728) / 0.05)
    assert math.exp(state.log_burden(ttp)) == pytest.approx(0.05 * 1.728)
    # Shrinkage sets a new nadir: progression is measured from it, not from the start of the line.
    state.shrink(2.0, 0.343)
    nadir = state.log_burden(2.0)
    assert state.time_to_progression(2.0) == pytest.approx(math.log(1.728) / 0.05)
    assert state.nadir_log_burden == pytest.approx(nadir)


def test_recurrence_is_residual_disease_growing_back_to_detection():
    state = TumourState(MODEL, math.log(0.2), 0.05, False)
    state.start_line(1.0, 1.0)
    state.leave_residual(1.0, 0.3)
    assert state.time_to_recurrence(1.0) == pytest.approx(-math.log(0.3) / 0.05)
    # Small disease carries a small hazard: the residual's hazard is far below the entry burden's.
    assert state.hazard(1.0) < 0.01 * TumourState(MODEL, math.log(0.2), 0.05, False).hazard(0.0)


def test_disease_that_fills_the_liver_progresses_once_then_no_more():
    state = TumourState(MODEL, math.log(0.8), 0.2, False)
    state.start_line(0.0, 1.0)
    fill = state.time_to_progression(0.0)
    assert fill == pytest.approx(-math.log(0.8) / 0.2)
    state.start_line(fill, 1.0)
    assert state.time_to_progression(fill) == math.inf


def test_no_growth_means_no_progression_and_a_constant_hazard():
    state = TumourState(MODEL, math.log(0.1), 0.0, True)
    assert state.time_to_progression(0.0) == math.inf
    assert state.hazard(0.0) == pytest.approx(0.002 * 3.0)
    assert state.time_to_death(0.0, 1.0) == pytest.approx(1.0 / 0.006)


def test_time_to_death_agrees_with_a_simulated_hazard():
    """Death times drawn by inversion have the survival the hazard implies (Monte Carlo, fixed seed)."""
    rng = np.random.default_rng(16)
    state = TumourState(MODEL, math.log(0.1), 0.08, False)
    times = np.array([state.time_to_death(0.0, e) for e in rng.exponential(size=20_000)])
    for t in (12.0, 36.0, 60.0):
        expected = math.exp(-state.cumulative_hazard(0.0, t))
        share = float(np.mean(times > t))
        standard_error = math.sqrt(expected * (1 - expected) / len(times))
        assert abs(share - expected) < 4 * standard_error


@pytest.mark.parametrize("load, growth, extrahepatic", [(0.05, 0.09, False), (0.4, 0.2, True), (0.0003, 0.05, False), (0.9, 0.5, False)])
def test_gompertz_cumulative_hazard_is_the_integral_and_death_times_invert_it(load, growth, extrahepatic):
    state = GompertzTumourState(MODEL, math.log(load), growth, extrahepatic)
    for step in (0.5, 12.0, 60.0, 240.0):
        numeric, _ = integrate.quad(state.hazard, 0.0, step, limit=200)
        assert state.cumulative_hazard(0.0, step) == pytest.approx(numeric, rel=1e-7)
    for exposure in (1e-4, 0.01, 0.5, 1.0, 5.0, 50.0):
        t = state.time_to_death(0.0, exposure)
        assert state.cumulative_hazard(0.0, t) == pytest.approx(exposure, rel=1e-8)


def test_gompertz_growth_matches_the_exponential_law_at_the_reference_burden_and_slows_above_it():
    exponential = TumourState(MODEL, math.log(0.1), 0.09, False)
    gompertz = GompertzTumourState(MODEL, math.log(0.1), 0.09, False)
    dt = 1e-6
    rate = (gompertz.log_burden(dt) - gompertz.log_burden(0.0)) / dt
    assert rate == pytest.approx(exponential.growth, rel=1e-4)
    # From 10% the Gompertz tumour takes longer to double than the exponential one, and never fills the liver.
    assert gompertz.time_to_reach(0.0, math.log(0.2)) > exponential.time_to_reach(0.0, math.log(0.2))
    assert gompertz.time_to_reach(0.0, 0.0) == math.inf
    gompertz.start_line(0.0, 1.0)
    x = gompertz.log_burden(0.0)
    assert gompertz.time_to_progression(0.0) == pytest.approx(math.log(x / (x + math.log(1.728))) / gompertz.growth)
