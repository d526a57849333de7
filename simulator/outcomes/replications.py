"""Across-replication summaries: mean with a t-based 95% confidence interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def t_confidence_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper) of the replication values; the interval is NaN with fewer than two values."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if data.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2.0, data.size - 1) * data.std(ddof=1) / math.sqrt(data.size))
    return mean, mean - half, mean + half


def bounded_t_interval(values: Sequence[float], bounds: tuple[float, float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper) with the interval kept inside the quantity's natural ``bounds``: the t
    interval of the mean is built on the logit scale for a share in (0, 1), on the log scale for a
    quantity in (0, inf) (delta method: the standard error of the mean over its derivative), then
    transformed back. The estimate stays the plain mean. A mean on a bound (every value on it) has the
    degenerate interval at the bound."""
    mean, lower, upper = t_confidence_interval(values, level)
    if math.isnan(lower):
        return mean, lower, upper
    low, high = bounds
    half = upper - mean
    if mean <= low or mean >= high:
        return mean, mean, mean
    if high == 1.0 and low == 0.0:
        centre = math.log(mean / (1.0 - mean))
        spread = half / (mean * (1.0 - mean))
        return mean, 1.0 / (1.0 + math.exp(-(centre - spread))), 1.0 / (1.0 + math.exp(-(centre + spread)))
    if low == 0.0 and math.isinf(high):
        spread = half / mean
        return mean, mean * math.exp(-spread), mean * math.exp(spread)
    raise ValueError(f"bounds {bounds}: expected (0, 1) or (0, inf)")
