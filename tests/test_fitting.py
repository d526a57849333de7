"""Fitting distributions to published summary points."""

from __future__ import annotations

import math

import pytest

from simulator.params.distributions import LogNormal, Weibull
from simulator.params.fitting import SurvivalPoint, fit_survival_points, weibull_shape_from_ph_medians


def test_weibull_shape_from_promid_medians_reproduces_both_medians():
    shape = weibull_shape_from_ph_medians(6.0, 14.3, 0.34)
    control = Weibull.from_median(shape, 6.0)
    assert control.time_from_uniform(0.5, 0.34) == pytest.approx(14.3, rel=1e-12)


@pytest.mark.parametrize("family, truth", [("weibull", Weibull(1.3, 20.0)), ("lognormal", LogNormal(2.4, 0.9))])
def test_exact_points_recover_the_parameters(family, truth):
    points = [SurvivalPoint(t, float(truth.survival(t))) for t in (5.0, 12.0, 30.0)]
    fit = fit_survival_points(family, points)
    for t in (2.0, 18.0, 60.0):
        assert fit.distribution.survival(t) == pytest.approx(float(truth.survival(t)), abs=1e-6)
    assert max(abs(r) for r in fit.residuals) < 1e-8


def test_two_arms_with_fitted_hazard_ratio():
    truth = Weibull(1.2, 8.0)
    control = [SurvivalPoint(t, float(truth.survival(t))) for t in (4.0, 12.0)]
    treatment = [SurvivalPoint(t, float(truth.survival(t)) ** 0.4) for t in (6.0, 18.0)]
    fit = fit_survival_points("weibull", control, treatment)
    assert fit.hazard_ratio == pytest.approx(0.4, rel=1e-6)
    assert fit.params["shape"] == pytest.approx(1.2, rel=1e-6)


def test_radiant3_points_show_the_tension_between_medians_landmarks_and_hr():
    """RADIANT-3 publishes medians 11.0 vs 4.6, 18-month PFS 34% vs 9% and HR 0.35. A Weibull with
    proportional hazards cannot meet all five at once: the best fit leaves a visible residual."""
    control = [SurvivalPoint(4.6, 0.5), SurvivalPoint(18.0, 0.09)]
    treatment = [SurvivalPoint(11.0, 0.5), SurvivalPoint(18.0, 0.34)]
    free = fit_survival_points("weibull", control, treatment)
    fixed = fit_survival_points("weibull", control, treatment, hazard_ratio=0.35)
    assert sum(r * r for r in fixed.residuals) >= sum(r * r for r in free.residuals) - 1e-12
    assert 0.3 < free.hazard_ratio < 0.6
    assert math.isfinite(fixed.params["shape"])
