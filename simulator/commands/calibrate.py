"""`nelm-sim calibrate`: fit the calibrated parameters to the published figures and save them with the
package (``params/calibrated.yaml`` and its fit report), then check every target and write
calibration.csv (docs/calibration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..experiments import calibrate as calibration
from ..experiments.execution import Execution
from ..io import read_yaml
from ..params.parameter_set import calibrated_file, load_library
from .output import CALIBRATION_FLOAT_FORMAT, OUTPUT_ROOT, write_csv


def check_options(
    seed_folder: Path,
    patients: int | None,
    fit_patients: int | None = None,
    max_evaluations: int | None = None,
    latin_hypercube: int | None = None,
    blocks: list[str] | None = None,
) -> None:
    """Everything `fit` and `check` would refuse, refused before any simulation."""
    calibration.check_options(seed_folder, patients, fit_patients, max_evaluations, latin_hypercube, blocks)


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
    path.write_text(header + body, encoding="utf-8")
    report_path = path.with_name("calibration_report.csv")
    if report_path.exists() and not report.empty:
        earlier = pd.read_csv(report_path)
        report = pd.concat([earlier[~earlier["block"].isin(report["block"].unique())], report], ignore_index=True)
    write_csv(report, report_path, CALIBRATION_FLOAT_FORMAT)
    load_library.cache_clear()
    return path


def check(seed_folder: Path, out: Path | None, patients: int | None, execution: Execution, progress=None) -> tuple[Path, pd.DataFrame]:
    """Simulate the seed scenarios, compare every target with its published value and write calibration.csv
    into ``out`` (default outputs/calibration/). Returns (the CSV file, its table)."""
    table = calibration.check(seed_folder, patients, execution, progress)
    folder = Path(out) if out is not None else OUTPUT_ROOT / "calibration"
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(table, folder / "calibration.csv", CALIBRATION_FLOAT_FORMAT)
    return folder / "calibration.csv", table
