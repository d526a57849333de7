"""Each family against scipy.stats or a closed form: survival, median, mean, and sampling (KS test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.params.distributions import (
    DistributionError,
    Exponential,
    Gamma,
    GeneralizedGamma,
    Gompertz,
    LogLogistic,
    LogNormal,
    PiecewiseExponential,
    Weibull,
    build_distribution,
)

TIMES = np.array([0.5, 3.0, 12.0, 40.0])

CASES = [
    (Exponential(0.05), stats.expon(scale=20.0)),
    (Weibull(1.4, 20.0), stats.weibull_min(1.4, scale=20.0)),
    (Gompertz(0.03, 0.01), stats.gompertz(0.01 / 0.03, scale=1 / 0.03)),
    (LogLogistic(2.5, 15.0), stats.fisk(2.5, scale=15.0)),
    (LogNormal(2.7, 0.8), stats.lognorm(0.8, scale=math.exp(2.7))),
    (Gamma(2.0, 0.1), stats.gamma(2.0, scale=10.0)),
]


@pytest.mark.parametrize("dist, reference", CASES, ids=lambda x: getattr(x, "family", ""))
def test_against_scipy(dist, reference):
    np.testing.assert_allclose(dist.survival(TIMES), reference.sf(TIMES), rtol=1e-9)
    np.testing.assert_allclose(dist.median, reference.median(), rtol=1e-7)
    np.testing.assert_allclose(dist.mean, reference.mean(), rtol=1e-5)
    np.testing.assert_allclose(dist.hazard(TIMES), reference.pdf(TIMES) / reference.sf(TIMES), rtol=1e-4)
    sample = dist.sample(np.random.default_rng(2024), 4000)
    assert stats.kstest(sample, reference.cdf).pvalue > 0.001


def test_generalized_gamma_against_scipy_stacy_form():
    mu, sigma, q = 2.5, 0.7, 0.6
    dist = GeneralizedGamma(mu, sigma, q)
    # Prentice (mu, sigma, Q) with Q > 0 is scipy's gengamma(a=1/Q^2, c=Q/sigma, scale=exp(mu) * Q^(2 sigma/Q)).
    reference = stats.gengamma(1 / q**2, q / sigma, scale=math.exp(mu) * (q**2) ** (sigma / q))
    np.testing.assert_allclose(dist.survival(TIMES), reference.sf(TIMES), rtol=1e-7)
    np.testing.assert_allclose(dist.median, reference.median(), rtol=1e-7)
    np.testing.assert_allclose(dist.mean, reference.mean(), rtol=1e-5)
    sample = dist.sample(np.random.default_rng(7), 4000)
    assert stats.kstest(sample, reference.cdf).pvalue > 0.001
    np.testing.assert_allclose(GeneralizedGamma(mu, sigma, 0.0).survival(TIMES), LogNormal(mu, sigma).survival(TIMES))


def test_piecewise_exponential_closed_form():
    dist = PiecewiseExponential((0.0, 12.0, 36.0), (0.02, 0.05, 0.01))
    expected = np.exp(-np.array([0.5 * 0.02, 3 * 0.02, 12 * 0.02, 12 * 0.02 + 24 * 0.05 + 4 * 0.01]))
    np.testing.assert_allclose(dist.survival(TIMES), expected, rtol=1e-12)
    for p in (0.9, 0.5, 0.2, 0.01):
        np.testing.assert_allclose(dist.survival(dist.isf(p)), p, rtol=1e-10)


def test_proportional_hazards_transform():
    base = Weibull(1.3, 18.0)
    for hr in (0.34, 1.0, 2.5):
        # S_hr(t) = S(t)^hr: the time drawn from u solves S(t)^hr = u.
        for u in (0.9, 0.5, 0.1):
            t = base.time_from_uniform(u, hr)
            np.testing.assert_allclose(base.survival(t) ** hr, u, rtol=1e-10)


def test_median_constructors():
    assert Exponential.from_median(14.3).median == pytest.approx(14.3)
    assert Weibull.from_median(1.7, 11.0).median == pytest.approx(11.0)
    assert LogNormal.from_median(9.0, 1.1).median == pytest.approx(9.0)


@pytest.mark.parametrize(
    "family, spec, word",
    [
        ("weibull", {"shape": -1, "scale": 2}, "shape"),
        ("exponential", {"rate": 0}, "rate"),
        ("lognormal", {"meanlog": 1, "sdlog": float("nan")}, "sdlog"),
        ("gamma", {"shape": 1}, "gamma takes parameters"),
        ("piecewise_exponential", {"cuts": [0, 5, 3], "rates": [1, 1, 1]}, "increasing"),
        ("cauchy", {"x": 1}, "one of"),
    ],
)
def test_undefined_parameters_are_rejected_with_their_name(family, spec, word):
    with pytest.raises(DistributionError, match=word):
        build_distribution(family, spec)


def test_accelerated_failure_time_transform():
    base = LogLogistic(1.8, 10.0)
    for u in (0.8, 0.5, 0.2):
        assert base.time_from_uniform(u, time_ratio=2.0) == pytest.approx(2.0 * base.time_from_uniform(u))
    assert base.time_from_uniform(0.5, time_ratio=1.5) == pytest.approx(15.0)
