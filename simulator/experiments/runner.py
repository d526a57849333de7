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


def patient_rows(model: PathwayModel, replication: int) -> list[dict]:
    rows = []
    horizon = model.horizon
    for course in model.courses:
        patient = course.patient
        died = course.death_at is not None
        os_months = course.death_at if died else horizon
        row = {
            "replication": replication,
            "strategy": model.strategy.name,
            "patient_id": patient.patient_id,
        }
        for column in ATTRIBUTE_COLUMNS:
            row[column] = getattr(patient, column)
        row.update(
            {
                "os_months": os_months,
                "death": int(died),
                "death_cause": course.death_cause if died else "",
                "first_treatment": course.history[0] if course.history else "",
                "treatment_sequence": ">".join(course.history),
                "lines": course.line,
                "progressions": course.progressions,
                "resected": int(course.resected_at is not None),
                "rfs_months": (
                    ((course.first_recurrence_at if course.first_recurrence_at is not None else (course.death_at if died else horizon)) - course.resected_at)
                    if course.resected_at is not None
                    else float("nan")
                ),
                "rfs_event": int(course.resected_at is not None and (course.first_recurrence_at is not None or died)),
                "recurred": int(course.first_recurrence_at is not None),
                "months_uncontrolled": course.months_uncontrolled if patient.functional else float("nan"),
                "time_to_first_control": (course.first_control_at if course.first_control_at is not None else float("nan")),
                "symptom_control_months": course.control_months if patient.functional else float("nan"),
                "adverse_events": course.adverse_events,
            }
        )
        for line in range(1, PFS_LINES_REPORTED + 1):
            if line <= len(course.line_pfs):
                months, progressed = course.line_pfs[line - 1]
                row[f"pfs{line}_months"] = months
                row[f"pfs{line}_event"] = int(progressed or (died and line == len(course.line_pfs)))
            else:
                row[f"pfs{line}_months"] = float("nan")
                row[f"pfs{line}_event"] = float("nan")
        for kind in PROCEDURE_KINDS:
            row[f"n_{kind}"] = course.procedures.get(kind, 0)
        rows.append(row)
    return rows


def run_replication(
    prepared: PreparedScenario, replication: int, after_strategy: Callable[[str], None] | None = None, draw: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, patients) of one replication (of one PSA draw): the same cohort and streams for every strategy."""
    scenario = prepared.scenario
    streams = RandomStreams(scenario.seed, replication, draw)
    cohort = build_cohort(prepared.params, streams, scenario.cohort.size, scenario.cohort.age)
    frames, rows = [], []
    for strategy in prepared.strategies:
        model = PathwayModel(prepared.params, strategy, cohort, scenario.horizon_months, streams, replication).run()
        frames.append(model.log.to_frame())
        rows.extend(patient_rows(model, replication))
        if after_strategy is not None:
            after_strategy(strategy.name)
    events = pd.concat(frames, ignore_index=True)
    events["event"] = events["event"].astype(str).astype("category")
    return events, pd.DataFrame(rows)


def run_prepared(prepared: PreparedScenario) -> RunResult:
    pairs = [run_replication(prepared, r) for r in range(prepared.scenario.replications)]
    events = pd.concat([e for e, _ in pairs], ignore_index=True)
    events["event"] = events["event"].astype(str).astype("category")
    return RunResult(events=events, patients=pd.concat([p for _, p in pairs], ignore_index=True))
