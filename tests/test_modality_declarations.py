"""Adding a treatment is one module plus data entries: a throw-away modality declared in this test only
(with test-only parameter entries) queues for its declared resources in a capacity run and is costed from
its declared cost items; a modality with a missing declaration fails when the model is built."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator

import pytest

from simulator.config import EconomicsConfig, Scenario
from simulator.core.events import procedure_detail
from simulator.economics.settings import EconomicSettings
from simulator.economics.valuation import ValuationInputs, value_patients
from simulator.errors import ModalityDeclarationError
from simulator.experiments.runner import prepare, run_prepared
from simulator.params.parameter_set import ParameterSet
from simulator.params.schema import ParameterEntry
from simulator.pathways import MODALITIES, CostItems, Modality
from simulator.pathways.base import DAYS_PER_MONTH

from .conftest import tiny_scenario

SHAM_COST = 1234.5


class ShamEmbolisation(Modality):
    """A throw-away procedure: one session in the IR suite, a bed for its stay, then natural history."""

    name = "sham"
    label = "Sham embolisation (test only)"
    kind = "procedure"
    state = "liver_directed"
    resource = "ir_suite"
    needs_bed = True
    session_minutes = "sham.suite_minutes"
    records_procedures = True
    costs = CostItems.procedure("sham")

    def deliver(self, course) -> Generator:
        started = self.begin(course)
        stay = course.params.value("sham.length_of_stay_days")
        course.procedure(self.name, procedure_detail(self.name, los_days=stay))
        if not (yield from course.wait(stay / DAYS_PER_MONTH)):
            return
        ttp = self.time_to_progression(course, course.model.natural_history_parameter(course.patient))
        yield from self.run_until_progression(course, max(started + ttp - course.env.now, 0.0))


class Undeclared(ShamEmbolisation):
    """A procedure that forgot to say which hospital resource its sessions use."""

    name = "undeclared"
    resource = None


TEST_ENTRIES = {
    "sham.suite_minutes": {"value": 90, "unit": "minutes"},
    "sham.length_of_stay_days": {"value": 2, "unit": "days"},
    "cost.sham_procedure": {"value": SHAM_COST, "unit": "gbp", "price_year": 2024},
    "utility.recovery_decrement_sham": {"value": 0.05, "unit": "utility"},
    "utility.recovery_days_sham": {"value": 7, "unit": "days"},
}


def with_entries(params: ParameterSet, entries: dict[str, dict]) -> ParameterSet:
    added = {name: ParameterEntry.model_validate({**data, "assumption": "test-only entry"}) for name, data in entries.items()}
    return ParameterSet({**params.entries, **added}, {**params.origins, **dict.fromkeys(added, "test")})


def scenario_using(treatment: str) -> Scenario:
    strategy = {"name": f"{treatment}-first", "rules": [{"treatment": treatment, "max_uses": 1}, {"treatment": "best_supportive_care"}]}
    capacity = {"resources": {"ir_suite": {"capacity": 1}, "beds": {"capacity": 2}}}
    return Scenario.model_validate(tiny_scenario(cohort={"size": 40}, strategies=[strategy], capacity=capacity))


@pytest.fixture
def sham(monkeypatch):
    modality = ShamEmbolisation()
    monkeypatch.setitem(MODALITIES, modality.name, modality)
    return modality


def test_a_treatment_declared_only_here_queues_for_its_resources_and_is_costed_from_its_items(sham):
    prepared = prepare(scenario_using("sham"), "test.yaml")
    prepared = dataclasses.replace(prepared, params=with_entries(prepared.params, TEST_ENTRIES))
    result = run_prepared(prepared)

    waits = result.capacity.frame("waits")
    sham_waits = waits[waits["treatment"] == "sham"]
    assert set(sham_waits["resource"]) == {"ir_suite", "beds"}
    assert (sham_waits["outcome"] == "served").sum() > 0
    sessions = int(result.patients["n_sham"].sum())
    assert sessions > 0

    settings = EconomicSettings.from_config(EconomicsConfig(discount_rate_costs=0.0, discount_rate_effects=0.0))
    inputs = ValuationInputs.from_parameters(prepared.params)
    assert inputs.procedure_fixed["sham"] == SHAM_COST
    assert inputs.recovery_months["sham"] == pytest.approx(7 / DAYS_PER_MONTH)
    dearer = with_entries(prepared.params, {"cost.sham_procedure": {"value": SHAM_COST + 1000, "unit": "gbp", "price_year": 2024}})
    base = value_patients(result.events, result.patients, inputs, settings)
    more = value_patients(result.events, result.patients, dearer, settings)
    assert (more["costs_undiscounted"] - base["costs_undiscounted"]).sum() == pytest.approx(1000 * sessions)


def test_a_procedure_without_a_resource_fails_when_the_model_is_built(monkeypatch):
    modality = Undeclared()
    monkeypatch.setitem(MODALITIES, modality.name, modality)
    prepared = prepare(scenario_using("undeclared"), "test.yaml")
    with pytest.raises(ModalityDeclarationError, match=r"'undeclared' .* must declare resource, the hospital resource"):
        run_prepared(prepared)


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"resource": "ir_suit"}, "resource, one of"),
        ({"session_minutes": None}, "session_minutes"),
        ({"costs": CostItems()}, "costs.per_session"),
        ({"kind": "surgery"}, "kind, one of"),
    ],
)
def test_every_missing_declaration_is_named(changes, expected):
    modality = ShamEmbolisation()
    for name, value in changes.items():
        setattr(modality, name, value)
    assert any(expected in problem for problem in modality.declaration_problems())


def test_the_bundled_treatments_are_completely_declared():
    for modality in MODALITIES.values():
        assert modality.declaration_problems() == [], modality.name
