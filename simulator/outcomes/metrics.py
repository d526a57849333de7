"""Per-replication outcome metrics of each strategy, as a long table (replication, strategy, metric, value).

One replication is one cohort run through every strategy with common random numbers; each metric is
computed within a replication, and ``outcomes.comparison`` summarises them across replications.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .hazards import hazard_ratios
from .survival import LANDMARK_YEARS, fit_km, restricted_mean
from .timecourse import therapy_lines

MONTHS_PER_YEAR = 12.0
SYMPTOM_LANDMARK_MONTHS = (6, 12)  # cumulative incidence of first symptom control by these times
NO_ACTIVE_TREATMENT = ("surveillance", "best_supportive_care")  # not counted as lines of anticancer therapy
DEATH_CAUSES = ("disease", "treatment", "other")
HIGHER, NEITHER, LOWER = 1, 0, -1  # which way is better, for rankings; NEITHER gets no "best strategy"


@dataclass(frozen=True)
class Metric:
    """One outcome metric, declared once: every table, report and page reads it from here.

    A metric with ``per_patient`` is the mean of that per-patient value over ``among`` ("all" patients or
    the "functional" ones); its additive parts (sum and count) are what summary mode keeps, so ``run``,
    ``run --summary`` and ``compare`` compute it the same way. Metrics without it are computed from
    Kaplan-Meier curves or against the comparator (``survival_metrics``, ``replication_metrics``).
    ``in_run_summary`` puts it in ``run``'s summary.csv; ``headline`` on the page's key table."""

    name: str
    label: str
    unit: str  # months, years, share, ratio, count, days
    group: str  # survival, symptoms, burden, death, capacity
    direction: int = NEITHER
    scale: str = "linear"  # "log": summarised on the log scale (ratios)
    headline: bool = False
    per_patient: Callable[[pd.DataFrame], pd.Series] | None = None
    among: str = "all"
    in_run_summary: bool = False
    aliases: tuple[str, ...] = ()  # former names of its column in summary.csv, written too for one release


def _functional(frame: pd.DataFrame) -> pd.Series:
    return frame["functional"].astype(bool)


def _symptom_free_months(frame: pd.DataFrame) -> pd.Series:
    # Nonfunctional patients have no hormonal symptoms: their whole survival is symptom-free.
    return frame["os_months"] - frame["months_uncontrolled"].where(_functional(frame), 0.0).fillna(0.0)


def _uncontrolled_share(frame: pd.DataFrame) -> pd.Series:
    followed = frame["os_months"].where(frame["os_months"] > 0)
    return frame["months_uncontrolled"] / followed


def _active_lines(frame: pd.DataFrame) -> pd.Series:
    treatments = frame["treatment_sequence"].fillna("").astype(str).str.split(">")
    return treatments.map(lambda sequence: sum(1 for t in sequence if t and t not in NO_ACTIVE_TREATMENT))


def _declared() -> list[Metric]:
    metrics = [
        Metric("median_os_months", "Median overall survival", "months", "survival", HIGHER, headline=True),
        Metric("rmst_os_months", "Restricted mean survival time (to the horizon)", "months", "survival", HIGHER, headline=True),
        Metric("hr_os_vs_comparator", "Hazard ratio of death vs comparator (Cox)", "ratio", "survival", LOWER, "log", headline=True),
        Metric("life_years_gained", "Life-years gained vs comparator (difference in RMST)", "years", "survival", HIGHER),
        Metric("median_pfs1_months", "Median progression-free survival, first line", "months", "survival", HIGHER, headline=True),
        Metric("functional_share", "Functional (hormone-secreting) tumours", "share", "symptoms", per_patient=_functional),
        Metric(
            "mean_months_uncontrolled",
            "Months with uncontrolled symptoms (functional patients)",
            "months",
            "symptoms",
            LOWER,
            headline=True,
            per_patient=lambda f: f["months_uncontrolled"],
            among="functional",
            in_run_summary=True,
        ),
        Metric(
            "share_ever_controlled",
            "Symptoms ever controlled (functional patients)",
            "share",
            "symptoms",
            HIGHER,
            per_patient=lambda f: f["time_to_first_control"].notna(),
            among="functional",
            in_run_summary=True,
        ),
        Metric(
            "mean_months_controlled",
            "Months alive with symptoms controlled (functional patients)",
            "months",
            "symptoms",
            HIGHER,
            per_patient=lambda f: f["symptom_control_months"],
            among="functional",
            in_run_summary=True,
            aliases=("mean_symptom_control_months",),
        ),
        Metric(
            "symptom_free_survival_months",
            "Symptom-free survival: months alive without uncontrolled symptoms (all patients)",
            "months",
            "symptoms",
            HIGHER,
            headline=True,
            per_patient=_symptom_free_months,
        ),
        # Months with uncontrolled symptoms grow with survival, so a strategy that keeps patients alive
        # longer can look worse on them; the share of each patient's follow-up compares fairly.
        Metric(
            "uncontrolled_share_of_life",
            "Share of follow-up with uncontrolled symptoms (functional patients)",
            "share",
            "symptoms",
            LOWER,
            headline=True,
            per_patient=_uncontrolled_share,
            among="functional",
            in_run_summary=True,
        ),
        Metric(
            "mean_lines",
            "Lines of therapy per patient (including supportive care)",
            "count",
            "burden",
            per_patient=lambda f: f["lines"],
            in_run_summary=True,
        ),
        Metric("mean_active_lines", "Lines of anticancer therapy per patient", "count", "burden", per_patient=_active_lines),
        Metric(
            "adverse_events_per_patient", "Adverse events per patient", "count", "burden", LOWER, per_patient=lambda f: f["adverse_events"]
        ),
        Metric("resected_share", "Resected", "share", "burden", per_patient=lambda f: f["resected"], in_run_summary=True),
        Metric("alive_at_horizon_share", "Alive at the horizon", "share", "death", HIGHER, per_patient=lambda f: f["death"] == 0),
    ]
    for cause in DEATH_CAUSES:
        metrics.append(Metric(f"death_{cause}", f"Died of {cause}", "share", "death", per_patient=lambda f, c=cause: f["death_cause"] == c))
    for years in LANDMARK_YEARS:
        metrics.append(Metric(f"os_{years}y", f"{years}-year overall survival", "share", "survival", HIGHER, headline=years == 5))
    for months in SYMPTOM_LANDMARK_MONTHS:
        metrics.append(
            Metric(
                f"controlled_by_{months}m",
                f"Symptoms first controlled within {months} months (functional patients)",
                "share",
                "symptoms",
                HIGHER,
                # No censoring before the horizon: the plain share is the cumulative incidence (death competes).
                per_patient=lambda f, m=months: f["time_to_first_control"] <= m,
                among="functional",
            )
        )
    # Capacity planning (README "Capacity planning"): present only when a scenario constrains resources.
    metrics += [
        Metric("progressed_while_waiting_share", "Progressed while waiting for a resource", "share", "capacity", LOWER),
        Metric(
            "treatment_changed_by_waiting_share",
            "Treatment changed by waiting (no longer eligible after progressing)",
            "share",
            "capacity",
            LOWER,
        ),
        Metric("died_while_waiting_share", "Died while waiting for a resource", "share", "capacity", LOWER),
    ]
    return metrics


METRICS: dict[str, Metric] = {metric.name: metric for metric in _declared()}
# Families named by a pattern (one per procedure, treatment or resource): prefix -> (label, unit, group).
METRIC_PATTERNS: dict[str, tuple[str, str, str]] = {
    "procedures_": ("Procedures per patient: {}", "count", "burden"),
    "months_on_": ("Months on {} per patient (line start to next line or end)", "months", "burden"),
    "wait_mean_days_": ("Mean wait: {}", "days", "capacity"),
    "wait_p90_days_": ("90th-percentile wait: {}", "days", "capacity"),
    "utilisation_": ("Utilisation: {}", "share", "capacity"),
}
CAPACITY_METRICS = tuple(name for name, metric in METRICS.items() if metric.group == "capacity")
LOG_SCALE_METRICS = frozenset(name for name, metric in METRICS.items() if metric.scale == "log")
HIGHER_IS_BETTER = frozenset(name for name, metric in METRICS.items() if metric.direction == HIGHER and metric.group != "capacity")
LOWER_IS_BETTER = frozenset(name for name, metric in METRICS.items() if metric.direction == LOWER and metric.group != "capacity")
HEADLINE_METRICS = tuple(name for name, metric in METRICS.items() if metric.headline)
RUN_SUMMARY_METRICS = tuple(metric for metric in METRICS.values() if metric.in_run_summary)


def metric_info(name: str) -> tuple[str, str, str]:
    """(label, unit, group) of a declared or pattern-named metric."""
    metric = METRICS.get(name)
    if metric is not None:
        return metric.label, metric.unit, metric.group
    for prefix, (label, unit, group) in METRIC_PATTERNS.items():
        if name.startswith(prefix):
            return label.format(name.removeprefix(prefix).replace("_", " ")), unit, group
    return (name, "", "other")


# A quantity's natural range by its unit, for confidence intervals that respect it (a share stays in
# [0, 1], a time or a count at or above 0). Years are differences in RMST (life-years gained): any sign.
NATURAL_BOUNDS = {"share": (0.0, 1.0), "months": (0.0, math.inf), "days": (0.0, math.inf), "count": (0.0, math.inf)}


def natural_bounds(name: str) -> tuple[float, float] | None:
    return NATURAL_BOUNDS.get(metric_info(name)[1])


def metric_order(names: list[str]) -> list[str]:
    """Declared metrics in the order they are declared, then pattern-named ones alphabetically."""
    declared = [m for m in METRICS if m in names]
    return declared + sorted(set(names) - set(declared))


def population(frame: pd.DataFrame, metric: Metric) -> pd.DataFrame:
    return frame[_functional(frame)] if metric.among == "functional" else frame


def mean_parts(frame: pd.DataFrame, metric: Metric) -> tuple[float, int]:
    """The additive parts of a per-patient mean: (sum, count of patients with a value)."""
    assert metric.per_patient is not None
    values = metric.per_patient(population(frame, metric)).astype(float)
    return float(values.sum()), int(values.count())


def patient_means(frame: pd.DataFrame, group: str) -> dict[str, float]:
    """The per-patient-mean metrics of one group, in declared order; metrics over the functional
    patients are left out when there are none."""
    values = {}
    has_functional = bool(_functional(frame).any())
    for metric in METRICS.values():
        if metric.group != group or metric.per_patient is None or (metric.among == "functional" and not has_functional):
            continue
        chosen = population(frame, metric)
        values[metric.name] = float(metric.per_patient(chosen).astype(float).mean()) if len(chosen) else math.nan
    return values


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
    return patient_means(group, "symptoms")


def burden_metrics(group: pd.DataFrame, lines: pd.DataFrame) -> dict[str, float]:
    """Treatment burden and causes of death: the declared means, then one value per procedure kind and
    per treatment given."""
    values = {**patient_means(group, "burden"), **patient_means(group, "death")}
    for column in sorted(c for c in group.columns if c.startswith("n_")):
        values[f"procedures_{column.removeprefix('n_')}"] = float(group[column].mean())
    if len(lines):
        durations = (lines["end"] - lines["start"]).groupby(lines["treatment"]).sum()
        for treatment, months in durations.items():
            values[f"months_on_{treatment}"] = float(months) / len(group)
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
        for metric in metric_order(list(values[strategy])):
            rows.append({"replication": int(replications[0]), "strategy": strategy, "metric": metric, "value": values[strategy][metric]})
    return pd.DataFrame(rows)
