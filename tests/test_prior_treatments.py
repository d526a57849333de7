"""Prior treatments at entry (cohort.prior_treatments, issue 16 item 6): a trial's prior lines, seen by
the strategies' rules and by the somatostatin-analogue rechallenge, without being lines of the model."""

from __future__ import annotations

import pytest

from simulator.config import Scenario
from simulator.errors import ScenarioError
from simulator.experiments.runner import prepare, run_prepared


def scenario(prior: list[str], strategies: list, size: int = 300) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "prior",
            "seed": 5,
            "replications": 1,
            "cohort": {"size": size, "mix": {"grade_g3": 0.0}, "prior_treatments": prior},
            "horizon_months": 120,
            "strategies": strategies,
        }
    )


def patients(prior: list[str], strategies: list):
    return run_prepared(prepare(scenario(prior, strategies), "prior.yaml")).patients.sort_values("patient_id")


def test_an_unknown_prior_treatment_is_refused_with_its_field_and_a_suggestion():
    with pytest.raises(ScenarioError) as error:
        prepare(scenario(["octreotide_lra"], ["systemic-first"]), "prior.yaml")
    message = str(error.value)
    assert "cohort.prior_treatments[0]" in message and "octreotide_lar" in message


def test_rules_see_prior_treatments():
    strategy = [{"name": "after-prrt", "rules": [{"treatment": "everolimus", "when": {"after": ["prrt"]}}, {"treatment": "captem"}]}]
    with_prior = patients(["prrt"], strategy)
    without = patients([], strategy)
    assert set(with_prior["treatment_sequence"].str.split(">").str[0]) == {"everolimus"}
    assert set(without["treatment_sequence"].str.split(">").str[0]) == {"captem"}


def test_an_analogue_after_a_prior_analogue_is_a_rechallenge():
    """Same patients, same draws: the rechallenge's weaker effect (ssa.rechallenge_progression_hazard_ratio
    0.66 against 0.34 for a first analogue) shortens every patient's first-line PFS or leaves it equal."""
    strategy = [{"name": "ssa", "rules": [{"treatment": "octreotide_lar", "max_uses": 1}]}]
    first = patients([], strategy)
    rechallenge = patients(["lanreotide"], strategy)
    both = first["pfs1_event"].to_numpy().astype(bool) & rechallenge["pfs1_event"].to_numpy().astype(bool)
    shorter = rechallenge["pfs1_months"].to_numpy()[both] - first["pfs1_months"].to_numpy()[both]
    assert both.sum() > 100
    assert (shorter <= 1e-9).all() and shorter.mean() < 0
