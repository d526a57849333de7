"""The figures of a strategy comparison (`nelm-sim compare`, the base of `nelm-sim scenarios`, the page)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..outcomes.survival import at_risk_counts, survival_table
from ..outcomes.timecourse import swimmer_data
from .pathway_figures import occupancy_figure, swimmer_figure, symptom_figure
from .style import save, shown_months, time_ticks
from .survival_figures import forest_figure, km_figure

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.compare import Comparison

SWIMMER_PATIENTS = 30
ENDPOINTS = (
    ("os_months", "death", "overall survival", "Overall survival (Kaplan-Meier)", "km_overall_survival.png"),
    (
        "pfs1_months",
        "pfs1_event",
        "first-line progression-free survival",
        "Progression-free survival, first line (Kaplan-Meier)",
        "km_progression_free_survival.png",
    ),
)


def _file_name(strategy: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", strategy)


@dataclass(frozen=True)
class KaplanMeierPanel:
    words: str
    ylabel: str
    file: str
    curves: pd.DataFrame
    at_risk: pd.DataFrame  # one row per strategy, one column per tick


def kaplan_meier_panels(comparison: Comparison) -> tuple[float, list[KaplanMeierPanel]]:
    """The months every figure over time shows (shown_months of overall survival), and each endpoint's
    curves with its numbers at risk at that axis' ticks."""
    names, patients = comparison.strategies, comparison.patients
    curves = {duration: survival_table(patients, names, duration, event) for duration, event, *_ in ENDPOINTS}
    shown = shown_months(curves[ENDPOINTS[0][0]], comparison.prepared.scenario.horizon_months, ["strategy"])
    ticks = list(time_ticks(shown))
    by_strategy = {s: patients[patients["strategy"] == s] for s in names}
    panels = []
    for duration, _, words, ylabel, file in ENDPOINTS:
        counts = [at_risk_counts(by_strategy[s][duration], ticks) for s in names]  # all ticks in one pass per strategy
        at_risk = pd.DataFrame(counts, index=names, columns=ticks)
        panels.append(KaplanMeierPanel(words, ylabel, file, curves[duration], at_risk))
    return shown, panels


def write_figures(comparison: Comparison, folder: Path) -> list[tuple[Path, str]]:
    """Every figure as PNG in ``folder``; returns (path, caption) in report order."""
    scenario = comparison.prepared.scenario
    names = comparison.strategies
    pooled = f"all {comparison.replications} replication(s) pooled"
    out: list[tuple[Path, str]] = []
    shown, panels = kaplan_meier_panels(comparison)
    for panel in panels:
        fig = km_figure(panel.curves, panel.at_risk, names, f"{scenario.name}: {panel.words} by strategy", panel.ylabel, shown)
        out.append(
            (save(fig, folder / panel.file), f"Kaplan-Meier {panel.words} with 95% confidence bands and numbers at risk ({pooled}).")
        )
    hazards = comparison.summary[comparison.summary["metric"] == "hr_os_vs_comparator"]
    if len(names) > 1:  # with one strategy there is nothing to compare it with: no empty forest plot
        fig = forest_figure(hazards, comparison.comparator, names, comparison.replications)
        out.append(
            (
                save(fig, folder / "hazard_ratios.png"),
                f"Hazard ratio of death of each strategy against {comparison.comparator} (Cox model per replication).",
            )
        )
    fig = symptom_figure(comparison.symptom_curve, names, shown)
    out.append((save(fig, folder / "symptom_control.png"), f"Symptom control over time among patients with functional tumours ({pooled})."))
    fig = occupancy_figure(comparison.occupancy, names, shown)
    out.append(
        (
            save(fig, folder / "state_occupancy.png"),
            f"Share of the cohort in each state at each month ({pooled}): the partitioned-survival picture.",
        )
    )
    events = comparison.first_events
    sample = sorted(events["patient_id"].unique())[:SWIMMER_PATIENTS]  # cohort order is already random
    treatments = sorted(events.loc[events["event"].astype(str) == "treatment_start", "detail"].astype(str).unique())
    for strategy in names:
        lines, markers = swimmer_data(events, strategy, 0, sample)
        fig = swimmer_figure(lines, markers, strategy, shown, treatments)
        out.append(
            (
                save(fig, folder / f"swimmer_{_file_name(strategy)}.png"),
                f"{strategy}: treatment sequences of the same {len(sample)} patients of replication 1.",
            )
        )
    return out
