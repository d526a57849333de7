"""Per-replication outcome metrics of each strategy, as a long table (replication, strategy, metric, value).

One replication is one cohort run through every strategy with common random numbers; each metric is
computed within a replication, and ``outcomes.comparison`` summarises them across replications.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .hazards import hazard_ratios
from .survival import LANDMARK_YEARS, fit_km, restricted_mean
from .timecourse import therapy_lines

MONTHS_PER_YEAR = 12.0
SYMPTOM_LANDMARK_MONTHS = (6, 12)  # cumulative incidence of first symptom control by these times
NO_ACTIVE_TREATMENT = ("surveillance", "best_supportive_care")  # not counted as lines of anticancer therapy
DEATH_CAUSES = ("disease", "treatment", "other")

# name -> (label, unit, group). Metrics whose name follows a pattern (procedures_<kind>, ...) are
# described by ``metric_info``.
METRICS: dict[str, tuple[str, str, str]] = {
    "median_os_months": ("Median overall survival", "months", "survival"),
    "rmst_os_months": ("Restricted mean survival time (to the horizon)", "months", "survival"),
    "hr_os_vs_comparator": ("Hazard ratio of death vs comparator (Cox)", "ratio", "survival"),
    "life_years_gained": ("Life-years gained vs comparator (difference in RMST)", "years", "survival"),
    "median_pfs1_months": ("Median progression-free survival, first line", "months", "survival"),
    "functional_share": ("Functional (hormone-secreting) tumours", "share", "symptoms"),
    "mean_months_uncontrolled": ("Months with uncontrolled symptoms (functional patients)", "months", "symptoms"),
    "share_ever_controlled": ("Symptoms ever controlled (functional patients)", "share", "symptoms"),
    "mean_months_controlled": ("Months alive with symptoms controlled (functional patients)", "months", "symptoms"),
    "symptom_free_survival_months": (
        "Symptom-free survival: months alive without uncontrolled symptoms (all patients)",
        "months",
        "symptoms",
    ),
    "mean_lines": ("Lines of therapy per patient (including supportive care)", "count", "burden"),
    "mean_active_lines": ("Lines of anticancer therapy per patient", "count", "burden"),
    "adverse_events_per_patient": ("Adverse events per patient", "count", "burden"),
    "resected_share": ("Resected", "share", "burden"),
    "alive_at_horizon_share": ("Alive at the horizon", "share", "death"),
}
for _years in LANDMARK_YEARS:
    METRICS[f"os_{_years}y"] = (f"{_years}-year overall survival", "share", "survival")
for _months in SYMPTOM_LANDMARK_MONTHS:
    METRICS[f"controlled_by_{_months}m"] = (f"Symptoms first controlled within {_months} months (functional patients)", "share", "symptoms")

# Capacity planning (README "Capacity planning"): present only when a scenario constrains resources.
CAPACITY_METRICS: dict[str, tuple[str, str, str]] = {
    "progressed_while_waiting_share": ("Progressed while waiting for a resource", "share", "capacity"),
    "treatment_changed_by_waiting_share": ("Treatment changed by waiting (no longer eligible after progressing)", "share", "capacity"),
    "died_while_waiting_share": ("Died while waiting for a resource", "share", "capacity"),
}
CAPACITY_PATTERNS = {
    "wait_mean_days_": ("Mean wait", "days"),
    "wait_p90_days_": ("90th-percentile wait", "days"),
    "utilisation_": ("Utilisation", "share"),
}

# Ratios are summarised on the log scale (their sampling distribution is closer to normal there).
LOG_SCALE_METRICS = frozenset({"hr_os_vs_comparator"})


def metric_info(name: str) -> tuple[str, str, str]:
    if name in METRICS:
        return METRICS[name]
    if name.startswith("procedures_"):
        return (f"Procedures per patient: {name.removeprefix('procedures_')}", "count", "burden")
    if name.startswith("months_on_"):
        return (
            f"Months on {name.removeprefix('months_on_').replace('_', ' ')} per patient (line start to next line or end)",
            "months",
            "burden",
        )
    if name in CAPACITY_METRICS:
        return CAPACITY_METRICS[name]
    for prefix, (label, unit) in CAPACITY_PATTERNS.items():
        if name.startswith(prefix):
            return (f"{label}: {name.removeprefix(prefix).replace('_', ' ')}", unit, "capacity")
    if name.startswith("death_"):
        return (f"Died of {name.removeprefix('death_')}", "share", "death")
    return (name, "", "other")


def survival_metrics(group: pd.DataFrame, horizon: float) -> dict[str, float]:
    """OS and PFS summaries of one strategy in one replication."""
    os_km = fit_km(group["os_months"], group["death"], "os")
    values = {"median_os_months": float(os_km.median_survival_time_), "rmst_os_months": restricted_mean(os_km, horizon)}
    for years in LANDMARK_YEARS:
        if MONTHS_PER_YEAR * years <= horizon:
            values[f"os_{years}y"] = float(os_km.survival_function_at_times(MONTHS_PER_YEAR * years).iloc[0])
    if "pfs1_months" in group:
        pfs = group.dropna(subset=["pfs1_months"])
        if len(pfs):
            values["median_pfs1_months"] = float(fit_km(pfs["pfs1_months"], pfs["pfs1_event"], "pfs1").median_survival_time_)
    return {k: (math.nan if np.isinf(v) else v) for k, v in values.items()}


def symptom_metrics(group: pd.DataFrame) -> dict[str, float]:
    functional = group[group["functional"].astype(bool)]
    values = {"functional_share": float(len(functional)) / len(group) if len(group) else math.nan}
    # Symptom-free survival counts nonfunctional patients' whole survival: they have no hormonal symptoms.
    uncontrolled = group["months_uncontrolled"].where(group["functional"].astype(bool), 0.0).fillna(0.0)
    values["symptom_free_survival_months"] = float((group["os_months"] - uncontrolled).mean())
    if len(functional) == 0:
        return values
    first = functional["time_to_first_control"]
    values.update(
        {
            "mean_months_uncontrolled": float(functional["months_uncontrolled"].mean()),
            "share_ever_controlled": float(first.notna().mean()),
            "mean_months_controlled": float(functional["symptom_control_months"].mean()),
        }
    )
    # No censoring before the horizon: the plain share is the cumulative incidence (death competes).
    for months in SYMPTOM_LANDMARK_MONTHS:
        values[f"controlled_by_{months}m"] = float((first <= months).mean())
    return values


def burden_metrics(group: pd.DataFrame, lines: pd.DataFrame) -> dict[str, float]:
    n = len(group)
    values = {
        "mean_lines": float(group["lines"].mean()),
        "adverse_events_per_patient": float(group["adverse_events"].mean()),
        "resected_share": float(group["resected"].mean()),
        "alive_at_horizon_share": float((group["death"] == 0).mean()),
    }
    treatments = group["treatment_sequence"].fillna("").astype(str).str.split(">")
    values["mean_active_lines"] = float(treatments.map(lambda seq: sum(1 for t in seq if t and t not in NO_ACTIVE_TREATMENT)).mean())
    for column in sorted(c for c in group.columns if c.startswith("n_")):
        values[f"procedures_{column.removeprefix('n_')}"] = float(group[column].mean())
    for cause in DEATH_CAUSES:
        values[f"death_{cause}"] = float((group["death_cause"] == cause).mean())
    if len(lines):
        durations = (lines["end"] - lines["start"]).groupby(lines["treatment"]).sum()
        for treatment, months in durations.items():
            values[f"months_on_{treatment}"] = float(months) / n
    return values


def replication_metrics(
    patients: pd.DataFrame, events: pd.DataFrame, strategies: list[str], comparator: str, horizon: float
) -> pd.DataFrame:
    """Every metric of every strategy for one replication's patients and events."""
    replications = patients["replication"].unique()
    if len(replications) != 1:
        raise ValueError("replication_metrics expects the patients of exactly one replication")
    lines = therapy_lines(events)
    values: dict[str, dict[str, float]] = {}
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy]
        values[strategy] = {
            **survival_metrics(group, horizon),
            **symptom_metrics(group),
            **burden_metrics(group, lines[lines["strategy"] == strategy]),
        }
    for row in hazard_ratios(patients, strategies, comparator).itertuples():
        values[row.strategy]["hr_os_vs_comparator"] = row.hr
    values[comparator]["hr_os_vs_comparator"] = 1.0
    for strategy in strategies:
        values[strategy]["life_years_gained"] = (
            values[strategy]["rmst_os_months"] - values[comparator]["rmst_os_months"]
        ) / MONTHS_PER_YEAR
    # Treatments one strategy never uses are zero months for it, not missing.
    therapy = sorted({k for v in values.values() for k in v if k.startswith("months_on_")})
    rows = []
    for strategy in strategies:
        for name in therapy:
            values[strategy].setdefault(name, 0.0)
        for metric, value in values[strategy].items():
            rows.append({"replication": int(replications[0]), "strategy": strategy, "metric": metric, "value": value})
    return pd.DataFrame(rows)
