"""Kaplan-Meier estimates (lifelines) and the per-strategy summary table."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times, restricted_mean_survival_time

LANDMARK_YEARS = (1, 3, 5, 10)


def fit_km(durations: pd.Series, events: pd.Series, label: str) -> KaplanMeierFitter:
    kmf = KaplanMeierFitter(label=label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf.fit(durations.to_numpy(dtype=float), events.to_numpy(dtype=int), label=label)
    return kmf


def median_with_ci(kmf: KaplanMeierFitter) -> tuple[float, float, float]:
    median = float(kmf.median_survival_time_)
    ci = median_survival_times(kmf.confidence_interval_)
    lower, upper = (float(v) for v in np.asarray(ci).ravel()[:2])
    return median, lower, upper


def survival_at(kmf: KaplanMeierFitter, months: float, horizon: float) -> float:
    if months > horizon:
        return math.nan
    return float(kmf.survival_function_at_times(months).iloc[0])


def restricted_mean(kmf: KaplanMeierFitter, horizon: float) -> float:
    """Area under the Kaplan-Meier curve from 0 to ``horizon`` (restricted mean survival time)."""
    return float(restricted_mean_survival_time(kmf, t=float(horizon)))


def at_risk_counts(durations: pd.Series, times: list[float]) -> list[int]:
    """Patients still followed at each time (duration >= t), the convention of lifelines' at-risk tables."""
    values = np.sort(durations.dropna().to_numpy(dtype=float))
    return [int(values.size - np.searchsorted(values, t, side="left")) for t in times]


def survival_table(
    patients: pd.DataFrame, strategies: list[str], duration: str = "os_months", event: str = "death", grid: np.ndarray | None = None
) -> pd.DataFrame:
    """Kaplan-Meier curve per strategy (all replications pooled), with 95% CI and numbers at risk.

    Rows without a duration (e.g. no second line for pfs2) are left out. With ``grid`` the curve is
    given at those times only (the step function's value there), not at every event time: a curve of
    a million patients would otherwise have a million rows."""
    frames = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy].dropna(subset=[duration])
        kmf = fit_km(group[duration], group[event], strategy)
        if grid is not None:
            times = kmf.survival_function_.index.to_numpy()
            rows = np.maximum(np.searchsorted(times, grid, side="right") - 1, 0)
            frames.append(
                pd.DataFrame(
                    {
                        "strategy": strategy,
                        "time_months": grid,
                        "survival": kmf.survival_function_.iloc[rows, 0].to_numpy(),
                        "lower_95": kmf.confidence_interval_.iloc[rows, 0].to_numpy(),
                        "upper_95": kmf.confidence_interval_.iloc[rows, 1].to_numpy(),
                        "at_risk": at_risk_counts(group[duration], list(grid)),
                    }
                )
            )
            continue
        table = kmf.event_table
        frame = pd.DataFrame(
            {
                "strategy": strategy,
                "time_months": kmf.survival_function_.index.to_numpy(),
                "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
                "lower_95": kmf.confidence_interval_.iloc[:, 0].to_numpy(),
                "upper_95": kmf.confidence_interval_.iloc[:, 1].to_numpy(),
                "at_risk": table["at_risk"].reindex(kmf.survival_function_.index).to_numpy(),
            }
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
