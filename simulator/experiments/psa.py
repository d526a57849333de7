"""Probabilistic sensitivity analysis: one simulated cohort per parameter draw, every strategy.

Draw d (1, 2, ...; 0 is the deterministic base case) draws every parameter that has a ``psa:``
field (``economics.sampling.draw_parameters``), builds a cohort of ``patients`` patients from
``RandomStreams(seed, 0, d)``, runs every strategy on it with common random numbers and values the
event log. A draw depends only on the scenario seed and its index, so the draws can be spread over
worker processes; results are merged in draw order, which makes the outputs identical whatever the
number of workers.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import pandas as pd

from ..economics.sampling import draw_parameters
from ..economics.settings import EconomicSettings
from ..economics.valuation import VALUE_COLUMNS, value_patients
from .runner import PreparedScenario, run_replication

PSA_REPLICATION = 0
FIRST_DRAW = 1  # draw 0 is the base case
TASKS_PER_WORKER = 8  # chunks per worker: small enough to balance, large enough to amortise pickling


@dataclass
class PSAResult:
    outcomes: pd.DataFrame  # long: draw, strategy, value columns (mean per patient)
    parameters: pd.DataFrame  # draw, one column per drawn parameter
    strategies: list[str]
    patients: int


def run_draw(prepared: PreparedScenario, draw: int, patients: int, settings: EconomicSettings) -> tuple[list[dict], dict[str, float]]:
    """Mean costs, QALYs and life-years per patient of every strategy in one draw, and the drawn values."""
    params, drawn = draw_parameters(prepared.params, prepared.scenario.seed, draw)
    drawn_scenario = replace(prepared, params=params, scenario=prepared.scenario.with_overrides(patients=patients))
    events, patient_table = run_replication(drawn_scenario, PSA_REPLICATION, draw=draw)
    per_patient = value_patients(events, patient_table, params, settings)
    means = per_patient.groupby("strategy", sort=False)[list(VALUE_COLUMNS)].mean()
    outcome = [{"draw": draw, "strategy": s.name, **{c: float(means.at[s.name, c]) for c in VALUE_COLUMNS}} for s in prepared.strategies]
    return outcome, {"draw": draw, **drawn}


_WORKER_STATE: dict = {}


def _init_worker(prepared: PreparedScenario, patients: int, settings: EconomicSettings) -> None:
    _WORKER_STATE.update(prepared=prepared, patients=patients, settings=settings)


def _worker_draw(draw: int):
    state = _WORKER_STATE
    return run_draw(state["prepared"], draw, state["patients"], state["settings"])


def run_psa(prepared: PreparedScenario, draws: int, patients: int, workers: int = 1, settings: EconomicSettings | None = None) -> PSAResult:
    settings = settings or EconomicSettings.from_scenario(prepared.scenario)
    indices = list(range(FIRST_DRAW, FIRST_DRAW + draws))
    if workers <= 1 or draws <= 1:
        results = [run_draw(prepared, d, patients, settings) for d in indices]
    else:
        chunk = max(1, draws // (workers * TASKS_PER_WORKER))
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(prepared, patients, settings)) as pool:
            results = list(pool.map(_worker_draw, indices, chunksize=chunk))
    outcomes = pd.DataFrame([row for rows, _ in results for row in rows])
    parameters = pd.DataFrame([drawn for _, drawn in results])
    return PSAResult(outcomes, parameters, [s.name for s in prepared.strategies], patients)


def draws_matrix(outcomes: pd.DataFrame, strategies: list[str], column: str) -> pd.DataFrame:
    """(draws x strategies) table of one value column."""
    return outcomes.pivot(index="draw", columns="strategy", values=column)[strategies]
