"""Continuous-time discounting of flows, one-off amounts and per-cycle payments (README "Health economics").

A flow c per year over [a, b] years is worth c (e^-rho a - e^-rho b) / rho and a one-off amount at t
years c e^-rho t, with rho = ln(1 + r) for an annual discount rate r.
"""

from __future__ import annotations

import math

import numpy as np

MONTHS_PER_YEAR = 12.0  # calendar identity
# A cycle count within this fraction of a whole number is that whole number (floating-point slack).
CYCLE_COUNT_SLACK = 1e-9


def continuous_rate(annual_rate: float) -> float:
    """rho = ln(1 + r): the continuous rate equivalent to an annual discount rate r."""
    return math.log1p(annual_rate)


def discounted_years(start_months, end_months, annual_rate: float) -> np.ndarray:
    """Discounted length in years of [start, end] months: (e^-rho a - e^-rho b) / rho, a and b in years."""
    a = np.asarray(start_months, dtype=float) / MONTHS_PER_YEAR
    b = np.asarray(end_months, dtype=float) / MONTHS_PER_YEAR
    rho = continuous_rate(annual_rate)
    if rho == 0.0:
        return b - a
    return np.exp(-rho * a) * -np.expm1(-rho * (b - a)) / rho


def discount_factor(at_months, annual_rate: float) -> np.ndarray:
    """e^-rho t for a one-off amount at t months."""
    return np.exp(-continuous_rate(annual_rate) * np.asarray(at_months, dtype=float) / MONTHS_PER_YEAR)


def cycles_started(start_months, end_months, cycle_months: float) -> np.ndarray:
    """Number of cycles of ``cycle_months`` that begin in [start, end): ceil((end - start) / cycle)."""
    span = (np.asarray(end_months, dtype=float) - np.asarray(start_months, dtype=float)) / cycle_months
    return np.maximum(np.ceil(span - CYCLE_COUNT_SLACK), 0.0)


def discounted_cycles(start_months, count, cycle_months: float, annual_rate: float) -> np.ndarray:
    """Sum over k < count of e^-rho (start + k cycle): one payment at the start of each cycle."""
    start = np.asarray(start_months, dtype=float)
    count = np.asarray(count, dtype=float)
    rho = continuous_rate(annual_rate)
    if rho == 0.0:
        return count.copy()
    ratio = math.exp(-rho * cycle_months / MONTHS_PER_YEAR)
    return np.exp(-rho * start / MONTHS_PER_YEAR) * -np.expm1(count * math.log(ratio)) / (1.0 - ratio)
