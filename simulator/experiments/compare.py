"""Strategy comparison: every strategy over replications with common random numbers, a fixed number
of replications or as many as the confidence-interval method asks for (``precision``).

Replications are run one at a time so that the metrics can be checked after each one; only what the
figures need is kept (per-replication metrics and curve counts, all patients, the first replication's
event log for the swimmer plots), so long runs do not hold every event in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ..capacity.run import CapacityTables
from ..config import MAX_REPLICATIONS
from ..errors import ScenarioError, UserInputError
from ..outcomes.comparison import DEFAULT_PRECISION_METRICS, precision_status, summarise_replications
from ..outcomes.metrics import METRICS, replication_metrics
from ..outcomes.timecourse import pool_occupancy, pool_symptom_curves, state_occupancy, symptom_control_curve
from .execution import SERIAL, Execution
from .runner import PreparedScenario, capacity_replication, run_replication

# A t interval from two replications (1 degree of freedom) is itself too noisy to stop on.
PRECISION_MIN_REPLICATIONS = 3
DEFAULT_MAX_REPLICATIONS = 100

Progress = Callable[[int, int, str], None]  # (steps done, steps in all, what is running)


@dataclass
class Comparison:
    prepared: PreparedScenario
    comparator: str
    patients: pd.DataFrame
    per_replication: pd.DataFrame  # replication, strategy, metric, value
    summary: pd.DataFrame  # outcomes.comparison.COMPARISON_COLUMNS
    occupancy: pd.DataFrame  # strategy, group, month, count, share (replications pooled)
    symptom_curve: pd.DataFrame  # strategy, month, functional_patients, alive, controlled, shares
    first_events: pd.DataFrame  # the event log of replication 0
    replications: int
    precision: float | None = None
    precision_metrics: tuple[str, ...] = ()
    precision_met: bool | None = None
    precision_trace: list[dict] = field(default_factory=list)
    capacity: CapacityTables | None = None  # resources, waits and queues when the scenario has capacity
    # With run_comparison(value=True): mean costs, QALYs, life-years per (replication, strategy).
    economics: pd.DataFrame | None = None

    @property
    def strategies(self) -> list[str]:
        return [s.name for s in self.prepared.strategies]


def resolve_comparator(prepared: PreparedScenario, name: str | None) -> str:
    names = [s.name for s in prepared.strategies]
    if name is None:
        return names[0]
    if name not in names:
        raise ScenarioError(prepared.path, "--comparator", f"one of the scenario's strategies ({', '.join(names)})", name)
    return name


def check_precision_options(precision: float | None, max_replications: int | None, metrics: tuple[str, ...]) -> None:
    if precision is not None and not 0 < precision < 1:
        raise UserInputError(f"--precision: expected a relative precision between 0 and 1 (e.g. 0.05), got {precision}")
    if max_replications is not None and not PRECISION_MIN_REPLICATIONS <= max_replications <= MAX_REPLICATIONS:
        raise UserInputError(f"--max-replications: expected {PRECISION_MIN_REPLICATIONS} to {MAX_REPLICATIONS}, got {max_replications}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise UserInputError(f"precision metric {unknown[0]!r}: expected one of {', '.join(METRICS)}")


def compare_replication(prepared: PreparedScenario, replication: int, comparator: str, value: bool = False) -> tuple:
    """What the comparison keeps of one replication: metrics, patients, state occupancy, symptom
    curve, the event log of replication 0 only (for the swimmer plots), the hospital's tables of a
    scenario with a capacity section (else None) and, with ``value``, the mean costs, QALYs and
    life-years per strategy (economics.valuation.replication_means; else None)."""
    scenario = prepared.scenario
    names = [s.name for s in prepared.strategies]
    tables = None
    if scenario.capacity is not None:  # the hospital's tables too, and their metrics (comparison.csv)
        events, patients, tables = capacity_replication(prepared, replication)
        metrics = pd.concat(
            [replication_metrics(patients, events, names, comparator, scenario.horizon_months), *tables.metrics], ignore_index=True
        )
    else:
        events, patients = run_replication(prepared, replication)
        metrics = replication_metrics(patients, events, names, comparator, scenario.horizon_months)
    values = None
    if value:
        from ..economics.settings import EconomicSettings
        from ..economics.valuation import replication_means, value_patients

        values = replication_means(value_patients(events, patients, prepared.params, EconomicSettings.from_scenario(scenario)), names)
    return (
        metrics,
        patients,
        state_occupancy(events, names, scenario.horizon_months),
        symptom_control_curve(events, patients, names, scenario.horizon_months),
        events if replication == 0 else None,
        tables,
        values,
    )


def _replication_task(task: tuple) -> tuple:
    return compare_replication(*task)


def run_comparison(
    prepared: PreparedScenario,
    comparator: str | None = None,
    precision: float | None = None,
    max_replications: int | None = None,
    precision_metrics: tuple[str, ...] = DEFAULT_PRECISION_METRICS,
    progress: Progress | None = None,
    execution: Execution = SERIAL,
    value: bool = False,
) -> Comparison:
    """Run the comparison. Without ``precision`` the scenario's replication count is used; with it,
    replications are added one at a time until every chosen metric's 95% CI half-width is within
    ``precision`` x its mean (checked from PRECISION_MIN_REPLICATIONS on), or ``max_replications``."""
    check_precision_options(precision, max_replications, precision_metrics)
    comparator = resolve_comparator(prepared, comparator)
    scenario = prepared.scenario
    names = [s.name for s in prepared.strategies]
    planned = scenario.replications if precision is None else (max_replications or DEFAULT_MAX_REPLICATIONS)
    metric_frames, patient_frames, occupancy, symptoms, value_frames = [], [], [], [], []
    first_events = pd.DataFrame()
    trace: list[dict] = []
    met: bool | None = None
    replication = 0
    # Replications run in rounds of ``execution.workers`` tasks; their results are taken in replication
    # order and the precision rule is checked after each one, so where it stops, and every output,
    # is the same whatever the number of workers (replications past the stopping point are dropped).
    capacity = CapacityTables() if scenario.capacity is not None else None
    batch = max(1, execution.workers)
    while replication < planned and not met:
        round_ = range(replication, min(replication + batch, planned))
        tasks = [(prepared, r, comparator, value) for r in round_]
        ticker = None
        if progress is not None:

            def ticker(index: int, result: object, start: int = replication) -> None:
                progress(min(start + index + 1, planned), planned, f"replication {start + index + 1}")

        for metrics, patients, occupied, symptom, events, tables, values in execution.map(_replication_task, tasks, ticker):
            metric_frames.append(metrics)
            if values is not None:
                value_frames.append(values)
            if capacity is not None:
                capacity.extend(tables)
            patient_frames.append(patients)
            occupancy.append(occupied)
            symptoms.append(symptom)
            if replication == 0:
                first_events = events
            replication += 1
            if precision is not None and replication >= PRECISION_MIN_REPLICATIONS:
                chosen = pd.concat(metric_frames, ignore_index=True)
                chosen = chosen[chosen["metric"].isin(precision_metrics)]
                met, worst = precision_status(summarise_replications(chosen, names), precision_metrics, precision, comparator)
                trace.append({"replications": replication, "worst_relative_half_width": worst})
                if met:
                    break
    per_replication = pd.concat(metric_frames, ignore_index=True)
    return Comparison(
        prepared=prepared,
        comparator=comparator,
        patients=pd.concat(patient_frames, ignore_index=True),
        per_replication=per_replication,
        summary=summarise_replications(per_replication, names),
        occupancy=pool_occupancy(occupancy),
        symptom_curve=pool_symptom_curves(symptoms),
        first_events=first_events,
        replications=replication,
        precision=precision,
        precision_metrics=tuple(precision_metrics) if precision is not None else (),
        precision_met=met if precision is not None else None,
        precision_trace=trace,
        capacity=capacity,
        economics=pd.concat(value_frames, ignore_index=True) if value_frames else None,
    )
