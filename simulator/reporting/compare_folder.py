"""The run folder of `nelm-sim compare`: tables, figures, report.html and manifest, written atomically."""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import file_sha256
from ..outcomes.cohort import cohort_characteristics
from ..outcomes.survival import at_risk_counts, survival_table
from ..outcomes.timecourse import swimmer_data
from .html_report import build_report
from .pathway_figures import occupancy_figure, swimmer_figure, symptom_figure
from .run_folder import atomic_folder, package_versions, write_json
from .style import save, tick_step
from .survival_figures import forest_figure, km_figure

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.compare import Comparison

CSV_FLOAT_FORMAT = "%.10g"
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


def write_figures(comparison: Comparison, folder: Path) -> list[tuple[Path, str]]:
    """Every figure as PNG in ``folder``; returns (path, caption) in report order."""
    scenario = comparison.prepared.scenario
    horizon = scenario.horizon_months
    names = comparison.strategies
    patients = comparison.patients
    pooled = f"all {comparison.replications} replication(s) pooled"
    out: list[tuple[Path, str]] = []
    ticks = list(np.arange(0.0, horizon + 1e-9, tick_step(horizon)))
    for duration, event, words, ylabel, file in ENDPOINTS:
        curves = survival_table(patients, names, duration, event)
        at_risk = pd.DataFrame(
            {t: [at_risk_counts(patients.loc[patients["strategy"] == s, duration], [t])[0] for s in names] for t in ticks}, index=names
        )
        fig = km_figure(curves, at_risk, names, f"{scenario.name}: {words} by strategy", ylabel, horizon)
        out.append((save(fig, folder / file), f"Kaplan-Meier {words} with 95% confidence bands and numbers at risk ({pooled})."))
    hazards = comparison.summary[comparison.summary["metric"] == "hr_os_vs_comparator"]
    fig = forest_figure(hazards, comparison.comparator, names, comparison.replications)
    out.append(
        (
            save(fig, folder / "hazard_ratios.png"),
            f"Hazard ratio of death of each strategy against {comparison.comparator} (Cox model per replication).",
        )
    )
    fig = symptom_figure(comparison.symptom_curve, names, horizon)
    out.append((save(fig, folder / "symptom_control.png"), f"Symptom control over time among patients with functional tumours ({pooled})."))
    fig = occupancy_figure(comparison.occupancy, names, horizon)
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
        fig = swimmer_figure(lines, markers, strategy, horizon, treatments)
        out.append(
            (
                save(fig, folder / f"swimmer_{_file_name(strategy)}.png"),
                f"{strategy}: treatment sequences of the same {len(sample)} patients of replication 1.",
            )
        )
    return out


def report_context(comparison: Comparison, max_replications: int | None) -> dict:
    return {
        "provenance": comparison.prepared.params.provenance_rows(),
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "scenario_sha256": file_sha256(comparison.prepared.path),
        "max_replications": max_replications,
    }


def write_comparison_folder(
    comparison: Comparison,
    destination: Path,
    force: bool,
    command_line: list[str],
    wall_seconds: float,
    resolved_yaml: str,
    max_replications: int | None = None,
) -> Path:
    scenario = comparison.prepared.scenario
    context = report_context(comparison, max_replications)
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        comparison.summary.to_csv(staging / "comparison.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        comparison.per_replication.to_csv(staging / "replications.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        comparison.patients.to_csv(staging / "patients.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        comparison.occupancy.to_csv(staging / "state_occupancy.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        comparison.symptom_curve.to_csv(staging / "symptom_control.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        figures = write_figures(comparison, staging / "figures")
        cohort = cohort_characteristics(comparison.patients)
        capacity_section = ""
        if comparison.capacity is not None:
            from .capacity_report import capacity_figures, planner_section, write_capacity_tables
            from .html_report import _figure

            write_capacity_tables(comparison.capacity, staging)
            planner_figures = capacity_figures(comparison.capacity, comparison.strategies, staging / "figures")
            capacity_section = planner_section(comparison.capacity, comparison.patients, comparison.strategies, planner_figures, _figure)
            figures_written = figures + planner_figures
        else:
            figures_written = figures
        (staging / "report.html").write_text(
            build_report(comparison, figures, cohort, context, capacity_section=capacity_section), encoding="utf-8"
        )
        (staging / "scenario.resolved.yaml").write_text(resolved_yaml, encoding="utf-8")
        write_json(
            staging / "manifest.json",
            {
                "command": "compare",
                "scenario": scenario.name,
                "scenario_file": str(comparison.prepared.path),
                "scenario_sha256": context["scenario_sha256"],
                "seed": scenario.seed,
                "replications": comparison.replications,
                "precision": comparison.precision,
                "precision_metrics": list(comparison.precision_metrics),
                "precision_met": comparison.precision_met,
                "precision_trace": comparison.precision_trace,
                "max_replications": max_replications if comparison.precision is not None else None,
                "comparator": comparison.comparator,
                "patients_per_strategy": scenario.cohort.size,
                "horizon_months": scenario.horizon_months,
                "strategies": comparison.strategies,
                "figures": [str(path.relative_to(staging)) for path, _ in figures_written],
                "versions": context["versions"],
                "python": context["python"],
                "platform": context["platform"],
                "wall_time_seconds": round(wall_seconds, 3),
                "command_line": command_line,
            },
        )
    return destination
