"""What every command's output folder shares: where it goes, how its CSV numbers are written, the
resolved scenario and the manifest, and the capacity tables of a run with hospital resources.

The folder itself is written atomically by ``io.atomic_folder``.
"""

from __future__ import annotations

import math
import os
import platform
import re
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml

from ..capacity.run import growing_queues
from ..config import LIBRARY_CURRENCY, Scenario
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


# ---------------------------------------------------------------------------------------------
# Units in CSV column names (README "What `make run` writes"). The code keeps its own column names; a
# table gets unit-suffixed headers only when it is written (``csv_header``), and ``read_csv`` gives the
# code's names back. A name that already says its unit keeps it; otherwise the first rule whose pattern
# matches appends its unit; a name neither states nor gets a unit only if it is declared unitless below.

# Words that state a unit when they are a whole word of a name (``wait_p90_days``, ``resected_share``,
# ``procedures_per_year``, ``incremental_qalys``); the scenario's currency (``gbp``) is one too.
UNIT_WORDS = frozenset({"months", "month", "days", "hours", "years", "year", "week", "qalys", "share", "probability"})
MONEY = "{currency}"  # in a rule's unit: the scenario's currency, lower case (gbp, eur, ...)
# (pattern, unit suffix), first match wins; a pattern matches the whole name. New columns that follow the
# naming (``cost_<category>``, ``<...>_nmb_<...>``) get their unit without editing a list.
UNIT_RULES: tuple[tuple[str, str], ...] = (
    (r"(wtp|icer)(_.*)?", f"{MONEY}_per_qaly"),  # willingness to pay, and the incremental cost per QALY
    (r"(.*_)?(costs?|nmb|inmb|inb|evpi|evppi)(_.*)?", MONEY),  # costs of any category, net (monetary) benefit, EVPI, EVPPI
    (r"range", MONEY),  # tornado.csv: the width of the incremental net monetary benefit's bar
    (r"qaly_shortfall_absolute", "qalys"),
    (r"qaly_shortfall_proportional", "share"),
    (r"median_(os|pfs\d)_(lower|upper)_95", "months"),  # the interval of median_os_months, median_pfs1_months
    (r"time_to_first_control", "months"),
    (r"age", "years"),
    (r"os_\d+y(_.*)?", "probability"),  # a landmark overall survival (os_5y) and its interval
    (r"survival", "probability"),  # a Kaplan-Meier estimate
    (r"utilisation", "share"),  # of the resource's open time, at most 1
)
# Numeric columns with no unit, by name: counts (patients, events, lines, procedures, queue lengths),
# identifiers, 0/1 flags, and the values of long tables whose unit is given row by row (their ``unit`` or
# ``metric`` column, or the parameter's own unit in the library: ``nelm-sim params``).
UNITLESS = frozenset(
    {
        # identifiers and counts
        "replication", "patient_id", "draw", "draws", "n", "deaths", "functional_n", "treatment_deaths",
        "lines", "mean_lines", "progressions", "adverse_events", "waits", "left_queue", "capacity", "sessions",
        "queue", "mean_queue", "max_queue", "in_use", "max_in_use", "count", "alive", "controlled",
        "functional_patients", "at_risk", "patients", "replications", "population", "strategies", "psa_redraws",
        "progressions_while_waiting", "priority", "evaluations", "rank", "parameters", "subgroup_value",
        "column",  # a strategy's column in the R matrices (psa_strategies.csv)
        "patients_per_draw", "draws_needed",  # psa_decision.csv
        "posterior_row",  # psa_parameters.csv: the row of params/posterior.csv a draw took
        # 0/1 flags
        "death", "resected", "recurred", "rfs_event", "functional", "extrahepatic", "synchronous", "resectable",
        "ssr_positive", "progressed_while_waiting", "treatment_changed_by_waiting", "died_while_waiting",
        "in_window", "meets_target", "optimal", "pass", "near_bound", "resolved",
        "comparator",  # psa_strategies.csv: 1 for the comparator's column (elsewhere the comparator's name)
        # values whose unit is the row's (metric, unit column) or the parameter's own
        "value", "estimate", "lower", "upper", "lower_95", "upper_95", "base_estimate", "variant_estimate",
        "published", "simulated", "low", "high", "base_value", "start", "calibrated", "lower_bound", "upper_bound",
        # labels that a table may leave empty (read back as numbers then)
        "reference", "dominated_by",
        # dimensionless statistics
        "relative_half_width", "objective_start", "objective_end", "column_norm", "weakest_direction_weight",
        "condition_number", "severity_weight",
    }
)  # fmt: skip
# Files in the layout R's BCEA and dampack read (reporting/exports.py): a draw column, then one column
# per strategy, so the unit is the file's, not a column's (costs in the scenario's currency, effects in
# QALYs; README "Health economics").
STRATEGY_MATRIX_FILES = frozenset({"psa_costs.csv", "psa_effects.csv"})
# Unitless by pattern: pfs<k>_event flags, n_<procedure> counts, and model parameters named in full
# (psa_parameters.csv, identifiability.csv), whose units are the library's.
UNITLESS_PATTERNS = (r"pfs\d+_event", r"n_[a-z0-9_]+", r"[a-z0-9_]+\.[a-z0-9_.]+")


def _words(name: str) -> list[str]:
    return name.split("_")


def states_unit(name: str, currency: str = LIBRARY_CURRENCY) -> bool:
    return any(word in UNIT_WORDS or word == currency.lower() for word in _words(name))


def is_unitless(name: str) -> bool:
    return name in UNITLESS or any(re.fullmatch(pattern, name) for pattern in UNITLESS_PATTERNS)


def csv_header(column: str, currency: str = LIBRARY_CURRENCY) -> str:
    """The column's name as written: its unit appended when the name does not say it already; money in
    ``currency`` (the scenario's, ``economics.currency``)."""
    if states_unit(column, currency) or is_unitless(column):
        return column
    for pattern, unit in UNIT_RULES:
        if re.fullmatch(pattern, column):
            return f"{column}_{unit.replace(MONEY, currency.lower())}"
    return column


def internal_column(header: str) -> str:
    """The code's name of a written header (the inverse of ``csv_header``), whatever its currency."""
    money = re.fullmatch(r"(.+)_([a-z]{3})(_per_qaly)?", header)
    currency = money.group(2).upper() if money else LIBRARY_CURRENCY
    for _, unit in UNIT_RULES:
        stem = header.removesuffix(f"_{unit.replace(MONEY, currency.lower())}")
        if stem != header and csv_header(stem, currency) == header:
            return stem
    return header


def csv_headers(columns, currency: str = LIBRARY_CURRENCY) -> list[str]:
    names = [str(column) for column in columns]
    headers = [csv_header(name, currency) for name in names]
    for column, header in zip(names, headers):
        # A header must lead back to its own column, or a table read back would swap or lose columns.
        if internal_column(header) != column:
            raise AssertionError(f"CSV header {header!r} of column {column!r} reads back as {internal_column(header)!r}")
    if len(set(headers)) != len(headers):
        raise AssertionError(f"CSV headers repeat: {headers}")
    return headers


def csv_text(frame: pd.DataFrame, float_format: str = CSV_FLOAT_FORMAT, currency: str = LIBRARY_CURRENCY) -> str:
    """A table as CSV text, with unit-suffixed headers (money in ``currency``). A value that is not defined
    or not reached (a median survival not reached before the horizon, an interval from a single
    replication) is an empty cell, never inf or NaN."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            frame[column] = values.replace([np.inf, -np.inf], np.nan)
        elif values.dtype == object:  # text beside numbers: only the infinite numbers go (no dtype change)
            frame[column] = values.map(lambda v: np.nan if isinstance(v, float) and math.isinf(v) else v)
    return frame.to_csv(index=False, float_format=float_format, header=csv_headers(list(frame.columns), currency))


def write_csv(frame: pd.DataFrame, path: Path, float_format: str = CSV_FLOAT_FORMAT, currency: str = LIBRARY_CURRENCY) -> None:
    path.write_text(csv_text(frame, float_format, currency), encoding="utf-8")


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV that ``write_csv`` wrote, with the code's column names."""
    frame = pd.read_csv(path)
    return frame.rename(columns={header: internal_column(header) for header in frame.columns})


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
