"""`nelm-sim psa`: validate, run a probabilistic sensitivity analysis (resumable from its checkpoint),
summarise it and write outputs/<name>-psa/ atomically (README "Health economics")."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import apply_overrides, load_scenario
from ..economics.sampling import posterior_folder
from ..economics.settings import EconomicSettings
from ..errors import ScenarioWarning
from ..experiments.execution import Execution
from ..experiments.psa import (
    FIRST_DRAW,
    RESOLVED_Z,
    CheckpointError,
    PSACheckpoint,
    PSAResult,
    RunInterrupted,
    check_first_draw,
    draws_matrix,
    run_psa,
    summarise_psa,
)
from ..experiments.runner import PreparedScenario, prepare
from ..io import OutputExistsError, atomic_folder, check_destination, checkpoint_folder, file_sha256, sigterm_as_interrupt, write_json
from ..reporting import economics_plots as plots
from ..reporting import numbers
from ..reporting.economics_report import EconomicsView, economics_report, psa_figure_captions, with_draw_means
from ..reporting.exports import psa_exports
from .compare import prepared_context, write_results_workbook
from .output import economics_manifest, output_folder, package_versions, resolved_yaml, write_csv

# A PSA checkpoint may only be resumed by the same run. Besides the scenario, its settings and the
# resolved parameters, the packages whose code produces the numbers: another version could draw or
# simulate differently, and the merged outputs would then match no uninterrupted run.
CHECKPOINT_PACKAGES = ("nelm-sim", "numpy", "scipy", "pandas")
CHECKPOINT_FORMAT = 1  # raise when the checkpoint's layout changes, so an old one is refused, not misread


def unresolved_warnings(decision: pd.DataFrame, currency: str) -> list[str]:
    """One sentence per willingness to pay at which the draws leave the best strategy undecided."""
    sentences = []
    for row in decision.itertuples():
        if row.resolved:
            continue
        needed = (
            "more draws than can be estimated" if not np.isfinite(row.draws_needed) else f"about {numbers.count(row.draws_needed)} draws"
        )
        sentences.append(
            f"at {currency} {numbers.money(row.wtp)} per QALY the PSA does not resolve {row.best} from {row.runner_up}: their mean net"
            f" benefit differs by {numbers.money(row.nmb_difference)} +/- {numbers.money(RESOLVED_Z * row.nmb_difference_se)}"
            f" (1.96 Monte Carlo SE) with {numbers.count(row.draws)} draws of {numbers.count(row.patients_per_draw)} patients;"
            f" {needed} (or more patients per draw) would resolve it"
        )
    return sentences


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
    xlsx: bool = False,
) -> Path:
    scenario = prepared.scenario
    summary = summarise_psa(result, settings, prepared.params)
    for sentence in unresolved_warnings(summary.decision, settings.currency):
        warnings.warn(sentence, ScenarioWarning, stacklevel=2)
    names = result.strategies
    currency = settings.currency
    with atomic_folder(destination, force) as staging:
        figures = staging / "figures"
        figures.mkdir()
        write_csv(result.outcomes, staging / "psa.csv", currency=currency)
        write_csv(result.parameters, staging / "psa_parameters.csv")
        write_csv(summary.summary, staging / "psa_summary.csv", currency=currency)
        write_csv(summary.icer, staging / "icer.csv", currency=currency)
        write_csv(summary.ceac, staging / "ceac.csv", currency=currency)
        write_csv(summary.evpi, staging / "evpi.csv", currency=currency)
        write_csv(summary.decision, staging / "psa_decision.csv", currency=currency)
        write_csv(summary.evppi, staging / "evppi.csv", currency=currency)
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
        if len(summary.evppi):
            plots.evppi_figure(summary.evppi, currency, figures / "evppi.png", f"{title}: partial EVPI")
        plots.convergence_figure(result.outcomes, names, currency, figures / "convergence.png", f"{title}: convergence of the mean")
        (staging / "scenario.resolved.yaml").write_text(resolved_yaml(scenario), encoding="utf-8")
        for name, table in psa_exports(result, summary.comparator).items():
            write_csv(table, staging / name)
        basis = (
            f"Probabilistic results: means of {len(costs)} PSA draws of the parameters, each simulating {result.patients} patients per strategy, "
            "with the 2.5-97.5% interval of the draws."
        )
        view = EconomicsView.of(
            prepared,
            with_draw_means(summary.summary, result.outcomes),
            summary.icer,
            basis,
            psa=summary,
            figures=[(section, figures / f"{name}.png", caption) for section, name, caption in psa_figure_captions(title)],
        )
        population = f"{result.patients} per strategy in each of {len(costs)} draws"
        report = economics_report(prepared, "psa", view, prepared_context(prepared, sensitivity=True), staging, population)
        (staging / "report.html").write_text(report, encoding="utf-8")
        if xlsx:
            write_results_workbook(staging, prepared)
        write_json(
            staging / "manifest.json",
            economics_manifest(
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


def psa_fingerprint(prepared: PreparedScenario, draws: int, patients: int, keep_events: bool = False) -> dict:
    """What a PSA checkpoint belongs to: `--resume` refuses a checkpoint whose fingerprint differs."""
    entries = {name: entry.model_dump(mode="json") for name, entry in sorted(prepared.params.entries.items())}
    versions = package_versions()
    return {
        "format": CHECKPOINT_FORMAT,
        "scenario_sha256": file_sha256(prepared.path),
        "resolved_scenario_sha256": hashlib.sha256(resolved_yaml(prepared.scenario).encode("utf-8")).hexdigest(),
        "parameters_sha256": hashlib.sha256(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest(),
        # The calibrated parameters' draws come from the library's posterior sample: a new sample is a new run.
        "posterior_sha256": file_sha256(posterior_folder() / "posterior.csv") if (posterior_folder() / "posterior.csv").exists() else None,
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
    xlsx: bool = False,
) -> Path:
    """Run a PSA and write its folder. Completed draws are checkpointed beside the destination
    (``checkpoint_folder``) until the folder is written; ``resume`` continues from them. Ctrl-C or
    SIGTERM raises ``RunInterrupted``, with the checkpoint kept."""
    started = time.perf_counter()
    path = Path(path)
    prepared = prepare(apply_overrides(load_scenario(path), path, seed=seed), path)
    scenario = prepared.scenario
    # --draws and --patients obey the bounds of economics.psa_draws and psa_patients, and the PSA's
    # total-work limits, checked by the same models; the run keeps the file's scenario (its resolved
    # YAML and checkpoint fingerprint do not depend on the options).
    design = apply_overrides(scenario, path, psa_draws=draws, psa_patients=patients).economics
    draws, patients = design.psa_draws, design.psa_patients
    check_first_draw(prepared)
    execution = execution or Execution(workers=workers)
    destination = output_folder(out, scenario, path, "-psa")
    check_destination(destination, force)
    settings = EconomicSettings.from_scenario(scenario)
    fingerprint = psa_fingerprint(prepared, draws, patients, keep_events)
    checkpoint = _open_checkpoint(destination, fingerprint, resume, force)
    with sigterm_as_interrupt():
        checkpoint.start(fingerprint)
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
            folder = write_psa_folder(
                prepared, result, settings, destination, force, command_line or [], started, execution.workers, kept, xlsx
            )
        except KeyboardInterrupt:
            raise RunInterrupted(draws, draws) from None  # every draw is saved: a resume only writes the folder
    checkpoint.discard()
    return folder
