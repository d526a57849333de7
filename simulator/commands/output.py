"""What every command's output folder shares: where it goes, how its CSV numbers are written, the
resolved scenario and the manifest, and the capacity tables of a run with hospital resources.

The folder itself is written atomically by ``io.atomic_folder``.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml

from ..capacity.run import growing_queues
from ..config import Scenario
from ..errors import ScenarioError, ScenarioWarning
from ..io import file_sha256
from ..reporting.capacity_report import capacity_figures, planner_section

if TYPE_CHECKING:  # pragma: no cover
    from ..economics.settings import EconomicSettings
    from ..experiments.runner import PreparedScenario

OUTPUT_ROOT = Path("outputs")  # default parent of every command's output folder
CSV_FLOAT_FORMAT = "%.10g"  # every CSV of every output folder: enough digits to compare runs byte for byte
# calibration.csv and the fit report set simulated figures beside published ones, which have few digits.
CALIBRATION_FLOAT_FORMAT = "%.6g"
DEPENDENCIES = ("simpy", "numpy", "pandas", "scipy", "matplotlib", "pyyaml", "pydantic", "lifelines", "pyarrow")


def csv_text(frame: pd.DataFrame, float_format: str = CSV_FLOAT_FORMAT) -> str:
    """A table as CSV text. A value that is not defined or not reached (a median survival not reached
    before the horizon, an interval from a single replication) is an empty cell, never inf or NaN."""
    return frame.replace([np.inf, -np.inf], np.nan).to_csv(index=False, float_format=float_format)


def write_csv(frame: pd.DataFrame, path: Path, float_format: str = CSV_FLOAT_FORMAT) -> None:
    path.write_text(csv_text(frame, float_format), encoding="utf-8")


def output_folder(out: Path | None, scenario: Scenario, path: Path, suffix: str = "") -> Path:
    """``out``, or outputs/<scenario name><suffix>; a name that would leave outputs/ is refused."""
    if out is not None:
        return Path(out)
    folder = OUTPUT_ROOT / f"{scenario.name}{suffix}"
    if Path(os.path.normpath(folder)).parent != Path(os.path.normpath(OUTPUT_ROOT)):
        raise ScenarioError(path, "name", f"a name that keeps the output folder directly inside {OUTPUT_ROOT}/", scenario.name)
    return folder


def resolved_yaml(scenario: Scenario) -> str:
    """scenario.resolved.yaml: the scenario as it ran, after command-line overrides."""
    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("nelm-sim", *DEPENDENCIES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def manifest(scenario: Scenario, path: Path, wall_seconds: float, command_line: list[str], **extra) -> dict:
    """manifest.json: what every folder records of its provenance, and the command's own ``extra``."""
    return {
        "scenario": scenario.name,
        "scenario_file": str(path),
        "scenario_sha256": file_sha256(path),
        "seed": scenario.seed,
        **extra,
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "wall_time_seconds": round(wall_seconds, 3),
        "command_line": command_line,
    }


def economics_manifest(
    prepared: PreparedScenario, settings: EconomicSettings, command_line: list[str], wall_seconds: float, **extra
) -> dict:
    """The manifest of `psa` and `dsa`: also the economic settings the numbers depend on."""
    return manifest(
        prepared.scenario,
        prepared.path,
        wall_seconds,
        command_line,
        horizon_months=prepared.scenario.horizon_months,
        strategies=[s.name for s in prepared.strategies],
        currency=settings.currency,
        price_year=settings.price_year,
        perspective=settings.perspective,
        discount_rate_costs=settings.discount_rate_costs,
        discount_rate_effects=settings.discount_rate_effects,
        willingness_to_pay=list(settings.willingness_to_pay),
        **extra,
    )


def write_capacity_outputs(capacity, strategies: list[str], patients: pd.DataFrame | None, folder: Path) -> tuple[list, str]:
    """resources.csv, waits.csv and queue_lengths.csv and their figures; with ``patients`` also the
    planner section of report.html. Returns (figures as (path, caption), the section's HTML)."""
    write_csv(capacity.frame("resources"), folder / "resources.csv")
    write_csv(capacity.frame("waits"), folder / "waits.csv")
    write_csv(capacity.frame("queues"), folder / "queue_lengths.csv")
    for sentence in growing_queues(capacity.frame("queues")):
        warnings.warn(sentence, ScenarioWarning, stacklevel=2)
    figures = capacity_figures(capacity, strategies, folder / "figures")
    section = planner_section(capacity, patients, strategies, figures) if patients is not None else ""
    return figures, section
