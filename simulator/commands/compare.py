"""`nelm-sim compare`: every strategy of a scenario over replications (optionally until a precision),
written to outputs/<name>-compare/ with tables, figures, report.html and manifest."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import pandas as pd

from ..config import apply_overrides, load_scenario
from ..economics.cea import icer_tables
from ..economics.settings import EconomicSettings
from ..economics.valuation import economics_table_from_means
from ..experiments.compare import DEFAULT_MAX_REPLICATIONS, Comparison, check_precision_options, resolve_comparator, run_comparison
from ..experiments.execution import SERIAL, Execution
from ..experiments.runner import PreparedScenario, prepare
from ..io import atomic_folder, check_destination, file_sha256, write_json
from ..outcomes.cohort import cohort_characteristics
from ..outcomes.comparison import DEFAULT_PRECISION_METRICS
from ..reporting.comparison_figures import write_figures
from ..reporting.economics_report import EconomicsView, cheers_section, economics_section, folder_files
from ..reporting.exports import parameter_sheet, write_workbook
from ..reporting.html_report import build_report, patients_text
from .output import manifest, output_folder, package_versions, resolved_yaml, write_capacity_outputs, write_csv
from .params import parameter_rows


def report_context(comparison: Comparison, max_replications: int | None) -> dict:
    """What report.html says of the run's provenance."""
    return prepared_context(comparison.prepared, max_replications)


def prepared_context(prepared: PreparedScenario, max_replications: int | None = None, sensitivity: bool = False) -> dict:
    """What a report.html says of a run's provenance; ``sensitivity``: the parameter table with each
    parameter's PSA distribution and DSA range (the economics reports)."""
    return {
        "provenance": parameter_rows(prepared.path) if sensitivity else prepared.params.provenance_rows(),
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "scenario_sha256": file_sha256(prepared.path),
        "max_replications": max_replications,
    }


def write_results_workbook(staging: Path, prepared: PreparedScenario) -> None:
    """results.xlsx (--xlsx): the parameters with their sources and the folder's result tables."""
    write_workbook(staging, parameter_sheet(parameter_rows(prepared.path), prepared.params))


def comparison_economics(comparison: Comparison) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """economics.csv and icer.csv of a comparison run with ``value=True`` (else None), as `run` computes
    them: the mean of the replications' means per patient, with their t-based 95% CI."""
    if comparison.economics is None:
        return None
    settings = EconomicSettings.from_scenario(comparison.prepared.scenario)
    names = comparison.strategies
    table = economics_table_from_means(comparison.economics, comparison.patients.groupby("strategy").size(), names)
    return table, icer_tables(table, names, settings.willingness_to_pay, settings.comparator)


def economics_view(comparison: Comparison, tables: tuple[pd.DataFrame, pd.DataFrame]) -> EconomicsView:
    return EconomicsView.of(
        comparison.prepared,
        *tables,
        f"Means per patient over {comparison.replications} replication(s), each of {patients_text(comparison.prepared.scenario)}, "
        "with t-based 95% confidence intervals across replications (the Monte Carlo error, not parameter uncertainty: "
        "nelm-sim psa gives that).",
    )


def economics_report_parts(comparison: Comparison, economics: tuple[pd.DataFrame, pd.DataFrame] | None, staging: Path) -> dict:
    """build_report's economics section and CHEERS checklist of a comparison's folder (none without economics)."""
    if economics is None:
        return {"economics_section": "", "cheers": None}
    return {
        "economics_section": economics_section(economics_view(comparison, economics)),
        "cheers": lambda page: cheers_section(page, folder_files(staging)),
    }


def write_comparison_folder(
    comparison: Comparison,
    destination: Path,
    force: bool,
    command_line: list[str],
    wall_seconds: float,
    resolved: str,
    max_replications: int | None = None,
    xlsx: bool = False,
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
        economics = comparison_economics(comparison)
        if economics is not None:
            write_csv(economics[0], staging / "economics.csv")
            write_csv(economics[1], staging / "icer.csv")
        planner_figures, capacity_section = [], ""
        if comparison.capacity is not None:
            planner_figures, capacity_section = write_capacity_outputs(
                comparison.capacity, comparison.strategies, comparison.patients, staging
            )
        report = build_report(
            comparison,
            figures,
            cohort,
            context,
            capacity_section=capacity_section,
            **economics_report_parts(comparison, economics, staging),
        )
        (staging / "report.html").write_text(report, encoding="utf-8")
        if xlsx:
            write_results_workbook(staging, comparison.prepared)
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
    xlsx: bool = False,
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
    comparison = run_comparison(prepared, comparator, precision, max_replications, progress=progress, execution=execution, value=True)
    folder = write_comparison_folder(
        comparison,
        destination,
        force,
        command_line or [],
        time.perf_counter() - started,
        resolved_yaml(scenario),
        max_replications,
        xlsx,
    )
    return folder, comparison
