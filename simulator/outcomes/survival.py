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


def survival_table(patients: pd.DataFrame, strategies: list[str], duration: str = "os_months", event: str = "death") -> pd.DataFrame:
    """Kaplan-Meier curve per strategy (all replications pooled), with 95% CI and numbers at risk.

    Rows without a duration (e.g. no second line for pfs2) are left out."""
    frames = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy].dropna(subset=[duration])
        kmf = fit_km(group[duration], group[event], strategy)
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


def summary_table(patients: pd.DataFrame, strategies: list[str], horizon: float) -> pd.DataFrame:
    rows = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy]
        os_km = fit_km(group["os_months"], group["death"], strategy)
        median, lower, upper = median_with_ci(os_km)
        pfs_km = fit_km(group["pfs1_months"], group["pfs1_event"], strategy)
        pfs_median, pfs_lower, pfs_upper = median_with_ci(pfs_km)
        functional = group[group["functional"]]
        row = {
            "strategy": strategy,
            "n": len(group),
            "deaths": int(group["death"].sum()),
            "median_os_months": median,
            "median_os_lower_95": lower,
            "median_os_upper_95": upper,
        }
        for years in LANDMARK_YEARS:
            row[f"os_{years}y"] = survival_at(os_km, 12.0 * years, horizon)
        row.update(
            {
                "median_pfs1_months": pfs_median,
                "median_pfs1_lower_95": pfs_lower,
                "median_pfs1_upper_95": pfs_upper,
                "functional_n": len(functional),
                "mean_months_uncontrolled": float(functional["months_uncontrolled"].mean()) if len(functional) else math.nan,
                "share_ever_controlled": float(functional["time_to_first_control"].notna().mean()) if len(functional) else math.nan,
                "mean_symptom_control_months": float(functional["symptom_control_months"].mean()) if len(functional) else math.nan,
                "resected_share": float(group["resected"].mean()),
                "mean_lines": float(group["lines"].mean()),
                "treatment_deaths": int((group["death_cause"] == "treatment").sum()),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)
