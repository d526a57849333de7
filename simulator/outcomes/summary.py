"""``run``'s summary.csv: one row per strategy, from Kaplan-Meier curves and the declared metrics.

Summary mode cannot keep every patient's row, so the non-survival columns come from additive parts
(sums and counts) gathered piece by piece: ``outcome_sums`` of each piece, added with ``add_sums``.
A full run computes the same parts from its whole table, so both modes give the same columns.
"""

from __future__ import annotations

import math

import pandas as pd

from .metrics import RUN_SUMMARY_METRICS, mean_parts
from .survival import LANDMARK_YEARS, fit_km, median_with_ci, survival_at

MONTHS_PER_YEAR = 12.0
# Counts of patients in summary.csv: name -> which patients count.
SUMMARY_COUNTS = {
    "n": lambda frame: pd.Series(True, index=frame.index),
    "deaths": lambda frame: frame["death"] == 1,
    "functional_n": lambda frame: frame["functional"].astype(bool),
    "treatment_deaths": lambda frame: frame["death_cause"] == "treatment",
}


def outcome_sums(group: pd.DataFrame) -> dict[str, float]:
    """The additive parts of summary.csv's non-survival columns for one strategy's patients."""
    sums: dict[str, float] = {name: int(counted(group).sum()) for name, counted in SUMMARY_COUNTS.items()}
    for metric in RUN_SUMMARY_METRICS:
        sums[f"{metric.name}.sum"], sums[f"{metric.name}.count"] = mean_parts(group, metric)
    return sums


def add_sums(total: dict[str, float] | None, more: dict[str, float]) -> dict[str, float]:
    return dict(more) if total is None else {key: total[key] + more[key] for key in total}


def summary_table(
    patients: pd.DataFrame, strategies: list[str], horizon: float, sums: dict[str, dict[str, float]] | None = None
) -> pd.DataFrame:
    """Per strategy: OS and first-line PFS from Kaplan-Meier curves, then the declared metrics marked
    ``in_run_summary`` (and their former names, for one release).

    ``sums`` (summary mode): each strategy's ``outcome_sums`` gathered piece by piece; ``patients``
    then needs only strategy, os_months, death, pfs1_months and pfs1_event."""
    rows = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy]
        total = sums[strategy] if sums is not None else outcome_sums(group)
        os_km = fit_km(group["os_months"], group["death"], strategy)
        median, lower, upper = median_with_ci(os_km)
        landmarks = {f"os_{years}y": survival_at(os_km, MONTHS_PER_YEAR * years, horizon) for years in LANDMARK_YEARS}
        del os_km  # one fitted curve at a time: a curve of a million patients is large
        pfs_median, pfs_lower, pfs_upper = median_with_ci(fit_km(group["pfs1_months"], group["pfs1_event"], strategy))
        row = {
            "strategy": strategy,
            "n": total["n"],
            "deaths": total["deaths"],
            "median_os_months": median,
            "median_os_lower_95": lower,
            "median_os_upper_95": upper,
            **landmarks,
            "median_pfs1_months": pfs_median,
            "median_pfs1_lower_95": pfs_lower,
            "median_pfs1_upper_95": pfs_upper,
            "functional_n": total["functional_n"],
        }
        for metric in RUN_SUMMARY_METRICS:
            count = total[f"{metric.name}.count"]
            row[metric.name] = total[f"{metric.name}.sum"] / count if count else math.nan
        row["treatment_deaths"] = total["treatment_deaths"]
        for metric in RUN_SUMMARY_METRICS:
            for alias in metric.aliases:
                row[alias] = row[metric.name]
        rows.append(row)
    return pd.DataFrame(rows)
