"""`nelm-sim psa` and `nelm-sim dsa`: validate, run, summarise and write the run folder atomically."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Scenario, file_sha256, load_scenario
from ..experiments.dsa import DSAResult, run_dsa
from ..experiments.execution import Execution
from ..experiments.psa import FIRST_DRAW, CheckpointError, PSACheckpoint, PSAResult, RunInterrupted, draws_matrix, run_psa
from ..experiments.runner import PreparedScenario, RunResult, prepare
from ..params.parameter_set import ParameterSet
from ..reporting import economics_plots as plots
from ..reporting.run_folder import (
    OutputExistsError,
    atomic_folder,
    check_destination,
    checkpoint_folder,
    package_versions,
    sigterm_as_interrupt,
    write_json,
)
from . import cea
from .settings import EconomicSettings
from .valuation import economics_table, value_patients

DEFAULT_OUTPUT_ROOT = Path("outputs")
CSV_FLOAT_FORMAT = "%.10g"  # as the run folder (api.CSV_FLOAT_FORMAT)
INTERVAL_QUANTILES = (0.025, 0.975)  # the 95% interval of PSA draws
# A PSA checkpoint may only be resumed by the same run. Besides the scenario, its settings and the
# resolved parameters, the packages whose code produces the numbers: another version could draw or
# simulate differently, and the merged outputs would then match no uninterrupted run.
CHECKPOINT_PACKAGES = ("nelm-sim", "numpy", "scipy", "pandas")
CHECKPOINT_FORMAT = 1  # raise when the checkpoint's layout changes, so an old one is refused, not misread


@dataclass
class PSASummary:
    summary: pd.DataFrame
    icer: pd.DataFrame
    ceac: pd.DataFrame
    evpi: pd.DataFrame
    comparator: str
    grid: list[float]
    acceptability: np.ndarray
    best: np.ndarray
    population: float


def summarise_psa(result: PSAResult, settings: EconomicSettings, params: ParameterSet) -> PSASummary:
    names = result.strategies
    costs = draws_matrix(result.outcomes, names, "costs")
    qalys = draws_matrix(result.outcomes, names, "qalys")
    comparator = settings.comparator or cea.default_comparator(names, costs.mean(), qalys.mean())
    grid = settings.wtp_grid()
    acceptability = cea.ceac(costs.to_numpy(), qalys.to_numpy(), grid)
    expected = cea.expected_nmb(costs.to_numpy(), qalys.to_numpy(), grid)
    best, best_probability = cea.ceaf(costs.to_numpy(), qalys.to_numpy(), grid)
    evpi = cea.evpi(costs.to_numpy(), qalys.to_numpy(), grid)
    population = settings.decision_population(params)

    rows = []
    at_wtp = cea.ceac(costs.to_numpy(), qalys.to_numpy(), settings.willingness_to_pay)
    for index, name in enumerate(names):
        row: dict[str, object] = {"strategy": name, "draws": len(costs)}
        for column in ("costs", "qalys", "life_years"):
            values = draws_matrix(result.outcomes, names, column)[name]
            row[column] = values.mean()
            row[f"{column}_lower_95"], row[f"{column}_upper_95"] = values.quantile(list(INTERVAL_QUANTILES)).to_numpy()
        for k, value in enumerate(settings.willingness_to_pay):
            row[f"probability_cost_effective_{value:g}"] = at_wtp[k, index]
        rows.append(row)
    ceac_rows = [
        {
            "wtp": value,
            "strategy": name,
            "probability_cost_effective": acceptability[w, s],
            "expected_nmb": expected[w, s],
            "optimal": int(best[w] == s),
        }
        for w, value in enumerate(grid)
        for s, name in enumerate(names)
    ]
    evpi_table = pd.DataFrame({"wtp": grid, "evpi_per_patient": evpi, "population": population, "evpi_population": evpi * population})
    return PSASummary(
        pd.DataFrame(rows),
        cea.icer_table(names, costs.mean().to_numpy(), qalys.mean().to_numpy(), settings.willingness_to_pay, comparator),
        pd.DataFrame(ceac_rows),
        evpi_table,
        comparator,
        grid,
        acceptability,
        best,
        population,
    )


def economics_tables(prepared: PreparedScenario, result: RunResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """economics.csv and icer.csv of a run: per-strategy means with replication CIs, and the ICER table."""
    settings = EconomicSettings.from_scenario(prepared.scenario)
    names = [s.name for s in prepared.strategies]
    table = economics_table(value_patients(result.events, result.patients, prepared.params, settings), names)
    return table, cea.icer_table(names, table["costs"], table["qalys"], settings.willingness_to_pay, settings.comparator)


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, float_format=CSV_FLOAT_FORMAT)


def _resolved_yaml(scenario: Scenario) -> str:
    import yaml

    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


def _manifest(prepared: PreparedScenario, settings: EconomicSettings, command_line: list[str], wall_seconds: float, **extra) -> dict:
    scenario = prepared.scenario
    return {
        "scenario": scenario.name,
        "scenario_file": str(prepared.path),
        "scenario_sha256": file_sha256(prepared.path),
        "seed": scenario.seed,
        "horizon_months": scenario.horizon_months,
        "strategies": [s.name for s in prepared.strategies],
        "currency": settings.currency,
        "price_year": settings.price_year,
        "perspective": settings.perspective,
        "discount_rate_costs": settings.discount_rate_costs,
        "discount_rate_effects": settings.discount_rate_effects,
        "willingness_to_pay": list(settings.willingness_to_pay),
        **extra,
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "wall_time_seconds": round(wall_seconds, 3),
        "command_line": command_line,
    }


def write_psa_folder(
    prepared: PreparedScenario,
    result: PSAResult,
    settings: EconomicSettings,
    destination: Path,
    force: bool,
    command_line: list[str],
    started: float,
    workers: int,
    event_files: list[Path] = (),
) -> Path:
    scenario = prepared.scenario
    summary = summarise_psa(result, settings, prepared.params)
    names = result.strategies
    currency = settings.currency
    with atomic_folder(destination, force) as staging:
        figures = staging / "figures"
        figures.mkdir()
        _csv(result.outcomes, staging / "psa.csv")
        _csv(result.parameters, staging / "psa_parameters.csv")
        _csv(summary.summary, staging / "psa_summary.csv")
        _csv(summary.icer, staging / "icer.csv")
        _csv(summary.ceac, staging / "ceac.csv")
        _csv(summary.evpi, staging / "evpi.csv")
        if event_files:  # --keep-events: every draw's event log, as the checkpoint saved it
            (staging / "events").mkdir()
            for path in event_files:
                shutil.copyfile(path, staging / "events" / path.name)
        costs = draws_matrix(result.outcomes, names, "costs")
        qalys = draws_matrix(result.outcomes, names, "qalys")
        title = f"{scenario.name}: {len(costs)} PSA draws x {result.patients} patients"
        plots.ce_plane_figure(
            qalys.sub(qalys[summary.comparator], axis=0),
            costs.sub(costs[summary.comparator], axis=0),
            summary.comparator,
            settings.willingness_to_pay,
            currency,
            figures / "ce_plane.png",
            f"{title}: cost-effectiveness plane",
        )
        plots.ceac_figure(
            summary.grid, summary.acceptability, names, summary.best, currency, figures / "ceac.png", f"{title}: acceptability curves"
        )
        plots.ceaf_figure(
            summary.grid,
            summary.best,
            summary.acceptability[np.arange(len(summary.grid)), summary.best],
            names,
            currency,
            figures / "ceaf.png",
            f"{title}: acceptability frontier",
        )
        plots.evpi_figure(
            summary.grid,
            summary.evpi["evpi_per_patient"].to_numpy(),
            summary.population,
            currency,
            figures / "evpi.png",
            f"{title}: expected value of perfect information",
        )
        plots.convergence_figure(result.outcomes, names, currency, figures / "convergence.png", f"{title}: convergence of the mean")
        (staging / "scenario.resolved.yaml").write_text(_resolved_yaml(scenario), encoding="utf-8")
        write_json(
            staging / "manifest.json",
            _manifest(
                prepared,
                settings,
                command_line,
                time.perf_counter() - started,
                draws=len(costs),
                patients_per_draw=result.patients,
                workers=workers,
                comparator=summary.comparator,
                events_kept=bool(event_files),
                population=summary.population,
                sampled_parameters=[c for c in result.parameters.columns if c != "draw"],
            ),
        )
    return destination


def write_dsa_folder(
    prepared: PreparedScenario,
    result: DSAResult,
    settings: EconomicSettings,
    destination: Path,
    force: bool,
    command_line: list[str],
    started: float,
) -> Path:
    scenario = prepared.scenario
    names = [s.name for s in prepared.strategies]
    base = economics_table(result.base, names)
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        _csv(result.results, staging / "dsa.csv")
        _csv(result.tornado, staging / "tornado.csv")
        _csv(base, staging / "economics.csv")
        _csv(cea.icer_table(names, base["costs"], base["qalys"], settings.willingness_to_pay, result.comparator), staging / "icer.csv")
        plots.tornado_figure(
            result.tornado,
            result.base_inmb,
            result.target,
            result.comparator,
            result.wtp,
            settings.currency,
            staging / "figures" / "tornado.png",
            f"{scenario.name}: one-way sensitivity of the INMB of {result.target}",
        )
        (staging / "scenario.resolved.yaml").write_text(_resolved_yaml(scenario), encoding="utf-8")
        write_json(
            staging / "manifest.json",
            _manifest(
                prepared,
                settings,
                command_line,
                time.perf_counter() - started,
                replications=scenario.replications,
                patients_per_strategy=scenario.cohort.size,
                comparator=result.comparator,
                target=result.target,
                wtp=result.wtp,
                base_inmb=result.base_inmb,
                parameters_varied=list(result.tornado["parameter"]),
            ),
        )
    return destination


def _load(path: Path | str, **changes) -> tuple[PreparedScenario, Path]:
    from ..api import _apply_cli_overrides

    path = Path(path)
    scenario = _apply_cli_overrides(load_scenario(path), path, **changes)
    return prepare(scenario, path), path


def psa_fingerprint(prepared: PreparedScenario, draws: int, patients: int, keep_events: bool = False) -> dict:
    """What a PSA checkpoint belongs to: `--resume` refuses a checkpoint whose fingerprint differs."""
    entries = {name: entry.model_dump(mode="json") for name, entry in sorted(prepared.params.entries.items())}
    versions = package_versions()
    return {
        "format": CHECKPOINT_FORMAT,
        "scenario_sha256": file_sha256(prepared.path),
        "resolved_scenario_sha256": hashlib.sha256(_resolved_yaml(prepared.scenario).encode("utf-8")).hexdigest(),
        "parameters_sha256": hashlib.sha256(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest(),
        "seed": prepared.scenario.seed,
        "draws": draws,
        "patients": patients,
        "keep_events": keep_events,
        "versions": {name: versions[name] for name in CHECKPOINT_PACKAGES},
    }


def _open_checkpoint(destination: Path, fingerprint: dict, resume: bool, force: bool) -> PSACheckpoint:
    """The checkpoint of ``destination``, checked against this run: resumed with ``resume``, discarded
    with ``force`` alone, otherwise refused so that no interrupted work is lost by accident."""
    checkpoint = PSACheckpoint(checkpoint_folder(destination))
    if checkpoint.exists() and not checkpoint.load():
        checkpoint.discard()  # stopped before its first draw: nothing to lose
    if checkpoint.exists():
        if resume:
            found = checkpoint.fingerprint()
            if found is None:
                raise CheckpointError(
                    f"{checkpoint.folder}: expected a checkpoint of nelm-sim psa to resume; its fingerprint.json is missing or unreadable (rerun without --resume and with --force to discard it)"
                )
            differences = [
                f"{key} ({found.get(key)} in the checkpoint, {fingerprint.get(key)} now)" if isinstance(fingerprint.get(key), int) else key
                for key in sorted(set(found) | set(fingerprint))
                if found.get(key) != fingerprint.get(key)
            ]
            if differences:
                raise CheckpointError(
                    f"{checkpoint.folder}: expected a checkpoint of this same run to resume; it differs in {', '.join(differences)} (rerun without --resume and with --force to discard it)"
                )
        elif force:
            checkpoint.discard()
        else:
            saved = len(checkpoint.load())
            raise OutputExistsError(
                f"{destination}: an interrupted run left a checkpoint with {saved} completed draw(s) in {checkpoint.folder}; add --resume to continue it or --force to discard it"
            )
    return checkpoint


def run_psa_file(
    path: Path | str,
    out: Path | None = None,
    seed: int | None = None,
    draws: int | None = None,
    patients: int | None = None,
    workers: int = 1,
    force: bool = False,
    command_line: list[str] | None = None,
    resume: bool = False,
    execution: Execution | None = None,
    keep_events: bool = False,
    progress=None,
) -> Path:
    """Run a PSA and write its folder. Completed draws are checkpointed beside the destination
    (``checkpoint_folder``) until the folder is written; ``resume`` continues from them. Ctrl-C or
    SIGTERM raises ``RunInterrupted``, with the checkpoint kept."""
    started = time.perf_counter()
    prepared, path = _load(path, seed=seed)
    scenario = prepared.scenario
    destination = Path(out) if out is not None else DEFAULT_OUTPUT_ROOT / f"{scenario.name}-psa"
    check_destination(destination, force)
    settings = EconomicSettings.from_scenario(scenario)
    draws = draws if draws is not None else scenario.economics.psa_draws
    patients = patients if patients is not None else scenario.economics.psa_patients
    fingerprint = psa_fingerprint(prepared, draws, patients, keep_events)
    checkpoint = _open_checkpoint(destination, fingerprint, resume, force)
    with sigterm_as_interrupt():
        checkpoint.start(fingerprint)
        execution = execution or Execution(workers=workers)
        result = run_psa(
            prepared,
            draws,
            patients,
            settings=settings,
            checkpoint=checkpoint,
            execution=execution,
            progress=progress,
            keep_events=keep_events,
        )
        kept = [checkpoint.events_file(d) for d in range(FIRST_DRAW, FIRST_DRAW + draws)] if keep_events else []
        try:
            folder = write_psa_folder(prepared, result, settings, destination, force, command_line or [], started, execution.workers, kept)
        except KeyboardInterrupt:
            raise RunInterrupted(draws, draws) from None  # every draw is saved: a resume only writes the folder
    checkpoint.discard()
    return folder


def run_dsa_file(
    path: Path | str,
    out: Path | None = None,
    seed: int | None = None,
    patients: int | None = None,
    replications: int | None = None,
    wtp: float | None = None,
    strategy: str | None = None,
    force: bool = False,
    command_line: list[str] | None = None,
    execution: Execution | None = None,
    progress=None,
) -> tuple[Path, DSAResult]:
    started = time.perf_counter()
    prepared, path = _load(path, seed=seed, patients=patients, replications=replications)
    scenario = prepared.scenario
    destination = Path(out) if out is not None else DEFAULT_OUTPUT_ROOT / f"{scenario.name}-dsa"
    check_destination(destination, force)
    settings = EconomicSettings.from_scenario(scenario)
    result = run_dsa(prepared, settings, wtp, strategy, execution or Execution(), progress)
    return write_dsa_folder(prepared, result, settings, destination, force, command_line or [], started), result
