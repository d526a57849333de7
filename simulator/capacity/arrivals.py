"""Open-population arrivals: patients with NELM reach the referral centre as a Poisson process.

Rate at calendar time t (months): lambda(t) = lambda0 (1 + g)^(t / 12), with
lambda0 = catchment / 100,000 x arrivals.net_incidence x arrivals.metastatic_share
          x arrivals.liver_share_of_metastatic x arrivals.referral_share / 12 (a month)
and g = arrivals.annual_growth. Arrival times are drawn by inverting the cumulative rate
Lambda(t) = lambda0 (e^{bt} - 1) / b, b = ln(1 + g) / 12 (Lambda(t) = lambda0 t when g = 0) at the
partial sums of unit exponentials (Cinlar E, Introduction to Stochastic Processes, 1975, ch. 4).

The draws come from their own stream, keyed by (seed, replication, draw, "arrivals.times"), apart from
every patient's streams: every strategy and every variant with the same arrivals sees the same patients
arriving at the same times (common random numbers), and no other draw shifts.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.rng import stable_key
from ..params.parameter_set import ParameterSet
from .schedule import MONTHS_PER_YEAR

PER_100000 = 100_000.0  # incidence is per 100,000 people a year
ARRIVALS_PURPOSE = "arrivals.times"
BLOCK = 4096  # exponentials drawn per block


def monthly_rate(params: ParameterSet, catchment: int) -> float:
    """Arrivals a month at time 0."""
    p = params.value
    yearly = (
        catchment
        / PER_100000
        * p("arrivals.net_incidence")
        * p("arrivals.metastatic_share")
        * p("arrivals.liver_share_of_metastatic")
        * p("arrivals.referral_share")
    )
    return yearly / MONTHS_PER_YEAR


def growth_per_month(params: ParameterSet) -> float:
    return math.log1p(params.value("arrivals.annual_growth")) / MONTHS_PER_YEAR


def expected_arrivals(params: ParameterSet, catchment: int, months: float) -> float:
    rate, b = monthly_rate(params, catchment), growth_per_month(params)
    return rate * months if b == 0 else rate * math.expm1(b * months) / b


def arrival_times(params: ParameterSet, catchment: int, months: float, seed: int, replication: int, draw: int = 0) -> np.ndarray:
    """Calendar months of every arrival in [0, months), in order."""
    rate, b = monthly_rate(params, catchment), growth_per_month(params)
    if rate <= 0:
        return np.empty(0)
    total = expected_arrivals(params, catchment, months)  # Lambda(months)
    sequence = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(replication), int(draw), stable_key(ARRIVALS_PURPOSE)))
    generator = np.random.Generator(np.random.PCG64(sequence))
    sums: list[np.ndarray] = []
    reached = 0.0
    while reached < total:
        block = reached + np.cumsum(generator.exponential(1.0, BLOCK))
        sums.append(block)
        reached = float(block[-1])
    cumulative = np.concatenate(sums) if sums else np.empty(0)
    cumulative = cumulative[cumulative < total]
    if b == 0:
        return cumulative / rate
    return np.log1p(b * cumulative / rate) / b
