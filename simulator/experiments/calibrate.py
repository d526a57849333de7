"""Calibration: virtual trials and cohorts of the published studies, compared with their figures.

`check` simulates every seed scenario once with the current parameter set and compares each target
with its published value. `calibrate` fits the parameters of each block (targets file) by
Nelder-Mead on the log of the parameters, with common random numbers (the same seeds at every
evaluation); `nelm-sim calibrate` (commands/calibrate.py) saves the values to
``simulator/params/calibrated.yaml`` with a fit report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from pydantic import BaseModel, ConfigDict, model_validator
from scipy import optimize, stats

from ..config import MAX_SIMULATED_LIFETIMES, Scenario, apply_overrides, load_scenario
from ..core.events import adverse_event_detail, parse_procedure_detail
from ..engine.cohort import ATTRIBUTE_COLUMNS
from ..errors import ScenarioError, UserInputError
from ..io import read_yaml
from ..outcomes.survival import fit_km
from ..params.parameter_set import load_library
from .execution import SERIAL, Execution, progress_counter
from .runner import RunResult, prepare, run_prepared

# The fit's search per block: Nelder-Mead in the few (1-4) log parameters of a block converges within
# a few hundred evaluations, and each evaluation simulates every seed scenario of the block; 1,000
# evaluations (or Latin-hypercube points) of the default 2,000 patients per arm take hours already.
MAX_EVALUATIONS = 1_000
MAX_LATIN_HYPERCUBE = 1_000
MEDIAN_RELATIVE_TOLERANCE = 0.05
LANDMARK_ABSOLUTE_TOLERANCE = 0.03
HAZARD_RATIO_TOLERANCE = 0.05
MORTALITY_WINDOW_MONTHS = 30 / (365.25 / 12)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    id: str
    population: str
    scenario: str
    arm: str
    metric: str
    endpoint: str = "os"
    months: float | None = None
    control: str | None = None
    # A hazard ratio between groups of patients within one arm (a population's, not a trial's): the
    # patient-table column ``by``, the ``group`` compared with the ``reference`` (other values left out),
    # in a Cox model adjusted for the columns of ``adjusted_for`` (each as categories).
    by: str | None = None
    group: str | None = None
    reference: str | None = None
    adjusted_for: tuple[str, ...] = ()
    # "all": every fit uses the target. "burden-model": a target of the disease model v2 (issue 16 item 4)
    # that scripts/burden_fit.py fits; the hazard-ratio model is checked against it, but its posterior and
    # its identifiability report keep the 27 targets they were built on.
    scope: Literal["all", "burden-model"] = "all"
    rate: str | None = None
    published: float
    ci: tuple[float, float] | None = None
    range: tuple[float, float] | None = None
    # How ``range`` was derived (validation targets: from the study's own sample size or published CI).
    tolerance: str | None = None
    # The study's sample size (patients in the arm), or a standard error, for targets whose uncertainty
    # no ``ci`` or ``range`` states; the Bayesian calibration derives each target's SE from them
    # (experiments/posterior.py). ``uncertainty_source``: where n or se comes from, or "assumption: why".
    n: int | None = None
    se: float | None = None
    uncertainty_source: str | None = None
    source: str

    @model_validator(mode="after")
    def _groups_of_one_trait(self) -> Target:
        for column in (self.by, *self.adjusted_for):
            if column is not None and column not in ATTRIBUTE_COLUMNS:
                raise ValueError(f"by / adjusted_for: expected patient traits among {', '.join(ATTRIBUTE_COLUMNS)}, got {column!r}")
        if (self.by is None) != (self.group is None) or (self.by is None) != (self.reference is None):
            raise ValueError("by, group and reference: expected all three (a hazard ratio between groups of patients) or none")
        if self.by is not None and self.metric != "hazard_ratio":
            raise ValueError(f"by: expected only with metric hazard_ratio, got metric {self.metric!r}")
        return self

    def bounds(self) -> tuple[float, float, str]:
        if self.range is not None:
            rule = self.tolerance or f"inside published range {self.range[0]:g}-{self.range[1]:g}"
            return self.range[0], self.range[1], rule
        if self.metric == "median":
            delta = MEDIAN_RELATIVE_TOLERANCE * self.published
            return self.published - delta, self.published + delta, "within 5% of published median"
        if self.metric in ("survival_at", "recurred_by"):
            return self.published - LANDMARK_ABSOLUTE_TOLERANCE, self.published + LANDMARK_ABSOLUTE_TOLERANCE, "within 3 percentage points"
        if self.metric == "hazard_ratio":
            low, high = self.ci if self.ci else (-math.inf, math.inf)
            return (
                max(low, self.published - HAZARD_RATIO_TOLERANCE),
                min(high, self.published + HAZARD_RATIO_TOLERANCE),
                "inside published 95% CI and within 0.05",
            )
        raise ValueError(f"target {self.id}: a range is needed for metric {self.metric}")


class CalibratedParameter(_Strict):
    name: str
    field: str = "value"
    bounds: tuple[float, float]


class Block(_Strict):
    name: str
    parameters: list[CalibratedParameter]
    targets: list[str]


class TargetsFile(_Strict):
    targets: list[Target]
    blocks: list[Block]

    def for_every_fit(self) -> list[Target]:
        """The targets of scope "all": the hazard-ratio model's posterior and identifiability report use these."""
        return [t for t in self.targets if t.scope == "all"]


def targets_path() -> Path:
    return Path(str(resources.files("simulator.params").joinpath("calibration_targets.yaml")))


def load_targets() -> TargetsFile:
    data = TargetsFile.model_validate(read_yaml(targets_path(), what="calibration targets"))
    known = {t.id for t in data.targets}
    for block in data.blocks:
        missing = set(block.targets) - known
        if missing:
            raise ScenarioError(targets_path(), f"blocks.{block.name}.targets", "ids of listed targets", sorted(missing))
    return data


def validation_targets_path() -> Path:
    return Path(str(resources.files("simulator.params").joinpath("validation_targets.yaml")))


def load_validation_targets(path: Path | None = None) -> TargetsFile:
    """The external validation set (issue 16 item 5): the calibration schema, no blocks, and nothing shared
    with the calibration set: a target id or a scenario (study) of the calibration targets is refused."""
    path = Path(path) if path is not None else validation_targets_path()
    data = TargetsFile.model_validate(read_yaml(path, what="validation targets"))
    if data.blocks:
        raise ScenarioError(path, "blocks", "no blocks (nothing is fitted to validation targets)", [b.name for b in data.blocks])
    calibration = load_targets()
    calibration_ids = {t.id for t in calibration.targets}
    calibration_studies = {t.scenario for t in calibration.targets}
    seen: set[str] = set()
    for target in data.targets:
        if target.id in calibration_ids:
            raise ScenarioError(path, f"targets.{target.id}.id", "an id not in the calibration set (calibration_targets.yaml)", target.id)
        if target.scenario in calibration_studies:
            raise ScenarioError(
                path, f"targets.{target.id}.scenario", "a study not used in calibration (calibration_targets.yaml)", target.scenario
            )
        if target.id in seen:
            raise ScenarioError(path, f"targets.{target.id}.id", "an id no other validation target has", target.id)
        seen.add(target.id)
        if target.range is None:
            raise ScenarioError(path, f"targets.{target.id}.range", "a tolerance range [low, high] stated before evaluation")
    return data


# --------------------------------------------------------------------------------------------
# Metrics, computed on a run's patient table and event log as a trial would report them


def _arm(result: RunResult, arm: str) -> pd.DataFrame:
    return result.patients[result.patients["strategy"] == arm]


def _endpoint(frame: pd.DataFrame, endpoint: str) -> tuple[pd.Series, pd.Series]:
    if endpoint == "os":
        return frame["os_months"], frame["death"]
    if endpoint == "os_from_second_line":  # a trial that randomises at first progression (NETTER-1)
        started = frame[frame["pfs2_months"].notna()]
        return started["os_months"] - started["pfs1_months"], started["death"]
    started = frame[frame[f"{endpoint}_months"].notna()]
    return started[f"{endpoint}_months"], started[f"{endpoint}_event"]


def measure(target: Target, result: RunResult) -> float:
    frame = _arm(result, target.arm)
    if target.metric == "median":
        durations, events = _endpoint(frame, target.endpoint)
        return float(fit_km(durations, events, target.arm).median_survival_time_)
    if target.metric == "survival_at":
        durations, events = _endpoint(frame, target.endpoint)
        return float(fit_km(durations, events, target.arm).survival_function_at_times(target.months).iloc[0])
    if target.metric == "recurred_by":
        resected = frame[frame["resected"] == 1]
        kmf = fit_km(resected["rfs_months"], resected["recurred"], target.arm)
        return 1.0 - float(kmf.survival_function_at_times(target.months).iloc[0])
    if target.metric == "hazard_ratio" and target.by is not None:
        return group_hazard_ratio(frame, target)
    if target.metric == "hazard_ratio":
        return cox_hazard_ratio(result, target.arm, target.control, target.endpoint)
    if target.metric == "rate":
        return RATES[target.rate](result.events[result.events["strategy"] == target.arm])
    raise ValueError(f"unknown metric {target.metric}")


def cox_hazard_ratio(result: RunResult, arm: str, control: str, endpoint: str) -> float:
    rows = []
    for name, flag in ((arm, 1), (control, 0)):
        durations, events = _endpoint(_arm(result, name), endpoint)
        rows.append(pd.DataFrame({"duration": durations.to_numpy(), "event": events.to_numpy(), "treated": flag}))
    return _cox_ratio(pd.concat(rows, ignore_index=True), "treated")


def _cox_ratio(data: pd.DataFrame, covariate: str) -> float:
    """exp(coefficient) of ``covariate`` in a Cox model of ``data`` (columns duration, event and covariates)."""
    return float(np.exp(CoxPHFitter().fit(data, duration_col="duration", event_col="event").params_[covariate]))


def group_hazard_ratio(frame: pd.DataFrame, target: Target) -> float:
    """Cox hazard ratio of ``target.group`` vs ``target.reference`` (values of column ``target.by``) in one
    arm, adjusted for ``target.adjusted_for``."""
    values = frame[target.by].astype(str)
    kept = frame[values.isin([target.group, target.reference])]
    durations, events = _endpoint(kept, target.endpoint)
    kept = kept.loc[durations.index]
    data = pd.DataFrame(
        {
            "duration": durations.to_numpy(),
            "event": events.to_numpy(),
            "group": (kept[target.by].astype(str) == target.group).astype(int).to_numpy(),
        }
    )
    for column in target.adjusted_for:
        dummies = pd.get_dummies(kept[column].astype(str), prefix=column, drop_first=True, dtype=int)
        data = pd.concat([data, dummies.reset_index(drop=True)], axis=1)
    return _cox_ratio(data, "group")


def _procedures_of(events: pd.DataFrame, kind: str) -> pd.Series:
    """Rows that are procedures of ``kind``, read with the event log's own parser."""
    procedures = events["event"] == "procedure"
    kinds = events.loc[procedures, "detail"].astype(str).map(lambda detail: parse_procedure_detail(detail).kind)
    return procedures & (kinds.reindex(events.index, fill_value="") == kind)


def _hepatectomy_mortality(events: pd.DataFrame) -> float:
    procedures = events[_procedures_of(events, "hepatectomy")]
    deaths = events[(events["event"] == "death") & (events["detail"] == "treatment")]
    joined = deaths.merge(procedures[["patient_id", "time"]], on="patient_id", suffixes=("", "_surgery"))
    within = joined[(joined["time"] - joined["time_surgery"] >= 0) & (joined["time"] - joined["time_surgery"] <= MORTALITY_WINDOW_MONTHS)]
    return within["patient_id"].nunique() / max(len(procedures), 1)


def _hepatectomy_morbidity(events: pd.DataFrame) -> float:
    procedures = _procedures_of(events, "hepatectomy")
    complications = (events["event"] == "adverse_event") & (events["detail"] == adverse_event_detail("major_morbidity", "hepatectomy"))
    return complications.sum() / max(procedures.sum(), 1)


def _captem_response(events: pd.DataFrame) -> float:
    starts = (events["event"] == "treatment_start") & (events["detail"] == "captem")
    responses = (events["event"] == "response") & (events["detail"] == "captem:objective_response")
    return responses.sum() / max(starts.sum(), 1)


RATES: dict[str, Callable[[pd.DataFrame], float]] = {
    "hepatectomy_mortality": _hepatectomy_mortality,
    "hepatectomy_morbidity": _hepatectomy_morbidity,
    "captem_response": _captem_response,
}


# --------------------------------------------------------------------------------------------
# Running the seed scenarios


@dataclass(frozen=True)
class SeedScenario:
    scenario: Scenario
    path: Path


def load_seed_scenarios(folder: Path, what: str = "seed") -> dict[str, SeedScenario]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(folder, "", f"a folder of {what} scenario files (scenarios/{what})")
    seeds: dict[str, SeedScenario] = {}
    for path in sorted(folder.glob("*.yaml")):
        # Checked like any scenario file, and in full (parameters, strategies) before anything runs.
        scenario = prepare(load_scenario(path), path).scenario
        if scenario.name in seeds:
            raise ScenarioError(
                path, "name", f"a name no other {what} scenario has ({seeds[scenario.name].path.name} is also named)", scenario.name
            )
        seeds[scenario.name] = SeedScenario(scenario, path)
    if not seeds:
        raise ScenarioError(folder, "", f"a folder of {what} scenario files (*.yaml); found none")
    return seeds


def default_seed_folder() -> Path:
    """The seed scenarios shipped inside the package (``simulator/scenarios/seed``; ``scenarios/seed`` of a
    checkout links to them), so that `calibrate` and `reproduce` run from any folder once installed."""
    return Path(str(resources.files("simulator").joinpath("scenarios").joinpath("seed")))


def default_validation_folder(seed_folder: Path) -> Path:
    """scenarios/validation beside scenarios/seed (or beside whatever --seed-dir names)."""
    return Path(seed_folder).parent / "validation"


def load_validation_scenarios(folder: Path, seeds: dict[str, SeedScenario]) -> dict[str, SeedScenario]:
    """The validation scenarios: none may share a name with a seed (calibration) scenario."""
    scenarios = load_seed_scenarios(folder, "validation")
    for name, scenario in scenarios.items():
        if name in seeds:
            raise ScenarioError(scenario.path, "name", "a name no calibration (seed) scenario has", name)
    return scenarios


def _check_sizes(seeds: dict[str, SeedScenario], size: int | None, option: str) -> None:
    for seed in seeds.values() if size is not None else ():
        scenario = apply_overrides(seed.scenario, seed.path, {"patients": option}, patients=size)
        limit = scenario.total_work_error(MAX_SIMULATED_LIFETIMES, summary_hint=False)  # a calibration keeps event logs
        if limit is not None:
            raise ScenarioError(seed.path, f"cohort.size (set by {option})", limit, size)
        prepare(scenario, seed.path)


def _check_arms(targets: list[Target], seeds: dict[str, SeedScenario], path: Path) -> None:
    for target in targets:
        if target.scenario not in seeds:
            raise ScenarioError(path, f"targets.{target.id}.scenario", "a scenario in the scenario folder", target.scenario)
        seed = seeds[target.scenario]
        names = [strategy.name for strategy in seed.scenario.strategies]
        for arm in (target.arm, target.control):
            if arm is not None and arm not in names:
                raise ScenarioError(seed.path, "strategies", f"a strategy named {arm!r} (arm of target {target.id})", ", ".join(names))


def check_validation_options(validation_folder: Path, seeds: dict[str, SeedScenario], patients: int | None) -> dict[str, SeedScenario]:
    """Refuse, before any simulation, a validation set that could not be evaluated: the targets file (nothing
    shared with calibration), the scenarios at the cohort size they will run with, and every target's arms."""
    data = load_validation_targets()
    scenarios = load_validation_scenarios(validation_folder, seeds)
    _check_sizes(scenarios, patients, "--patients")
    _check_arms(data.targets, scenarios, validation_targets_path())
    return scenarios


def check_options(
    seed_folder: Path,
    patients: int | None,
    fit_patients: int | None = None,
    max_evaluations: int | None = None,
    latin_hypercube: int | None = None,
    blocks: list[str] | None = None,
    fit_option: str = "--fit-patients",
) -> dict[str, SeedScenario]:
    """Refuse, before any simulation, what calibrating or checking would refuse or crash on: the seed
    scenarios at every cohort size they will run with (each prepared as a run prepares it), the
    search's sizes and unknown blocks. Returns the seed scenarios. ``fit_option``: the option that set
    ``fit_patients``, named in the error."""
    if max_evaluations is not None and not 1 <= max_evaluations <= MAX_EVALUATIONS:
        raise UserInputError(f"--max-evaluations: expected a whole number from 1 to {MAX_EVALUATIONS}, got {max_evaluations}")
    if latin_hypercube is not None and not 0 <= latin_hypercube <= MAX_LATIN_HYPERCUBE:
        raise UserInputError(f"--latin-hypercube: expected a whole number from 0 to {MAX_LATIN_HYPERCUBE}, got {latin_hypercube}")
    seeds = load_seed_scenarios(seed_folder)
    for size, option in ((patients, "--patients"), (fit_patients, fit_option)):
        _check_sizes(seeds, size, option)
    _check_arms(load_targets().targets, seeds, targets_path())
    if blocks:
        data = load_targets()
        unknown = set(blocks) - {b.name for b in data.blocks}
        if unknown:
            raise ScenarioError(targets_path(), "blocks", f"block names among {[b.name for b in data.blocks]}", sorted(unknown))
    return seeds


def simulate(seed: SeedScenario, overrides: dict[str, Any], patients: int | None) -> RunResult:
    data = seed.scenario.model_dump(mode="json", exclude_none=True)
    data["parameters"] = {**data.get("parameters", {}), **overrides}
    if patients:
        data["cohort"]["size"] = patients
    scenario = Scenario.model_validate(data)
    return run_prepared(prepare(scenario, seed.path))


def _simulate_task(task: tuple) -> RunResult:
    return simulate(*task)


def simulate_all(
    names: list[str],
    seeds: dict[str, SeedScenario],
    overrides: dict[str, Any],
    patients: int | None,
    execution: Execution = SERIAL,
    progress=None,
) -> dict[str, RunResult]:
    """Every named seed scenario, each a task for ``execution``; the results do not depend on where they ran."""
    tasks = [(seeds[name], overrides, patients) for name in names]
    results = execution.map(_simulate_task, tasks, progress_counter(progress, len(names), lambda index: f"seed scenario {names[index]}"))
    return dict(zip(names, results))


def target_table(targets: list[Target], results: dict[str, RunResult]) -> pd.DataFrame:
    """calibration.csv: each target's published and simulated value, tolerance and verdict."""
    rows = []
    for target in targets:
        simulated = measure(target, results[target.scenario])
        low, high, rule = target.bounds()
        rows.append(
            {
                "target": target.id,
                "population": target.population,
                "published": target.published,
                "simulated": simulated,
                "tolerance": rule,
                "lower": low,
                "upper": high,
                "pass": bool(low <= simulated <= high),
                "scenario": target.scenario,
                "source": target.source,
            }
        )
    return pd.DataFrame(rows)


def evaluate(
    targets: list[Target],
    seeds: dict[str, SeedScenario],
    overrides: dict[str, Any],
    patients: int | None,
    execution: Execution = SERIAL,
    progress=None,
    path: Path | None = None,
) -> pd.DataFrame:
    _check_arms(targets, seeds, path if path is not None else targets_path())
    names = list(dict.fromkeys(t.scenario for t in targets))
    return target_table(targets, simulate_all(names, seeds, overrides, patients, execution, progress))


def check(
    seed_folder: Path, patients: int | None = None, execution: Execution = SERIAL, progress=None, overrides: dict[str, Any] | None = None
) -> pd.DataFrame:
    """calibration.csv's table with the current parameters, ``overrides`` set in every seed scenario."""
    data = load_targets()
    return evaluate(data.targets, load_seed_scenarios(seed_folder), dict(overrides or {}), patients, execution, progress)


def check_validation(
    validation_folder: Path,
    seeds: dict[str, SeedScenario],
    patients: int | None = None,
    execution: Execution = SERIAL,
    progress=None,
    overrides: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """validation.csv: the external validation set with the current parameters (``overrides`` set in every
    scenario), apart from calibration (its own targets file and scenario folder); nothing here is ever fitted."""
    data = load_validation_targets()
    scenarios = load_validation_scenarios(validation_folder, seeds)
    return evaluate(data.targets, scenarios, dict(overrides or {}), patients, execution, progress, validation_targets_path())


# --------------------------------------------------------------------------------------------
# Fitting


def override_calibrated(parameter: CalibratedParameter, value: float, current: dict[str, Any]) -> None:
    entry, _ = load_library()[parameter.name]
    if parameter.field == "value":
        current[parameter.name] = value
    else:
        existing = current.get(parameter.name) or {"distribution": entry.distribution, "params": dict(entry.params)}
        existing["params"][parameter.field] = value
        current[parameter.name] = existing


def calibrated_value(parameter: CalibratedParameter) -> float:
    entry, _ = load_library()[parameter.name]
    value = entry.value if parameter.field == "value" else entry.params[parameter.field]
    low, high = parameter.bounds
    return min(max(float(value), low), high)


def _score(frame: pd.DataFrame) -> float:
    """Sum of squared distances from the centre of each target's tolerance band, in half-widths."""
    centre = (frame["lower"] + frame["upper"]) / 2
    half = (frame["upper"] - frame["lower"]) / 2
    return float((((frame["simulated"] - centre) / half) ** 2).sum())


LATIN_HYPERCUBE_SEED = 20130101  # fixed so that a rerun of the calibration searches the same points


def calibrate(
    seed_folder: Path,
    patients: int,
    max_evaluations: int,
    progress: Callable[[str], None] = print,
    latin_hypercube: int = 40,
    only_blocks: list[str] | None = None,
    execution: Execution = SERIAL,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit each block (or only ``only_blocks``), starting from the current calibrated values."""
    data = load_targets()
    seeds = load_seed_scenarios(seed_folder)
    by_id = {t.id: t for t in data.targets}
    overrides: dict[str, Any] = {}
    report = []
    unknown = set(only_blocks or ()) - {b.name for b in data.blocks}
    if unknown:
        raise ScenarioError(targets_path(), "blocks", f"block names among {[b.name for b in data.blocks]}", sorted(unknown))
    for block in data.blocks:
        if only_blocks and block.name not in only_blocks:
            continue
        targets = [by_id[i] for i in block.targets]
        start = np.log([calibrated_value(p) for p in block.parameters])
        low = np.log([p.bounds[0] for p in block.parameters])
        high = np.log([p.bounds[1] for p in block.parameters])

        def objective(x: np.ndarray) -> float:
            trial = dict(overrides)
            clipped = np.clip(x, low, high)
            for parameter, value in zip(block.parameters, np.exp(clipped)):
                override_calibrated(parameter, float(value), trial)
            penalty = float(((x - clipped) ** 2).sum()) * 100.0
            return _score(evaluate(targets, seeds, trial, patients, execution)) + penalty

        evaluations = [0]

        def counted(x: np.ndarray) -> float:
            evaluations[0] += 1
            value = objective(x)
            if evaluations[0] % 10 == 0:
                progress(f"  {block.name}: evaluation {evaluations[0]}, objective {value:.3f}")
            return value

        initial = counted(start)
        # Global stage: a Latin hypercube over the (log) bounds; the best point starts the local search.
        best_start, best_value = start, initial
        if latin_hypercube > 0:
            sampler = stats.qmc.LatinHypercube(d=len(start), seed=LATIN_HYPERCUBE_SEED)
            for point in stats.qmc.scale(sampler.random(latin_hypercube), low, high):
                value = counted(point)
                if value < best_value:
                    best_start, best_value = point, value
        progress(f"  {block.name}: start {initial:.3f}, best of Latin hypercube {best_value:.3f}")
        solution = optimize.minimize(
            counted, best_start, method="Nelder-Mead", options={"maxfev": max_evaluations, "xatol": 1e-3, "fatol": 1e-3}
        )
        best = np.exp(np.clip(solution.x, low, high))
        for parameter, value in zip(block.parameters, best):
            override_calibrated(parameter, float(value), overrides)
            report.append(
                {
                    "block": block.name,
                    "parameter": parameter.name,
                    "field": parameter.field,
                    "start": calibrated_value(parameter),
                    "calibrated": float(value),
                    "lower_bound": parameter.bounds[0],
                    "upper_bound": parameter.bounds[1],
                    "objective_start": initial,
                    "objective_end": float(solution.fun),
                    "evaluations": evaluations[0],
                }
            )
        progress(f"block {block.name}: objective {initial:.3f} -> {solution.fun:.3f} after {evaluations[0]} evaluations")
    return overrides, pd.DataFrame(report)
