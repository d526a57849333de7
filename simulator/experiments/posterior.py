"""Bayesian calibration of the calibrated parameters (`nelm-sim calibrate --posterior`): the targets
of calibration_targets.yaml with their published uncertainty, the seed scenarios as the simulator,
and history matching with IMIS (experiments/history_matching.py) as the method.

Parameters are searched on the logarithm of their value, between the blocks' bounds, under a
uniform prior there (the fit's search space; an assumption: no source gives a prior). Every block's
parameters are calibrated jointly against every target, so that a parameter of one block that moves
another block's targets (the death rate and the trials' PFS, for instance) is accounted for.

Each target is compared on a scale where its error is close to normal: medians and hazard ratios
on the log scale, proportions as they are. Its variance is the sum of
- the published uncertainty: from its 95% CI or range (width / 3.92 on that scale), else from the
  study's sample size ``n`` (binomial SE of a proportion; for a median, SE(log median) = sqrt(2/n),
  the exponential model's 1/sqrt(events) with half the arm having had the event by the median),
  or an ``se`` given with the target;
- the model's Monte Carlo variance at the patients per arm of an evaluation (the same formulas with
  n = patients; for a hazard ratio, SE(log HR) = sqrt(1/d1 + 1/d2) with d = patients / 2 per arm);
- the emulator's variance at the point (history_matching.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ScenarioError
from . import history_matching
from .calibrate import (
    CalibratedParameter,
    SeedScenario,
    Target,
    calibrated_value,
    load_targets,
    measure,
    override_calibrated,
    simulate,
    targets_path,
)
from .execution import SERIAL, Execution

Z_95 = 1.959963984540054  # two-sided 95% normal quantile, for SEs from published 95% intervals
LOG_SCALE_METRICS = ("median", "hazard_ratio")


def on_scale(target: Target, value: float | np.ndarray) -> Any:
    return np.log(value) if target.metric in LOG_SCALE_METRICS else value


def from_scale(target: Target, value: np.ndarray) -> np.ndarray:
    return np.exp(value) if target.metric in LOG_SCALE_METRICS else value


def sampling_se(target: Target, value: float, n: float) -> float:
    """SE of the target's estimate (on its comparison scale) from n patients per arm."""
    if target.metric == "median":
        return math.sqrt(2.0 / n)
    if target.metric == "hazard_ratio":
        return math.sqrt(2.0 / (n / 2))
    return math.sqrt(value * (1 - value) / n)  # a proportion: landmark survival, recurrence, rate


def published_se(target: Target) -> float:
    """The published uncertainty of the target, on its comparison scale; a one-line error if none is stated."""
    if target.se is not None:
        return target.se
    interval = target.ci or target.range
    if interval is not None:
        low, high = on_scale(target, interval[0]), on_scale(target, interval[1])
        return float((high - low) / (2 * Z_95))
    if target.n is not None:
        return sampling_se(target, target.published, target.n)
    raise ScenarioError(targets_path(), f"targets.{target.id}", "a ci, range, n or se (the posterior needs the target's uncertainty)")


@dataclass(frozen=True)
class Problem:
    targets: list[Target]
    parameters: list[CalibratedParameter]
    lower: np.ndarray  # log bounds
    upper: np.ndarray
    observed: np.ndarray  # on the comparison scale
    observation_variance: np.ndarray
    monte_carlo_variance: np.ndarray
    patients: int

    @property
    def fixed_variance(self) -> np.ndarray:
        return self.observation_variance + self.monte_carlo_variance

    def names(self) -> list[str]:
        return [p.name if p.field == "value" else f"{p.name}.{p.field}" for p in self.parameters]


def problem(patients: int) -> Problem:
    data = load_targets()
    parameters = [p for block in data.blocks for p in block.parameters]
    targets = data.for_every_fit()
    return Problem(
        targets=targets,
        parameters=parameters,
        lower=np.log([p.bounds[0] for p in parameters]),
        upper=np.log([p.bounds[1] for p in parameters]),
        observed=np.array([on_scale(t, t.published) for t in targets]),
        observation_variance=np.array([published_se(t) ** 2 for t in targets]),
        monte_carlo_variance=np.array([sampling_se(t, t.published, patients) ** 2 for t in targets]),
        patients=patients,
    )


def overrides_at(parameters: list[CalibratedParameter], log_values: np.ndarray) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for parameter, value in zip(parameters, np.exp(log_values)):
        override_calibrated(parameter, float(value), overrides)
    return overrides


def _scenario_outputs(task: tuple) -> list[float]:
    """One design point's run of one seed scenario, measured in the worker (only the figures travel)."""
    seed, overrides, patients, targets = task
    result = simulate(seed, overrides, patients)
    return [float(on_scale(target, measure(target, result))) for target in targets]


def simulator(
    prob: Problem, seeds: dict[str, SeedScenario], execution: Execution = SERIAL, progress: Callable[[str], None] = lambda text: None
) -> Callable[[np.ndarray, int], np.ndarray]:
    """The seed scenarios as a function of the log parameters: one task per design point and scenario,
    each with the scenario's own seed (common random numbers across points)."""
    names = list(dict.fromkeys(t.scenario for t in prob.targets))
    by_scenario = {name: [t for t in prob.targets if t.scenario == name] for name in names}
    column = {t.id: i for i, t in enumerate(prob.targets)}

    def run(points: np.ndarray, wave: int) -> np.ndarray:
        tasks, where = [], []
        for row, point in enumerate(points):
            overrides = overrides_at(prob.parameters, point)
            for name in names:
                tasks.append((seeds[name], overrides, prob.patients, by_scenario[name]))
                where.append((row, name))
        progress(f"wave {wave + 1}: {len(points)} design points x {len(names)} seed scenarios at {prob.patients} patients per arm")
        outputs = np.full((len(points), len(prob.targets)), np.nan)
        for (row, name), values in zip(where, execution.map(_scenario_outputs, tasks)):
            for target, value in zip(by_scenario[name], values):
                outputs[row, column[target.id]] = value
        return _fill_missing(outputs, prob)

    return run


def _fill_missing(outputs: np.ndarray, prob: Problem) -> np.ndarray:
    """A median not reached within the horizon (Kaplan-Meier gives inf) or a rate with no denominator is
    not a number the emulator can fit; it is set to the column's largest finite value plus three
    observation SEs, i.e. far from the target, which is what such a point is."""
    outputs = outputs.copy()
    for column in range(outputs.shape[1]):
        bad = ~np.isfinite(outputs[:, column])
        if bad.any():
            finite = outputs[~bad, column]
            ceiling = finite.max() if finite.size else prob.observed[column]
            outputs[bad, column] = ceiling + 3 * math.sqrt(prob.observation_variance[column])
    return outputs


def calibrated_point(prob: Problem) -> np.ndarray:
    return np.log([calibrated_value(p) for p in prob.parameters])


def run(
    prob: Problem,
    seeds: dict[str, SeedScenario],
    settings: history_matching.Settings,
    execution: Execution = SERIAL,
    progress: Callable[[str], None] = lambda text: None,
) -> history_matching.Result:
    return history_matching.calibrate(
        simulator(prob, seeds, execution, progress), prob.lower, prob.upper, prob.observed, prob.fixed_variance, settings, progress
    )
