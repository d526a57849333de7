"""A somatostatin analogue continued through later lines for a hormonal syndrome (issue 16 item 8,
`ssa.continued_in_functional_disease`): who keeps it, what it costs, and that it changes no survival."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.config import Scenario
from simulator.core.events import continued_detail
from simulator.economics.settings import EconomicSettings
from simulator.economics.valuation import ValuationInputs, value_patients
from simulator.experiments.runner import prepare, run_prepared
from simulator.params.parameter_set import build_parameter_set
from simulator.pathways.states import transition_allowed

from .test_economics_valuation import CYCLE, ZERO_COSTS, build_log, settings

# Octreotide first, then everolimus, then a second analogue: telotristat off, so that only the
# continuation differs between the two settings compared.
SEQUENCE = {
    "name": "ssa-then-everolimus",
    "telotristat": False,
    "rules": [
        {"treatment": "octreotide_lar", "max_uses": 1},
        {"treatment": "everolimus", "max_uses": 1},
        {"treatment": "lanreotide", "max_uses": 1},
    ],
}


def run(continued: int, functional: float = 0.5, size: int = 600):
    scenario = Scenario.model_validate(
        {
            "name": "ssa-continuation",
            "seed": 8,
            "replications": 1,
            "cohort": {"size": size, "mix": {"functional": functional, "grade_g3": 0.0}},
            "horizon_months": 240.0,
            "strategies": [SEQUENCE],
            "parameters": {"ssa.continued_in_functional_disease": continued},
        }
    )
    prepared = prepare(scenario, "ssa-continuation.yaml")
    result = run_prepared(prepared)
    return result, prepared.params, EconomicSettings.from_scenario(scenario)


@pytest.fixture(scope="module")
def both():
    return run(1), run(0)


def continuations(events):
    return events[(events["event"].astype(str) == "treatment_start") & (events["detail"].astype(str) == continued_detail("octreotide_lar"))]


def test_functional_patients_who_progress_on_an_analogue_keep_it_and_no_one_else_does(both):
    (on, _, _), (off, _, _) = both
    events, patients = on.events, on.patients.set_index("patient_id")
    kept = continuations(events)
    progressed_on_ssa = events[(events["event"].astype(str) == "progression") & (events["detail"].astype(str) == "octreotide_lar")]
    functional = set(patients.index[patients["functional"].astype(bool)])
    assert len(kept) > 50
    assert set(kept["patient_id"]) == set(progressed_on_ssa["patient_id"]) & functional  # once each, functional only
    assert kept["patient_id"].is_unique
    assert continuations(off.events).empty
    for row in events.itertuples():
        assert transition_allowed(str(row.event), str(row.from_state), str(row.to_state), str(row.detail)), row


def test_continuing_the_analogue_changes_no_ones_survival(both):
    """Common random numbers: the same patients, the same draws; the continuation acts on symptoms,
    costs and visits only, so every patient's survival is the same to the last digit."""
    (on, _, _), (off, _, _) = both
    a, b = (r.patients.sort_values("patient_id") for r in (on, off))
    assert np.array_equal(a["os_months"].to_numpy(), b["os_months"].to_numpy())
    assert np.array_equal(a["death"].to_numpy(), b["death"].to_numpy())


def test_the_continued_analogue_is_paid_from_progression_to_death_beside_later_lines(both):
    """Against the setting without it, each patient who keeps the analogue pays, undiscounted, the
    analogue's cycles started from the continuation to the end of follow-up, less those inside the
    second analogue's line (priced as that line); everyone else pays the same."""
    (on, params, economic), (off, _, _) = both
    with_it = value_patients(on.events, on.patients, params, economic).set_index("patient_id")["costs_undiscounted"]
    without = value_patients(off.events, off.patients, params, economic).set_index("patient_id")["costs_undiscounted"]
    price = ValuationInputs.from_parameters(params, economic).drug_per_cycle["on_octreotide_lar"]  # in the settings' price year
    events = on.events.sort_values(["patient_id", "time"], kind="stable")
    kept = continuations(events)
    for pid, group in events[events["patient_id"].isin(kept["patient_id"])].groupby("patient_id"):
        begin = float(kept.loc[kept["patient_id"] == pid, "time"].iloc[0])
        end = float(group["time"].max())
        states = group[["time", "to_state"]].to_numpy()
        cycles, run_start, in_run = 0, begin, True
        for time, state in states[states[:, 0].astype(float) >= begin]:
            if state == "on_lanreotide" and in_run:
                cycles += int(np.ceil((float(time) - run_start) / CYCLE - 1e-12))
                in_run = False
            elif state != "on_lanreotide" and not in_run:
                run_start, in_run = float(time), True
        if in_run:
            cycles += int(np.ceil((end - run_start) / CYCLE - 1e-12))
        assert with_it[pid] - without[pid] == pytest.approx(cycles * price, rel=1e-9), pid
    others = with_it.index.difference(kept["patient_id"])
    assert np.allclose(with_it[others], without[others], rtol=1e-12)


def test_continued_analogue_priced_per_cycle_around_a_second_analogue_line():
    """A closed form on a hand-built log: octreotide for 3.5 cycles, continued through everolimus
    (4 cycles) and after a lanreotide line (2 cycles) until death 2.2 cycles later."""
    c = CYCLE
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "on_octreotide_lar", "octreotide_lar"),
        (3.5 * c, "progression", "progressed", "octreotide_lar"),
        (3.5 * c, "treatment_start", "progressed", continued_detail("octreotide_lar")),
        (3.5 * c, "treatment_start", "on_everolimus", "everolimus"),
        (7.5 * c, "progression", "progressed", "everolimus"),
        (7.5 * c, "treatment_start", "on_lanreotide", "lanreotide"),
        (9.5 * c, "progression", "progressed", "lanreotide"),
        (9.5 * c, "treatment_start", "best_supportive_care", "best_supportive_care"),
        (11.7 * c, "death", "dead", "disease"),
    ]
    log, table = build_log([events], functional=[True])
    p = build_parameter_set(
        {
            **ZERO_COSTS,
            "cost.octreotide_lar_per_28_days": 1000,
            "cost.lanreotide_per_28_days": 100_000,
            "cost.everolimus_per_28_days": 0,
            "cost.ssa_administration_per_injection": 0,
        }
    )
    out = value_patients(log, table, p, settings(0.0))
    # octreotide's own line: 4 cycles; continued: 4 beside everolimus and 3 after lanreotide; lanreotide: 2
    assert out["costs"].iloc[0] == pytest.approx(11 * 1000 + 2 * 100_000, rel=1e-12)


def test_the_continued_analogue_keeps_its_injection_visits_in_the_day_unit():
    """Capacity runs: the day unit sees the continued analogue's injections after the line that started
    them (about twice the visits when every patient is functional); with no functional patient,
    the setting changes nothing."""
    from .test_capacity_model import run_capacity

    def day_unit_visits(continued: int, functional: float) -> int:
        result = run_capacity(
            strategies=[SEQUENCE],
            cohort={"size": 60, "mix": {"functional": functional, "grade_g3": 0.0}},
            parameters={"ssa.continued_in_functional_disease": continued},
        )
        waits = result.capacity.frame("waits")
        return int((waits["resource"] == "day_unit").sum())

    assert day_unit_visits(1, 1.0) > day_unit_visits(0, 1.0)
    assert day_unit_visits(1, 0.0) == day_unit_visits(0, 0.0)
