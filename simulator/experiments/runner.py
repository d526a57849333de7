"""Run every strategy of a scenario over its replications, with common random numbers.

The cohort and all random streams of replication r depend only on (seed, r): every strategy sees
the same patients and, for each purpose, the same draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

from ..core.rng import CHUNK, RandomStreams
from ..engine.cohort import ATTRIBUTE_COLUMNS, build_cohort
from ..engine.model import PathwayModel
from ..outcomes.summary import add_sums, outcome_sums
from ..pathways import procedure_kinds
from ..pathways.strategies import Strategy
from .execution import SERIAL, Execution, progress_counter

# Re-exported where they were: they live in experiments/prepare.py, which loads no pandas.
from .prepare import PreparedScenario as PreparedScenario
from .prepare import prepare as prepare

Progress = Callable[[int, int, str], None]

if TYPE_CHECKING:  # pragma: no cover
    from ..capacity.run import CapacityTables

PFS_LINES_REPORTED = 3  # columns pfs1..pfs3; a death during a line ends that line's PFS too


@dataclass
class RunResult:
    events: pd.DataFrame | None  # None in summary mode
    patients: pd.DataFrame
    capacity: CapacityTables | None = None  # resources, waits, queues when the scenario has capacity


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
    # The model's own lines: treatments before entry (cohort.prior_treatments) are not part of them.
    sequences = [c.history[len(c.patient.prior_treatments) :] for c in courses]
    columns["first_treatment"] = [sequence[0] if sequence else "" for sequence in sequences]
    columns["treatment_sequence"] = [">".join(sequence) for sequence in sequences]
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
    for kind in procedure_kinds():
        columns[f"n_{kind}"] = [c.procedures.get(kind, 0) for c in courses]
    table = pd.DataFrame(columns)
    table.insert(0, "strategy", model.strategy.name)
    table.insert(0, "replication", replication)
    return table


def scenario_cohort(prepared: PreparedScenario, streams: RandomStreams, size: int, first: int = 0) -> list:
    """Patients ``first .. first + size - 1`` of the scenario's cohort (its mix, fixed age and prior treatments)."""
    cohort = prepared.scenario.cohort
    return build_cohort(prepared.params, streams, size, cohort.age, first=first, prior_treatments=tuple(cohort.prior_treatments))


def _cohort_for(prepared: PreparedScenario, streams: RandomStreams, replication: int, draw: int) -> tuple[list, tuple | None]:
    """The replication's cohort; with a capacity section also its (arrival times, statistics window)."""
    scenario = prepared.scenario
    if scenario.capacity is None:
        return scenario_cohort(prepared, streams, scenario.cohort.size), None
    from ..capacity.run import open_cohort

    arrivals, window, size = open_cohort(scenario, prepared.params, replication, draw)
    return scenario_cohort(prepared, streams, size), (arrivals, window)


def _strategy_tables(
    prepared: PreparedScenario,
    strategy: Strategy,
    cohort: list,
    streams: RandomStreams,
    replication: int,
    hospital: tuple | None = None,
    capacity_out: CapacityTables | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, patients) of one strategy on ``cohort``; ``hospital`` (arrivals, window) shares the
    scenario's resources between the patients, and the hospital's tables go to ``capacity_out``."""
    scenario = prepared.scenario
    if hospital is None:
        model = PathwayModel(prepared.params, strategy, cohort, scenario.horizon_months, streams, replication).run()
        tables = model.log.to_frame(), patient_table(model, replication)
    else:
        from ..capacity.hospital import Hospital
        from ..capacity.run import finish

        arrivals, window = hospital
        care = Hospital(scenario.capacity, arrivals, window)  # type: ignore[arg-type]  # a capacity run has a capacity section
        model = PathwayModel(prepared.params, strategy, cohort, scenario.horizon_months, streams, replication, hospital=care).run()
        tables = finish(model, model.log.to_frame(), patient_table(model, replication), replication, capacity_out)
    model.close()
    return tables


# The streams of (seed, replication, draw) hold the same numbers whoever asks for them, so a process
# keeps those of its last small cohort: the next strategy of the replication, and a sensitivity
# analysis's next re-run of it, read them instead of generating them again (half the time of a DSA
# of 20 patients per run went into regenerating and freeing them). A larger cohort's streams are
# made afresh and dropped after its run, so that they are not held in memory after it.
SHARED_STREAMS_MAX_PATIENTS = 4 * CHUNK
_shared_streams = lru_cache(maxsize=1)(RandomStreams)


def replication_streams(prepared: PreparedScenario, replication: int, draw: int) -> RandomStreams:
    """The random streams of one replication (of one PSA draw) of the scenario."""
    scenario = prepared.scenario
    make = RandomStreams if scenario.capacity is not None or scenario.cohort.size > SHARED_STREAMS_MAX_PATIENTS else _shared_streams
    return make(scenario.seed, replication, draw)


def run_strategy(prepared: PreparedScenario, replication: int, strategy_index: int, draw: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, patients) of one strategy in one replication: a task that runs anywhere.

    The cohort and streams depend only on (seed, replication, draw), so a worker that rebuilds them
    gets exactly what ``run_replication`` shares between strategies."""
    streams = replication_streams(prepared, replication, draw)
    cohort, hospital = _cohort_for(prepared, streams, replication, draw)
    return _strategy_tables(prepared, prepared.strategies[strategy_index], cohort, streams, replication, hospital)


def run_replication(
    prepared: PreparedScenario,
    replication: int,
    after_strategy: Callable[[str], None] | None = None,
    draw: int = 0,
    capacity_out: CapacityTables | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, patients) of one replication (of one PSA draw): the same cohort and streams for every strategy.
    With a ``capacity`` section the hospital's tables are added to ``capacity_out`` when given."""
    streams = replication_streams(prepared, replication, draw)
    cohort, hospital = _cohort_for(prepared, streams, replication, draw)
    frames, tables = [], []
    for strategy in prepared.strategies:
        events, table = _strategy_tables(prepared, strategy, cohort, streams, replication, hospital, capacity_out)
        frames.append(events)
        tables.append(table)
        if after_strategy is not None:
            after_strategy(strategy.name)
    return concat_events(frames), pd.concat(tables, ignore_index=True)


def concat_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack event logs; every log's ``event`` column has the same categories, so the result keeps them."""
    return pd.concat(frames, ignore_index=True)


def _strategy_task(task: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    return run_strategy(*task)


def run_prepared(prepared: PreparedScenario, execution: Execution = SERIAL, progress: Progress | None = None) -> RunResult:
    """Every (replication, strategy) of the scenario, as tasks of ``execution``; merged in task order.
    With a ``capacity`` section the tasks are whole replications (their strategies share the arrivals)."""
    if prepared.scenario.capacity is not None:
        return _run_capacity_prepared(prepared, execution, progress)
    tasks = [(prepared, r, s) for r in range(prepared.scenario.replications) for s in range(len(prepared.strategies))]
    done = progress_counter(progress, len(tasks), "replication x strategy")
    pairs = execution.map(_strategy_task, tasks, done)
    return RunResult(events=concat_events([e for e, _ in pairs]), patients=pd.concat([p for _, p in pairs], ignore_index=True))


# ------------------------------------------------------------------------------ summary mode

SUMMARY_CHUNK = 4 * CHUNK  # patients simulated together in summary mode: a whole number of RNG blocks
SUMMARY_TASK = 64 * SUMMARY_CHUNK  # patients per summary-mode task: big cohorts split over the workers too
# What a summary-mode run keeps per patient: the Kaplan-Meier inputs, in the narrowest type that holds
# them exactly. Everything else is added up as it goes (``outcome_sums``) and the event log is dropped
# chunk by chunk.
SUMMARY_COLUMNS = {
    "strategy": "category",
    "os_months": "float64",
    "death": "int8",
    "pfs1_months": "float64",
    "pfs1_event": "float32",  # 0, 1 or NaN (no first line): exact in float32
}


@dataclass
class SummaryPart:
    """What summary mode keeps of one task (a block of patients of one replication and strategy):
    compact patient rows and the sums of the economic values."""

    patients: pd.DataFrame
    value_sums: dict[str, float]
    count: int
    outcome_sums: dict[str, float]


def summarise_strategy(
    prepared: PreparedScenario, replication: int, strategy_index: int, settings, first: int = 0, size: int | None = None, draw: int = 0
) -> SummaryPart:
    """Patients ``first .. first + size - 1`` of one strategy and replication, simulated
    ``SUMMARY_CHUNK`` at a time: each chunk's event log is valued and dropped at once, so memory
    does not grow with the event log."""
    from ..economics.valuation import VALUE_COLUMNS, ValuationInputs, value_patients

    scenario = prepared.scenario
    size = scenario.cohort.size - first if size is None else size
    inputs = ValuationInputs.from_parameters(prepared.params, settings)
    strategy = prepared.strategies[strategy_index]
    streams = RandomStreams(scenario.seed, replication, draw)
    tables, sums, count, outcomes = [], dict.fromkeys(VALUE_COLUMNS, 0.0), 0, None
    if scenario.capacity is not None:
        # Patients share the hospital's resources: the cohort cannot be cut into chunks; run it whole
        # (run_prepared_summary gives a capacity scenario one task per replication and strategy).
        events, table = run_strategy(prepared, replication, strategy_index, draw)
        values = value_patients(events, table, inputs, settings)
        return SummaryPart(
            table[list(SUMMARY_COLUMNS)].astype(SUMMARY_COLUMNS),
            {column: float(values[column].sum()) for column in VALUE_COLUMNS},
            len(values),
            outcome_sums(table),
        )
    for start in range(first, first + size, SUMMARY_CHUNK):
        chunk_size = min(SUMMARY_CHUNK, first + size - start)
        cohort = scenario_cohort(prepared, streams, chunk_size, first=start)
        events, table = _strategy_tables(prepared, strategy, cohort, streams, replication)
        values = value_patients(events, table, inputs, settings)
        del events
        for column in VALUE_COLUMNS:
            sums[column] += float(values[column].sum())
        count += len(values)
        outcomes = add_sums(outcomes, outcome_sums(table))
        tables.append(table[list(SUMMARY_COLUMNS)].astype(SUMMARY_COLUMNS))
        for block in range(start // CHUNK, (start + chunk_size - 1) // CHUNK + 1):
            streams.release_chunk(block)
    return SummaryPart(pd.concat(tables, ignore_index=True), sums, count, outcomes)


def _summary_task(task: tuple) -> SummaryPart:
    return summarise_strategy(*task)


def run_prepared_summary(
    prepared: PreparedScenario, settings, execution: Execution = SERIAL, progress: Progress | None = None
) -> tuple[pd.DataFrame, dict[str, dict[str, float]], pd.DataFrame, pd.Series]:
    """Summary mode: (compact patient rows, outcome sums per strategy, value means per (replication,
    strategy), patients per strategy)."""
    from ..economics.valuation import VALUE_COLUMNS

    names = [s.name for s in prepared.strategies]
    size = prepared.scenario.cohort.size
    # A capacity scenario's cohort shares the hospital (and with arrivals is not cohort.size): one whole task each.
    block = SUMMARY_TASK if prepared.scenario.capacity is None else size
    tasks = [
        (prepared, r, s, settings, first, min(block, size - first))
        for r in range(prepared.scenario.replications)
        for s in range(len(names))
        for first in range(0, size, block)
    ]
    parts = execution.map(_summary_task, tasks, progress_counter(progress, len(tasks), "patient blocks"))
    sums: dict[tuple[int, int], dict[str, float]] = {}
    counts = dict.fromkeys(names, 0)
    outcomes: dict[str, dict[str, float]] = {}
    for task, part in zip(tasks, parts):  # merged in task order: the same sums whatever ran them
        outcomes[names[task[2]]] = add_sums(outcomes.get(names[task[2]]), part.outcome_sums)
        key = (task[1], task[2])
        total = sums.setdefault(key, {"count": 0, **dict.fromkeys(VALUE_COLUMNS, 0.0)})
        total["count"] += part.count
        for column in VALUE_COLUMNS:
            total[column] += part.value_sums[column]
        counts[names[task[2]]] += part.count
    means = pd.DataFrame(
        [
            {"replication": r, "strategy": names[s], **{c: total[c] / total["count"] for c in VALUE_COLUMNS}}
            for (r, s), total in sums.items()
        ]
    )
    for part in parts:  # one set of categories, so that concatenation keeps the type
        part.patients["strategy"] = part.patients["strategy"].cat.set_categories(names)
    patients = pd.concat([p.patients for p in parts], ignore_index=True)
    for part in parts:  # the pieces are in ``patients`` now: holding both would double the largest table
        part.patients = None
    return patients, outcomes, means, pd.Series(counts)


def capacity_replication(prepared: PreparedScenario, replication: int) -> tuple[pd.DataFrame, pd.DataFrame, CapacityTables]:
    """(events, patients, hospital tables) of one replication of a scenario with a capacity section."""
    from ..capacity.run import CapacityTables

    tables = CapacityTables()
    events, patients = run_replication(prepared, replication, capacity_out=tables)
    return events, patients, tables


def _capacity_task(task: tuple) -> tuple:
    return capacity_replication(*task)


def _run_capacity_prepared(prepared: PreparedScenario, execution: Execution, progress: Progress | None) -> RunResult:
    from ..capacity.run import CapacityTables

    tasks = [(prepared, r) for r in range(prepared.scenario.replications)]
    results = execution.map(_capacity_task, tasks, progress_counter(progress, len(tasks), "replication"))
    capacity = CapacityTables()
    for _, _, tables in results:
        capacity.extend(tables)
    return RunResult(
        events=concat_events([e for e, _, _ in results]),
        patients=pd.concat([p for _, p, _ in results], ignore_index=True),
        capacity=capacity,
    )
