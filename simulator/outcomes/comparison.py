"""Across replications: each metric's mean with a t-based 95% confidence interval, and the
confidence-interval method for choosing the number of replications (Robinson, Simulation: The Practice
of Model Development and Use, 2nd ed. 2014, section 9.6.2): replicate until the interval's half-width
is within a chosen fraction of the mean for every chosen metric.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .metrics import LOG_SCALE_METRICS, metric_info, metric_order, natural_bounds
from .replications import bounded_t_interval, t_confidence_interval

COMPARISON_COLUMNS = ["strategy", "metric", "label", "unit", "estimate", "lower_95", "upper_95", "replications", "relative_half_width"]
DEFAULT_PRECISION_METRICS = ("median_os_months", "rmst_os_months")


def _relative_half_width(mean: float, upper: float) -> float:
    half = upper - mean
    if math.isnan(half):
        return math.nan
    if half == 0:
        return 0.0  # identical in every replication (e.g. the comparator's own life-years gained)
    return half / abs(mean) if mean != 0 else math.inf


def summarise_replications(per_replication: pd.DataFrame, strategies: list[str]) -> pd.DataFrame:
    """Tidy long table: one row per strategy and metric with the across-replication mean and t-CI.

    Ratios (hazard ratios) are averaged on the log scale and transformed back, so the estimate is a
    geometric mean and the interval is asymmetric. ``relative_half_width`` is the half-width divided
    by the absolute estimate (for ratios: on the log scale, divided by 1), the quantity the precision
    rule compares with the requested precision."""
    rows = []
    order = metric_order(list(per_replication["metric"].unique()))
    grouped = {key: part["value"].to_numpy(dtype=float) for key, part in per_replication.groupby(["strategy", "metric"], sort=False)}
    for strategy in strategies:
        for metric in order:
            values = grouped.get((strategy, metric))
            if values is None:
                continue
            finite = values[np.isfinite(values)]
            label, unit, _ = metric_info(metric)
            if metric in LOG_SCALE_METRICS:
                mean, lower, upper = t_confidence_interval(np.log(finite[finite > 0]))
                relative = (upper - mean) if not math.isnan(upper) else math.nan
                mean, lower, upper = (math.exp(v) if not math.isnan(v) else math.nan for v in (mean, lower, upper))
            else:
                mean, lower, upper = t_confidence_interval(finite)
                relative = _relative_half_width(mean, upper)  # the precision rule's measure, on the natural scale
                bounds = natural_bounds(metric)
                if bounds is not None:
                    mean, lower, upper = bounded_t_interval(finite, bounds)
            rows.append(
                {
                    "strategy": strategy,
                    "metric": metric,
                    "label": label,
                    "unit": unit,
                    "estimate": mean,
                    "lower_95": lower,
                    "upper_95": upper,
                    "replications": int(finite.size),
                    "relative_half_width": relative,
                }
            )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def precision_status(
    summary: pd.DataFrame, metrics: tuple[str, ...], precision: float, comparator: str | None = None
) -> tuple[bool, float]:
    """(met, worst relative half-width) over the chosen metrics of every strategy.

    A metric whose estimate is undefined in every replication (a median not reached before the
    horizon) cannot be judged and is left out; the comparator's own hazard ratio (1 by definition) too."""
    chosen = summary[summary["metric"].isin(metrics)]
    if comparator is not None:
        chosen = chosen[~((chosen["strategy"] == comparator) & chosen["metric"].isin(LOG_SCALE_METRICS))]
    chosen = chosen[chosen["replications"] > 0]
    if chosen.empty:
        return False, math.nan
    widths = chosen["relative_half_width"].to_numpy(dtype=float)
    if np.isnan(widths).any():
        return False, math.nan
    worst = float(widths.max())
    return worst <= precision, worst
