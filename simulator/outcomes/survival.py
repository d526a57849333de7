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


def outcome_sums(group: pd.DataFrame) -> dict[str, float]:
    """The additive ingredients of the summary table's non-survival columns for one strategy: they
    add up over pieces of a cohort, so summary mode keeps these instead of the columns."""
    functional = group[group["functional"]]
    return {
        "n": len(group),
        "deaths": int(group["death"].sum()),
        "functional_n": len(functional),
        "months_uncontrolled_sum": float(functional["months_uncontrolled"].sum()),
        "months_uncontrolled_count": int(functional["months_uncontrolled"].count()),
        "ever_controlled": int(functional["time_to_first_control"].notna().sum()),
        "symptom_control_sum": float(functional["symptom_control_months"].sum()),
        "symptom_control_count": int(functional["symptom_control_months"].count()),
        "resected": int(group["resected"].sum()),
        "lines": int(group["lines"].sum()),
        "treatment_deaths": int((group["death_cause"] == "treatment").sum()),
    }


def add_sums(total: dict[str, float] | None, more: dict[str, float]) -> dict[str, float]:
    return dict(more) if total is None else {key: total[key] + more[key] for key in total}


def summary_table(
    patients: pd.DataFrame, strategies: list[str], horizon: float, sums: dict[str, dict[str, float]] | None = None
) -> pd.DataFrame:
    """Per strategy: OS and first-line PFS from Kaplan-Meier curves, symptom and treatment outcomes.

    ``sums`` (summary mode): each strategy's ``outcome_sums`` gathered piece by piece; ``patients``
    then needs only strategy, os_months, death, pfs1_months and pfs1_event."""
    rows = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy]
        total = sums[strategy] if sums is not None else outcome_sums(group)
        os_km = fit_km(group["os_months"], group["death"], strategy)
        median, lower, upper = median_with_ci(os_km)
        landmarks = {f"os_{years}y": survival_at(os_km, 12.0 * years, horizon) for years in LANDMARK_YEARS}
        del os_km  # one fitted curve at a time: a curve of a million patients is large
        pfs_median, pfs_lower, pfs_upper = median_with_ci(fit_km(group["pfs1_months"], group["pfs1_event"], strategy))
        n, functional_n = total["n"], total["functional_n"]
        row = {
            "strategy": strategy,
            "n": n,
            "deaths": total["deaths"],
            "median_os_months": median,
            "median_os_lower_95": lower,
            "median_os_upper_95": upper,
        }
        row.update(landmarks)
        row.update(
            {
                "median_pfs1_months": pfs_median,
                "median_pfs1_lower_95": pfs_lower,
                "median_pfs1_upper_95": pfs_upper,
                "functional_n": functional_n,
                "mean_months_uncontrolled": _ratio(total["months_uncontrolled_sum"], total["months_uncontrolled_count"])
                if functional_n
                else math.nan,
                "share_ever_controlled": total["ever_controlled"] / functional_n if functional_n else math.nan,
                "mean_symptom_control_months": _ratio(total["symptom_control_sum"], total["symptom_control_count"])
                if functional_n
                else math.nan,
                "resected_share": total["resected"] / n if n else math.nan,
                "mean_lines": total["lines"] / n if n else math.nan,
                "treatment_deaths": total["treatment_deaths"],
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _ratio(total: float, count: int) -> float:
    return total / count if count else math.nan
