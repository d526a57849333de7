"""Run every strategy of a scenario over its replications, with common random numbers.

The cohort and all random streams of replication r depend only on (seed, r): every strategy sees
the same patients and, for each purpose, the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ..config import Scenario
from ..core.rng import RandomStreams
from ..engine.cohort import ATTRIBUTE_COLUMNS, build_cohort, mix_probabilities
from ..engine.model import PathwayModel
from ..errors import ScenarioError
from ..params.parameter_set import ParameterSet, build_parameter_set
from ..pathways.strategies import Strategy, resolve_strategies

PROCEDURE_KINDS = ("hepatectomy", "transplant", "ablation", "tae", "tace", "y90", "prrt")
PFS_LINES_REPORTED = 3  # columns pfs1..pfs3; a death during a line ends that line's PFS too


@dataclass(frozen=True)
class PreparedScenario:
    """Everything a run needs, validated: nothing below this point reads user files."""

    scenario: Scenario
    path: Path
    params: ParameterSet
    strategies: list[Strategy]


def prepare(scenario: Scenario, path: Path | str) -> PreparedScenario:
    path = Path(path)
    overrides = dict(scenario.parameters)
    for key, value in scenario.cohort.mix.items():
        name = f"cohort.{key}"
        if name in overrides:
            raise ScenarioError(path, f"cohort.mix.{key}", "a parameter not also set under parameters")
        overrides[name] = value
    try:
        params = build_parameter_set(overrides, path)
    except ScenarioError as exc:
        if exc.field.startswith("parameters.cohort.") and exc.field.removeprefix("parameters.cohort.") in scenario.cohort.mix:
            raise ScenarioError(path, "cohort.mix." + exc.field.removeprefix("parameters.cohort."), exc.expected, exc.got) from None
        raise
    try:
        mix_probabilities(params)
    except ValueError as exc:
        raise ScenarioError(path, "cohort.mix", f"shares that sum to at most 1 ({exc})") from None
    return PreparedScenario(scenario, path, params, resolve_strategies(scenario, path))


@dataclass
class RunResult:
    events: pd.DataFrame
    patients: pd.DataFrame


def patient_table(model: PathwayModel, replication: int) -> pd.DataFrame:
    """One row per patient of one model run, built column by column (a dict per row costs 3x more)."""
    horizon = model.horizon
    courses = model.courses
    nan = float("nan")
    columns: dict[str, list] = {"patient_id": [c.patient_id for c in courses]}
    for column in ATTRIBUTE_COLUMNS:
        columns[column] = [getattr(c.patient, column) for c in courses]
    ends = [c.death_at if c.death_at is not None else horizon for c in courses]
    columns["os_months"] = ends
    columns["death"] = [int(c.death_at is not None) for c in courses]
    columns["death_cause"] = [c.death_cause if c.death_at is not None else "" for c in courses]
    columns["first_treatment"] = [c.history[0] if c.history else "" for c in courses]
    columns["treatment_sequence"] = [">".join(c.history) for c in courses]
    columns["lines"] = [c.line for c in courses]
    columns["progressions"] = [c.progressions for c in courses]
    columns["resected"] = [int(c.resected_at is not None) for c in courses]
    columns["rfs_months"] = [
        ((c.first_recurrence_at if c.first_recurrence_at is not None else end) - c.resected_at) if c.resected_at is not None else nan
        for c, end in zip(courses, ends)
    ]
    columns["rfs_event"] = [
        int(c.resected_at is not None and (c.first_recurrence_at is not None or c.death_at is not None)) for c in courses
    ]
    columns["recurred"] = [int(c.first_recurrence_at is not None) for c in courses]
    columns["months_uncontrolled"] = [c.months_uncontrolled if c.patient.functional else nan for c in courses]
    columns["time_to_first_control"] = [c.first_control_at if c.first_control_at is not None else nan for c in courses]
    columns["symptom_control_months"] = [c.control_months if c.patient.functional else nan for c in courses]
    columns["adverse_events"] = [c.adverse_events for c in courses]
    for line in range(1, PFS_LINES_REPORTED + 1):
        months, events = [], []
        for c in courses:
            if line <= len(c.line_pfs):
                duration, progressed = c.line_pfs[line - 1]
                months.append(duration)
                events.append(int(progressed or (c.death_at is not None and line == len(c.line_pfs))))
            else:
                months.append(nan)
                events.append(nan)
        columns[f"pfs{line}_months"] = months
        columns[f"pfs{line}_event"] = events
    for kind in PROCEDURE_KINDS:
        columns[f"n_{kind}"] = [c.procedures.get(kind, 0) for c in courses]
    table = pd.DataFrame(columns)
    table.insert(0, "strategy", model.strategy.name)
    table.insert(0, "replication", replication)
    return table


def run_replication(
    prepared: PreparedScenario, replication: int, after_strategy: Callable[[str], None] | None = None, draw: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, patients) of one replication (of one PSA draw): the same cohort and streams for every strategy."""
    scenario = prepared.scenario
    streams = RandomStreams(scenario.seed, replication, draw)
    cohort = build_cohort(prepared.params, streams, scenario.cohort.size, scenario.cohort.age)
    frames, tables = [], []
    for strategy in prepared.strategies:
        model = PathwayModel(prepared.params, strategy, cohort, scenario.horizon_months, streams, replication).run()
        frames.append(model.log.to_frame())
        tables.append(patient_table(model, replication))
        if after_strategy is not None:
            after_strategy(strategy.name)
    return concat_events(frames), pd.concat(tables, ignore_index=True)


def concat_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack event logs; every log's ``event`` column has the same categories, so the result keeps them."""
    return pd.concat(frames, ignore_index=True)


def run_prepared(prepared: PreparedScenario) -> RunResult:
    pairs = [run_replication(prepared, r) for r in range(prepared.scenario.replications)]
    return RunResult(events=concat_events([e for e, _ in pairs]), patients=pd.concat([p for _, p in pairs], ignore_index=True))
