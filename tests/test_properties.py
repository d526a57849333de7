"""Property tests: random cohorts and random strategies; every patient's history obeys the invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.api import run_scenario
from simulator.config import Scenario
from simulator.pathways import MODALITIES
from simulator.pathways.states import transition_allowed

TREATMENTS = sorted(MODALITIES)

conditions = st.fixed_dictionaries(
    {},
    optional={
        "primary_site": st.lists(st.sampled_from(["small_bowel", "pancreas", "other"]), min_size=1, max_size=3, unique=True),
        "grade": st.lists(st.sampled_from(["G1", "G2", "G3"]), min_size=1, max_size=3, unique=True),
        "functional": st.booleans(),
        "extrahepatic": st.booleans(),
        "resectable": st.booleans(),
        "symptoms_uncontrolled": st.booleans(),
        "min_line": st.integers(1, 4),
        "after": st.lists(st.sampled_from(TREATMENTS), max_size=2, unique=True),
        "not_after": st.lists(st.sampled_from(TREATMENTS), max_size=2, unique=True),
        "progressed_on": st.lists(st.sampled_from(TREATMENTS), min_size=1, max_size=2, unique=True),
        "min_months": st.floats(0, 60),
    },
)
rules = st.lists(
    st.fixed_dictionaries({"treatment": st.sampled_from(TREATMENTS)}, optional={"when": conditions, "max_uses": st.integers(1, 3)}),
    min_size=1,
    max_size=6,
)
mixes = st.fixed_dictionaries(
    {},
    optional={
        "functional": st.floats(0, 1),
        "extrahepatic": st.floats(0, 1),
        "ssr_positive": st.floats(0, 1),
        "primary_pancreas": st.floats(0, 0.5),
        "resectable_lt25": st.floats(0, 1),
        "grade_g3": st.floats(0, 0.5),
    },
)


def check_invariants(result, horizon):
    events = result.events
    patients = result.patients
    for (strategy, patient_id), history in events.groupby(["strategy", "patient_id"], sort=False):
        times = history["time"].to_numpy()
        assert (times[1:] >= times[:-1]).all(), "time went backwards"
        kinds = history["event"].astype(str).to_list()
        assert kinds[0] == "entry"
        assert kinds.count("death") + kinds.count("censored") == 1
        assert kinds[-1] in ("death", "censored")
        assert times[-1] <= horizon + 1e-9
        for event, source, target, detail in zip(kinds, history["from_state"], history["to_state"], history["detail"]):
            assert transition_allowed(event, source, target, detail), (strategy, patient_id, event, source, target, detail)
        if kinds[-1] == "death":
            assert history["detail"].iloc[-1] in ("disease", "treatment", "other")
    assert ((patients["death"] == 1) == (patients["death_cause"] != "")).all()
    functional = patients[patients["functional"]]
    assert (functional["months_uncontrolled"] <= functional["os_months"] + 1e-9).all()
    assert (patients["os_months"] <= horizon + 1e-9).all() and (patients["os_months"] >= 0).all()
    assert (patients["pfs1_months"] <= patients["os_months"] + 1e-9).all()


def check_random_scenario(seed, strategy_rules, mix, horizon, telotristat, size):
    strategies = [{"name": f"s{i}", "rules": r, "telotristat": telotristat} for i, r in enumerate(strategy_rules)]
    scenario = Scenario.model_validate(
        {"name": "prop", "seed": seed, "cohort": {"size": size, "mix": mix}, "horizon_months": horizon, "strategies": strategies}
    )
    check_invariants(run_scenario(scenario).result, horizon)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    strategy_rules=st.lists(rules, min_size=1, max_size=3),
    mix=mixes,
    horizon=st.floats(1, 360),
    telotristat=st.booleans(),
)
def test_random_cohorts_and_strategies_keep_the_invariants(seed, strategy_rules, mix, horizon, telotristat):
    check_random_scenario(seed, strategy_rules, mix, horizon, telotristat, size=25)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    strategy_rules=st.lists(rules, min_size=1, max_size=3),
    mix=mixes,
    horizon=st.floats(1, 600),
)
def test_invariants_many_scenarios(seed, strategy_rules, mix, horizon):
    check_random_scenario(seed, strategy_rules, mix, horizon, telotristat=True, size=15)
    assert math.isfinite(horizon)
