"""Is a calibration identified? Local sensitivity of the targets to the calibrated parameters, and profiles.

``targets`` is any function from a parameter dict to the vector of simulated target values (common
random numbers make finite differences meaningful at modest cohort sizes). Sensitivities are taken
on the log scale of each parameter and each target is scaled by its tolerance half-width, so that an
entry of 1 means "a 1% change in the parameter moves the target by 1% of its tolerance" x 100.

- The rank of the sensitivity matrix says how many independent directions the targets pin down; a
  rank below the number of parameters means some combination of parameters is not identified.
- The condition number (largest / smallest singular value) says how weakly the worst direction is
  identified; ``weakest_directions`` names the parameters that make it up.
- A profile re-evaluates the calibration score along one parameter with the others fixed at the fit:
  a flat profile is a parameter the targets do not determine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

LOG_STEP = 0.05  # central differences at +-5% of each parameter (log scale)
RANK_TOLERANCE = 1e-3  # singular values below this share of the largest count as zero


@dataclass(frozen=True)
class Sensitivity:
    parameters: list[str]
    targets: list[str]
    matrix: np.ndarray  # targets x parameters: d(target / tolerance) / d(log parameter)
    singular_values: np.ndarray
    rank: int
    condition_number: float
    weakest_direction: dict[str, float]  # parameter -> weight in the least identified direction


def sensitivity(
    targets: Callable[[Mapping[str, float]], np.ndarray],
    fitted: Mapping[str, float],
    target_names: list[str],
    tolerances: np.ndarray,
    log_step: float = LOG_STEP,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> Sensitivity:
    """``bounds`` keeps each perturbed value inside its parameter's range (a one-sided step at a bound)."""
    names = list(fitted)
    columns = []
    for name in names:
        value = fitted[name]
        low, high = bounds[name] if bounds else (0.0, math.inf)
        upper = min(value * math.exp(log_step), high)
        lower = max(value * math.exp(-log_step), low, 1e-300)
        up = dict(fitted, **{name: upper})
        down = dict(fitted, **{name: lower})
        columns.append((np.asarray(targets(up)) - np.asarray(targets(down))) / (math.log(upper) - math.log(lower)) / tolerances)
    matrix = np.column_stack(columns)
    finite = np.where(np.isfinite(matrix), matrix, 0.0)
    _, singular, right = np.linalg.svd(finite, full_matrices=False)
    rank = int(np.sum(singular > RANK_TOLERANCE * singular[0])) if singular.size and singular[0] > 0 else 0
    condition = float(singular[0] / singular[-1]) if singular.size and singular[-1] > 0 else math.inf
    weakest = right[-1] if right.size else np.zeros(len(names))
    return Sensitivity(names, target_names, matrix, singular, rank, condition, dict(zip(names, weakest.tolist())))


def profile(
    score: Callable[[Mapping[str, float]], float],
    fitted: Mapping[str, float],
    name: str,
    low: float,
    high: float,
    points: int = 7,
) -> list[tuple[float, float]]:
    """(value, score) along ``name`` from ``low`` to ``high`` (log-spaced), the other parameters at the fit."""
    grid = np.exp(np.linspace(math.log(low), math.log(high), points))
    return [(float(value), float(score(dict(fitted, **{name: float(value)})))) for value in grid]


def near_bound(value: float, low: float, high: float, share: float = 0.05) -> bool:
    """Within ``share`` of either bound on the log scale (issue 16: no calibrated value within 5% of a bound)."""
    if low <= 0:
        return value - low <= share * (high - low) or high - value <= share * (high - low)
    span = math.log(high) - math.log(low)
    return math.log(value) - math.log(low) <= share * span or math.log(high) - math.log(value) <= share * span


def report_tables(
    result: Sensitivity, fitted: Mapping[str, float], bounds: Mapping[str, tuple[float, float]]
) -> tuple[list[dict], list[dict]]:
    """Rows of identifiability.csv (the sensitivity matrix, one row per target) and of
    identifiability_parameters.csv (one row per parameter: column norm, weight in the weakest
    direction, near a bound), plus the matrix's rank and condition number on every parameter row."""
    matrix = np.nan_to_num(result.matrix)
    norms = np.sqrt((matrix**2).sum(axis=0))
    matrix_rows = [{"target": target, **dict(zip(result.parameters, row.tolist()))} for target, row in zip(result.targets, matrix)]
    parameter_rows = []
    for name, norm in zip(result.parameters, norms.tolist()):
        low, high = bounds[name]
        parameter_rows.append(
            {
                "parameter": name,
                "value": fitted[name],
                "lower_bound": low,
                "upper_bound": high,
                "near_bound": near_bound(fitted[name], low, high),
                "column_norm": norm,
                "weakest_direction_weight": result.weakest_direction[name],
                "rank": result.rank,
                "parameters": len(result.parameters),
                "condition_number": result.condition_number,
            }
        )
    return matrix_rows, parameter_rows


def calibration_identifiability(seed_folder, patients: int | None, execution, log_step: float = LOG_STEP) -> tuple[list[dict], list[dict]]:
    """The identifiability report of the calibration in force: every calibrated parameter of
    calibration_targets.yaml's blocks against every target of scope "all", at the values the library now holds."""
    from .calibrate import calibrated_value, evaluate, load_seed_scenarios, load_targets, override_calibrated

    data = load_targets()
    seeds = load_seed_scenarios(seed_folder)
    parameters = {}
    for block in data.blocks:
        for parameter in block.parameters:
            key = parameter.name if parameter.field == "value" else f"{parameter.name}.{parameter.field}"
            parameters[key] = parameter
    fitted = {key: calibrated_value(parameter) for key, parameter in parameters.items()}
    bounds = {key: tuple(parameter.bounds) for key, parameter in parameters.items()}

    def simulated(values: Mapping[str, float]) -> np.ndarray:
        overrides: dict = {}
        for key, value in values.items():
            override_calibrated(parameters[key], float(value), overrides)
        return evaluate(targets, seeds, overrides, patients, execution)["simulated"].to_numpy(dtype=float)

    targets = data.for_every_fit()
    tolerances = np.array([(t.bounds()[1] - t.bounds()[0]) / 2 for t in targets])
    result = sensitivity(simulated, fitted, [t.id for t in targets], tolerances, log_step, bounds)
    return report_tables(result, fitted, bounds)
