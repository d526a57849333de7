"""`nelm-sim compare`: every strategy of a scenario over replications (optionally until a precision),
written to outputs/<name>-compare/ with tables, figures, report.html and manifest."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

from ..config import apply_overrides, load_scenario
from ..experiments.compare import DEFAULT_MAX_REPLICATIONS, Comparison, check_precision_options, resolve_comparator, run_comparison
from ..experiments.execution import SERIAL, Execution
from ..experiments.runner import prepare
from ..io import atomic_folder, check_destination, file_sha256, write_json
from ..outcomes.cohort import cohort_characteristics
from ..outcomes.comparison import DEFAULT_PRECISION_METRICS
from ..reporting.comparison_figures import write_figures
from ..reporting.html_report import build_report
from .output import manifest, output_folder, package_versions, resolved_yaml, write_capacity_outputs, write_csv


def report_context(comparison: Comparison, max_replications: int | None) -> dict:
    """What report.html says of the run's provenance."""
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
    resolved: str,
    max_replications: int | None = None,
) -> Path:
    """comparison.csv, replications.csv, patients.csv, the time courses, figures, report.html,
    scenario.resolved.yaml (``resolved``) and manifest.json, written atomically."""
    scenario = comparison.prepared.scenario
    context = report_context(comparison, max_replications)
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        write_csv(comparison.summary, staging / "comparison.csv", currency=scenario.economics.currency)
        write_csv(comparison.per_replication, staging / "replications.csv", currency=scenario.economics.currency)
        write_csv(comparison.patients, staging / "patients.csv", currency=scenario.economics.currency)
        write_csv(comparison.occupancy, staging / "state_occupancy.csv")
        write_csv(comparison.symptom_curve, staging / "symptom_control.csv")
        figures = write_figures(comparison, staging / "figures")
        cohort = cohort_characteristics(comparison.patients)
        planner_figures, capacity_section = [], ""
        if comparison.capacity is not None:
            planner_figures, capacity_section = write_capacity_outputs(
                comparison.capacity, comparison.strategies, comparison.patients, staging
            )
        (staging / "report.html").write_text(
            build_report(comparison, figures, cohort, context, capacity_section=capacity_section), encoding="utf-8"
        )
        (staging / "scenario.resolved.yaml").write_text(resolved, encoding="utf-8")
        write_json(
            staging / "manifest.json",
            manifest(
                scenario,
                comparison.prepared.path,
                wall_seconds,
                command_line,
                command="compare",
                replications=comparison.replications,
                precision=comparison.precision,
                precision_metrics=list(comparison.precision_metrics),
                precision_met=comparison.precision_met,
                precision_trace=comparison.precision_trace,
                max_replications=max_replications if comparison.precision is not None else None,
                comparator=comparison.comparator,
                patients_per_strategy=scenario.cohort.size,
                horizon_months=scenario.horizon_months,
                strategies=comparison.strategies,
                figures=[str(path.relative_to(staging)) for path, _ in figures + planner_figures],
            ),
        )
    return destination


def compare_file(
    path: Path | str,
    out: Path | None = None,
    seed: int | None = None,
    patients: int | None = None,
    replications: int | None = None,
    comparator: str | None = None,
    precision: float | None = None,
    max_replications: int | None = None,
    force: bool = False,
    command_line: list[str] | None = None,
    progress=None,
    execution: Execution = SERIAL,
) -> tuple[Path, Comparison]:
    """Compare every strategy of a scenario file and write its comparison folder (default
    outputs/<name>-compare, beside and never inside the folder of `run`). Returns (folder, Comparison)."""
    started = time.perf_counter()
    path = Path(path)
    scenario = apply_overrides(load_scenario(path), path, seed=seed, patients=patients, replications=replications)
    prepared = prepare(scenario, path)
    comparator = resolve_comparator(prepared, comparator)
    check_precision_options(precision, max_replications, DEFAULT_PRECISION_METRICS)
    if precision is not None and max_replications is None:
        max_replications = DEFAULT_MAX_REPLICATIONS
    destination = output_folder(out, scenario, path, "-compare")
    check_destination(destination, force)
    comparison = run_comparison(prepared, comparator, precision, max_replications, progress=progress, execution=execution)
    folder = write_comparison_folder(
        comparison, destination, force, command_line or [], time.perf_counter() - started, resolved_yaml(scenario), max_replications
    )
    return folder, comparison
