"""The direct scheduler (each patient on its own clock) against SimPy's event queue.

Patients share nothing in a cohort run, so running each one's process to the end before the next
must give exactly what SimPy's interleaving gives: same patient table, same per-patient histories.
"""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.config import Scenario
from simulator.core.rng import RandomStreams
from simulator.engine.cohort import build_cohort
from simulator.engine.model import PathwayModel
from simulator.experiments.runner import patient_table, prepare

from .conftest import tiny_scenario
from .test_pathways import ALL_TREATMENTS_RULES


def _run(scheduler: str, prepared, strategy) -> tuple[pd.DataFrame, pd.DataFrame]:
    scenario = prepared.scenario
    streams = RandomStreams(scenario.seed, 0)
    cohort = build_cohort(prepared.params, streams, scenario.cohort.size, scenario.cohort.age)
    model = PathwayModel(prepared.params, strategy, cohort, scenario.horizon_months, streams, 0, scheduler=scheduler).run()
    events = model.log.to_frame().sort_values(["patient_id"], kind="stable", ignore_index=True)
    return events, patient_table(model, 0)


@pytest.mark.parametrize("strategy_index", range(4))
def test_direct_and_simpy_schedulers_give_identical_histories(strategy_index):
    strategies = [
        {"name": "everything", "telotristat": True, "rules": ALL_TREATMENTS_RULES},
        "surgery-first",
        "guideline",
        "watch-and-wait",
    ]
    data = tiny_scenario(seed=11, cohort={"size": 400}, horizon_months=240, strategies=strategies)
    prepared = prepare(Scenario.model_validate(data), "test.yaml")
    strategy = prepared.strategies[strategy_index]
    direct_events, direct_patients = _run("direct", prepared, strategy)
    simpy_events, simpy_patients = _run("simpy", prepared, strategy)
    assert len(direct_events) > 4 * len(direct_patients)  # histories with substance, not only entry and death
    pd.testing.assert_frame_equal(direct_patients, simpy_patients)
    pd.testing.assert_frame_equal(direct_events, simpy_events)


def test_the_simpy_scheduler_interleaves_patients_in_time_order():
    data = tiny_scenario(seed=5, cohort={"size": 50}, strategies=["guideline"])
    prepared = prepare(Scenario.model_validate(data), "test.yaml")
    events, _ = _run("simpy", prepared, prepared.strategies[0])
    scenario = prepared.scenario
    streams = RandomStreams(scenario.seed, 0)
    cohort = build_cohort(prepared.params, streams, scenario.cohort.size, scenario.cohort.age)
    model = PathwayModel(prepared.params, prepared.strategies[0], cohort, scenario.horizon_months, streams, 0, scheduler="simpy").run()
    times = model.log.to_frame()["time"]
    assert times.is_monotonic_increasing and events["patient_id"].nunique() == 50


def test_unknown_scheduler_is_refused():
    data = tiny_scenario()
    prepared = prepare(Scenario.model_validate(data), "test.yaml")
    with pytest.raises(ValueError, match="scheduler"):
        PathwayModel(prepared.params, prepared.strategies[0], [], 12, RandomStreams(1, 0), 0, scheduler="fast")
