"""The public entry points: load a scenario, run it, write its run folder."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Scenario, file_sha256, load_scenario
from .economics.outputs import economics_tables, run_dsa_file, run_psa_file  # noqa: F401 - entry points of nelm-sim psa / dsa
from .errors import ModelLimitError, ScenarioError
from .experiments.execution import SERIAL, Execution
from .experiments.runner import PreparedScenario, RunResult, prepare, run_prepared, run_prepared_summary
from .outcomes.summary import summary_table
from .outcomes.survival import survival_table
from .reporting.plots import overall_survival_figure
from .reporting.run_folder import atomic_folder, check_destination, package_versions, write_json

DEFAULT_OUTPUT_ROOT = Path("outputs")
CSV_FLOAT_FORMAT = "%.10g"
# Summary mode writes the Kaplan-Meier curves on this grid rather than at every event time (a curve of
# a million patients has a million steps): a reporting resolution of about three days.
SUMMARY_GRID_MONTHS = 0.1


@dataclass
class ScenarioResult:
    prepared: PreparedScenario
    result: RunResult  # in summary mode: compact patient rows and no event log (events is None)
    summary: pd.DataFrame
    survival: pd.DataFrame
    economics: tuple[pd.DataFrame, pd.DataFrame] | None = None  # (economics.csv, icer.csv), computed by summary mode as it goes

    @property
    def summary_mode(self) -> bool:
        return self.result.events is None


def run_scenario(
    scenario: Scenario, path: Path | str = "scenario", execution: Execution = SERIAL, summary: bool = False, progress=None
) -> ScenarioResult:
    """Run every strategy; ``summary`` keeps per-patient summaries only (no event log, bounded memory)."""
    prepared = prepare(scenario, path, summary)
    names = [s.name for s in prepared.strategies]
    economics = sums = grid = None
    try:
        if summary:
            from .economics.cea import icer_table
            from .economics.settings import EconomicSettings
            from .economics.valuation import economics_table_from_means

            settings = EconomicSettings.from_scenario(scenario)
            patients, sums, means, counts = run_prepared_summary(prepared, settings, execution, progress)
            steps = max(1, round(scenario.horizon_months / SUMMARY_GRID_MONTHS))
            grid = np.linspace(0.0, scenario.horizon_months, steps + 1)  # ends exactly at the horizon
            result = RunResult(events=None, patients=patients)
            table = economics_table_from_means(means, counts, names)
            economics = (table, icer_table(names, table["costs"], table["qalys"], settings.willingness_to_pay, settings.comparator))
        else:
            result = run_prepared(prepared, execution, progress)
    except ModelLimitError as exc:  # a safety limit hit while simulating: blame the file's parameters
        raise ScenarioError(path, "parameters", exc.expected) from None
    return ScenarioResult(
        prepared,
        result,
        summary_table(result.patients, names, scenario.horizon_months, sums),
        survival_table(result.patients, names, grid=grid),
        economics,
    )


def write_run_folder(
    outcome: ScenarioResult, destination: Path, force: bool, command_line: list[str], wall_seconds: float, execution: Execution = SERIAL
) -> Path:
    scenario = outcome.prepared.scenario
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        if not outcome.summary_mode:  # summary mode keeps neither the event log nor full patient rows
            outcome.result.events.to_parquet(staging / "events.parquet", index=False)
            outcome.result.patients.to_csv(staging / "patients.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        outcome.summary.to_csv(staging / "summary.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        outcome.survival.to_csv(staging / "survival.csv", index=False, float_format=CSV_FLOAT_FORMAT)
        tables = outcome.economics or economics_tables(outcome.prepared, outcome.result)
        for name, table in zip(("economics.csv", "icer.csv"), tables):
            table.to_csv(staging / name, index=False, float_format=CSV_FLOAT_FORMAT)
        overall_survival_figure(
            outcome.survival, staging / "figures" / "overall_survival.png", f"{scenario.name}: overall survival by strategy"
        )
        if outcome.result.capacity is not None:
            from .reporting.capacity_report import capacity_figures, write_capacity_tables

            write_capacity_tables(outcome.result.capacity, staging)
            capacity_figures(outcome.result.capacity, [s.name for s in outcome.prepared.strategies], staging / "figures")
        (staging / "scenario.resolved.yaml").write_text(_resolved_yaml(scenario), encoding="utf-8")
        write_json(
            staging / "manifest.json",
            {
                "scenario": scenario.name,
                "scenario_file": str(outcome.prepared.path),
                "scenario_sha256": file_sha256(outcome.prepared.path),
                "seed": scenario.seed,
                "replications": scenario.replications,
                "patients_per_strategy": scenario.cohort.size,
                "horizon_months": scenario.horizon_months,
                "strategies": [s.name for s in outcome.prepared.strategies],
                "versions": package_versions(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "wall_time_seconds": round(wall_seconds, 3),
                "command_line": command_line,
                "events": None if outcome.summary_mode else len(outcome.result.events),
                "summary_mode": outcome.summary_mode,
                "workers": execution.workers,
                "executor": execution.executor,
            },
        )
    return destination


def _resolved_yaml(scenario: Scenario) -> str:
    import yaml

    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


def run_file(
    path: Path | str,
    out: Path | None = None,
    seed: int | None = None,
    patients: int | None = None,
    replications: int | None = None,
    force: bool = False,
    command_line: list[str] | None = None,
    execution: Execution = SERIAL,
    summary: bool = False,
    progress=None,
) -> Path:
    """Validate, run and write; nothing is created on disk until the scenario has been validated."""
    started = time.perf_counter()
    path = Path(path)
    scenario = load_scenario(path)
    scenario = _apply_cli_overrides(scenario, path, seed=seed, patients=patients, replications=replications)
    destination = Path(out) if out is not None else DEFAULT_OUTPUT_ROOT / scenario.name
    if out is None and Path(os.path.normpath(destination)).parent != Path(os.path.normpath(DEFAULT_OUTPUT_ROOT)):
        raise ScenarioError(path, "name", f"a name that keeps the output folder directly inside {DEFAULT_OUTPUT_ROOT}/", scenario.name)
    check_destination(destination, force)
    outcome = run_scenario(scenario, path, execution, summary, progress)
    return write_run_folder(outcome, destination, force, command_line or [], time.perf_counter() - started, execution)


def _apply_cli_overrides(scenario: Scenario, path: Path, **changes) -> Scenario:
    from pydantic import ValidationError

    from .config import validation_error_to_scenario_error

    try:
        return scenario.with_overrides(**changes)
    except ValidationError as exc:
        raise validation_error_to_scenario_error(path, exc) from None


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
):
    """Compare every strategy of a scenario file and write its comparison folder (default
    outputs/<name>-compare, beside and never inside the folder of `run`). Returns (folder, Comparison)."""
    from .experiments.compare import DEFAULT_MAX_REPLICATIONS, check_precision_options, resolve_comparator, run_comparison
    from .outcomes.comparison import DEFAULT_PRECISION_METRICS
    from .reporting.compare_folder import write_comparison_folder

    started = time.perf_counter()
    path = Path(path)
    scenario = _apply_cli_overrides(load_scenario(path), path, seed=seed, patients=patients, replications=replications)
    prepared = prepare(scenario, path)
    comparator = resolve_comparator(prepared, comparator)
    check_precision_options(precision, max_replications, DEFAULT_PRECISION_METRICS)
    if precision is not None and max_replications is None:
        max_replications = DEFAULT_MAX_REPLICATIONS
    destination = Path(out) if out is not None else DEFAULT_OUTPUT_ROOT / f"{scenario.name}-compare"
    check_destination(destination, force)
    comparison = run_comparison(prepared, comparator, precision, max_replications, progress=progress, execution=execution)
    folder = write_comparison_folder(
        comparison, destination, force, command_line or [], time.perf_counter() - started, _resolved_yaml(scenario), max_replications
    )
    return folder, comparison
