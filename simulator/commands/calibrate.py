"""`nelm-sim calibrate`: fit the calibrated parameters to the published figures and save them with the
package (``params/calibrated.yaml`` and its fit report), then check every target and write
calibration.csv, and evaluate the external validation set (never fitted) into validation.csv
(docs/calibration.md, "Validation")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import UserInputError
from ..experiments import calibrate as calibration
from ..experiments.execution import SERIAL, Execution
from ..io import atomic_folder, check_destination, read_yaml, write_file_atomic
from ..params.parameter_set import calibrated_file, load_library
from .output import CALIBRATION_FLOAT_FORMAT, OUTPUT_ROOT, read_csv, write_csv

# The command line's defaults of the fit (docs/calibration.md): enough patients per arm that the
# targets' noise stays below their tolerances, and a search that converges in every block.
DEFAULT_FIT_PATIENTS = 2000
DEFAULT_MAX_EVALUATIONS = 120
DEFAULT_LATIN_HYPERCUBE = 40


def fit(
    seed_folder: Path,
    patients: int,
    max_evaluations: int,
    latin_hypercube: int,
    blocks: list[str] | None,
    execution: Execution,
    progress,
) -> Path:
    """Refit the calibrated parameters (every block, or ``blocks``) and save them; returns the file."""
    overrides, report = calibration.calibrate(
        seed_folder,
        patients,
        max_evaluations,
        progress=progress,
        latin_hypercube=latin_hypercube,
        only_blocks=blocks,
        execution=execution,
    )
    return save_calibration(overrides, report, calibration.load_targets().blocks)


def save_calibration(overrides: dict[str, Any], report: pd.DataFrame, blocks: list[calibration.Block]) -> Path:
    targets_of = {}
    for block in blocks:
        for parameter in block.parameters:
            targets_of.setdefault(parameter.name, set()).update(block.targets)
    path = calibrated_file()
    # Blocks not refitted this time keep what an earlier calibration saved.
    previous = (read_yaml(path, what="calibration") or {}).get("parameters", {}) if path.exists() else {}
    saved = {name: entry for name, entry in previous.items() if name not in overrides}
    for name, value in overrides.items():
        entry = (
            {"value": round(float(value), 6)}
            if not isinstance(value, dict)
            else {"params": {k: round(float(v), 6) for k, v in value["params"].items()}}
        )
        entry["targets"] = sorted(targets_of.get(name, ()))
        saved[name] = entry
    header = (
        "# Written by `nelm-sim calibrate`: values that replace the library's starting values.\n"
        "# Fit report: calibration_report.csv beside this file. Method: docs/calibration.md.\n"
    )
    body = yaml.safe_dump(
        {"method": "Nelder-Mead on log parameters, common random numbers, block by block", "parameters": saved}, sort_keys=True
    )
    write_file_atomic(path, header + body)  # the old file or the whole new one, never half of it
    report_path = path.with_name("calibration_report.csv")
    if report_path.exists() and not report.empty:
        earlier = read_csv(report_path)
        report = pd.concat([earlier[~earlier["block"].isin(report["block"].unique())], report], ignore_index=True)
    write_csv(report, report_path, CALIBRATION_FLOAT_FORMAT)
    load_library.cache_clear()
    return path


def check(
    seed_folder: Path | None,
    out: Path | None,
    patients: int | None,
    execution: Execution,
    progress=None,
    force: bool = False,
    validation_folder: Path | None = None,
) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """Simulate the seed and validation scenarios, compare every target with its published value and write
    calibration.csv and validation.csv into ``out`` (default outputs/calibration/), a folder written
    atomically and replaced only with ``force``. Returns (calibration.csv, its table, the validation table)."""
    _, written, table, validation = calibrate_file(
        seed_folder, out, True, patients, force=force, execution=execution, progress=progress, validation_folder=validation_folder
    )
    return written, table, validation


def calibration_folder(out: Path | None) -> Path:
    return Path(out) if out is not None else OUTPUT_ROOT / "calibration"


def write_calibration_folder(
    table: pd.DataFrame,
    validation: pd.DataFrame,
    destination: Path,
    force: bool,
    identifiability: tuple[list[dict], list[dict]] | None = None,
) -> Path:
    with atomic_folder(destination, force) as staging:
        write_csv(table, staging / "calibration.csv", CALIBRATION_FLOAT_FORMAT)
        write_csv(validation, staging / "validation.csv", CALIBRATION_FLOAT_FORMAT)
        if identifiability is not None:
            matrix_rows, parameter_rows = identifiability
            write_csv(pd.DataFrame(matrix_rows), staging / "identifiability.csv", CALIBRATION_FLOAT_FORMAT)
            write_csv(pd.DataFrame(parameter_rows), staging / "identifiability_parameters.csv", CALIBRATION_FLOAT_FORMAT)
    return destination / "calibration.csv"


def calibrate_file(
    seed_folder: Path | None = None,
    out: Path | None = None,
    check_only: bool = False,
    patients: int | None = None,
    fit_patients: int = DEFAULT_FIT_PATIENTS,
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
    latin_hypercube: int = DEFAULT_LATIN_HYPERCUBE,
    blocks: list[str] | None = None,
    force: bool = False,
    execution: Execution = SERIAL,
    report=print,
    progress=None,
    validation_folder: Path | None = None,
    identifiability: bool = False,
    burden_model: bool = False,
) -> tuple[Path | None, Path, pd.DataFrame, pd.DataFrame]:
    """`nelm-sim calibrate`: every option, the validation set and the destination checked before any
    simulation, then (without ``check_only``) the fit, saved with the package, then the check of the
    calibration targets and, apart, of the validation targets (never fitted), written to ``out``, with
    the identifiability report when asked. Returns (the saved calibration file or None, calibration.csv,
    its table, the validation table). ``seed_folder`` None: the seed scenarios shipped with the package.
    ``burden_model``: check (never fit) every scenario under the burden disease model, which its own
    script fits (scripts/burden_fit.py, docs/calibration.md)."""
    if burden_model and not check_only:
        raise UserInputError(
            "--burden-model: expected with --check (the burden model is fitted by scripts/burden_fit.py, not by calibrate)"
        )
    if burden_model and identifiability:
        raise UserInputError(
            "--burden-model: expected without --identifiability (its report covers the hazard-ratio model's calibrated parameters)"
        )
    overrides = {"disease.burden_model": 1} if burden_model else {}
    seed_folder = seed_folder if seed_folder is not None else calibration.default_seed_folder()
    if check_only:
        seeds = calibration.check_options(seed_folder, patients)
    else:
        seeds = calibration.check_options(seed_folder, patients, fit_patients, max_evaluations, latin_hypercube, blocks)
    validation_folder = validation_folder if validation_folder is not None else calibration.default_validation_folder(seed_folder)
    calibration.check_validation_options(validation_folder, seeds, patients)
    destination = calibration_folder(out)
    check_destination(destination, force)
    saved = None if check_only else fit(seed_folder, fit_patients, max_evaluations, latin_hypercube, blocks, execution, report)
    table = calibration.check(seed_folder, patients, execution, progress, overrides)
    # Evaluated after, and apart from, the calibration targets: their results cannot change calibration.csv.
    validation = calibration.check_validation(validation_folder, seeds, patients, execution, progress, overrides)
    sensitivity = None
    if identifiability:
        from ..experiments.identifiability import calibration_identifiability

        report("identifiability: perturbing each calibrated parameter by +-5% (log scale)")
        sensitivity = calibration_identifiability(seed_folder, patients, execution)
    return saved, write_calibration_folder(table, validation, destination, force, sensitivity), table, validation
