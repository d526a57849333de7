"""`nelm-sim run`: load a scenario file, run every strategy, write its run folder (README "What
`make run` writes")."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Scenario, apply_overrides, load_scenario
from ..economics.cea import icer_tables
from ..economics.settings import EconomicSettings
from ..economics.valuation import KEYS, economics_table, economics_table_from_means, value_patients
from ..errors import ScenarioError
from ..experiments.execution import SERIAL, Execution
from ..experiments.runner import PreparedScenario, RunResult, prepare, run_prepared, run_prepared_summary
from ..io import atomic_folder, check_destination, write_json
from ..outcomes.cohort import cohort_characteristics
from ..outcomes.summary import summary_table
from ..outcomes.survival import survival_table
from ..reporting.economics_report import EconomicsView, economics_report
from ..reporting.html_report import patients_text
from ..reporting.plots import overall_survival_figure
from .compare import prepared_context, write_results_workbook
from .output import manifest, output_folder, resolved_yaml, write_capacity_outputs, write_csv

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
    if summary:
        settings = EconomicSettings.from_scenario(scenario)
        if settings.subgroups:
            raise ScenarioError(
                path, "economics.subgroups", "no subgroups in summary mode (it keeps no patient rows); run without --summary"
            )
        patients, sums, means, counts = run_prepared_summary(prepared, settings, execution, progress)
        steps = max(1, round(scenario.horizon_months / SUMMARY_GRID_MONTHS))
        grid = np.linspace(0.0, scenario.horizon_months, steps + 1)  # ends exactly at the horizon
        result = RunResult(events=None, patients=patients)
        table = economics_table_from_means(means, counts, names)
        economics = (table, icer_tables(table, names, settings.willingness_to_pay, settings.comparator))
    else:
        result = run_prepared(prepared, execution, progress)
    return ScenarioResult(
        prepared,
        result,
        summary_table(result.patients, names, scenario.horizon_months, sums),
        survival_table(result.patients, names, grid=grid),
        economics,
    )


def economics_tables(prepared: PreparedScenario, result: RunResult) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """economics.csv and icer.csv of a run (per-strategy means with replication CIs and the ICER table,
    each also per subgroup when the scenario asks), and the per-patient values."""
    settings = EconomicSettings.from_scenario(prepared.scenario)
    names = [s.name for s in prepared.strategies]
    values = value_patients(result.events, result.patients, prepared.params, settings)
    table = economics_table(values, names, result.patients, settings.subgroups)
    return table, icer_tables(table, names, settings.willingness_to_pay, settings.comparator), values


# The per-patient values patients.csv adds to each patient's row (README "What `make run` writes").
PATIENT_VALUE_COLUMNS = ("costs", "costs_undiscounted", "qalys", "qalys_undiscounted", "life_years", "life_years_undiscounted")


def write_run_folder(
    outcome: ScenarioResult,
    destination: Path,
    force: bool,
    command_line: list[str],
    wall_seconds: float,
    execution: Execution = SERIAL,
    xlsx: bool = False,
) -> Path:
    scenario = outcome.prepared.scenario
    names = [s.name for s in outcome.prepared.strategies]
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        tables = outcome.economics  # summary mode computed them as it went
        if not outcome.summary_mode:  # summary mode keeps neither the event log nor full patient rows
            economics, icer, values = economics_tables(outcome.prepared, outcome.result)
            tables = (economics, icer)
            outcome.result.events.to_parquet(staging / "events.parquet", index=False)
            patients = outcome.result.patients.merge(values[[*KEYS, *PATIENT_VALUE_COLUMNS]], on=KEYS, how="left", validate="one_to_one")
            write_csv(patients, staging / "patients.csv", currency=scenario.economics.currency)
        write_csv(outcome.summary, staging / "summary.csv", currency=scenario.economics.currency)
        write_csv(outcome.survival, staging / "survival.csv", currency=scenario.economics.currency)
        for name, table in zip(("economics.csv", "icer.csv"), tables or ()):
            write_csv(table, staging / name, currency=scenario.economics.currency)
        overall_survival_figure(
            outcome.survival, staging / "figures" / "overall_survival.png", f"{scenario.name}: overall survival by strategy"
        )
        if outcome.result.capacity is not None:
            write_capacity_outputs(outcome.result.capacity, names, None, staging)
        if tables is not None:
            (staging / "report.html").write_text(run_report(outcome, tables, staging), encoding="utf-8")
        if xlsx:
            write_results_workbook(staging, outcome.prepared)
        (staging / "scenario.resolved.yaml").write_text(resolved_yaml(scenario), encoding="utf-8")
        write_json(
            staging / "manifest.json",
            manifest(
                scenario,
                outcome.prepared.path,
                wall_seconds,
                command_line,
                replications=scenario.replications,
                patients_per_strategy=scenario.cohort.size,
                horizon_months=scenario.horizon_months,
                strategies=names,
                events=None if outcome.summary_mode else len(outcome.result.events),
                summary_mode=outcome.summary_mode,
                workers=execution.workers,
                executor=execution.executor,
            ),
        )
    return destination


def run_report(outcome: ScenarioResult, tables: tuple[pd.DataFrame, pd.DataFrame], staging: Path) -> str:
    """report.html of a run: its survival figure and economics (pooled replications' means, their CIs)."""
    scenario = outcome.prepared.scenario
    basis = (
        f"Means per patient over {scenario.replications} replication(s), each of {patients_text(scenario)}, "
        "with t-based 95% confidence intervals across replications (the Monte Carlo error, not parameter uncertainty: "
        "nelm-sim psa gives that)."
    )
    return economics_report(
        outcome.prepared,
        "run",
        EconomicsView.of(outcome.prepared, *tables, basis),
        prepared_context(outcome.prepared, sensitivity=True),
        staging,
        patients_text(scenario) + f"; {scenario.replications} replication(s)",
        [("survival", staging / "figures" / "overall_survival.png", f"{scenario.name}: overall survival by strategy")],
        None if outcome.summary_mode else cohort_characteristics(outcome.result.patients),
    )


def run_file(
    path: Path | str,
    out: Path | None = None,
    seed: int | None = None,
    patients: int | None = None,
    replications: int | None = None,
    force: bool = False,
    xlsx: bool = False,
    command_line: list[str] | None = None,
    execution: Execution = SERIAL,
    summary: bool = False,
    progress=None,
    by: list[str] | None = None,
) -> Path:
    """Validate, run and write; nothing is created on disk until the scenario has been validated.
    ``by``: subgroups (traits at entry) added to the scenario's economics.subgroups."""
    started = time.perf_counter()
    path = Path(path)
    scenario = apply_overrides(load_scenario(path), path, seed=seed, patients=patients, replications=replications)
    if by:
        subgroups = list(dict.fromkeys([*scenario.economics.subgroups, *by]))
        scenario = scenario.model_copy(update={"economics": scenario.economics.model_copy(update={"subgroups": subgroups})})
    destination = output_folder(out, scenario, path)
    check_destination(destination, force)
    outcome = run_scenario(scenario, path, execution, summary, progress)
    return write_run_folder(outcome, destination, force, command_line or [], time.perf_counter() - started, execution, xlsx)
