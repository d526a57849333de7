"""EVPPI by regression (issue 17 item 4): the linear-normal case where EVPPI has a closed form, a
parameter the net benefit does not depend on, and the baseline PSA's groups between 0 and the EVPI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.economics.evppi import DRAWS_PER_GROUP_PARAMETER, evppi_table, parameter_group

from .conftest import ROOT

Z = 3.0  # tolerance, in standard errors of the estimate over independent replicate samples
# Incremental net benefit of strategy B over A at a willingness to pay of 1: A + B_THETA theta + C_PHI phi,
# theta and phi independent standard normals. EVPPI(theta) = E[max(0, A + B theta)] - max(0, A).
A, B_THETA, C_PHI = 200.0, 1000.0, 1500.0
REPLICATES = 12
DRAWS = 1000


def expected_positive_part(mean: float, sd: float) -> float:
    """E[max(0, X)] for X ~ N(mean, sd^2)."""
    return mean * norm.cdf(mean / sd) + sd * norm.pdf(mean / sd)


def linear_normal_case(seed: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    theta, phi, unrelated = rng.normal(size=DRAWS), rng.normal(size=DRAWS), rng.normal(size=DRAWS)
    qalys = np.column_stack([np.zeros(DRAWS), A + B_THETA * theta + C_PHI * phi])
    parameters = pd.DataFrame({"cost.theta": theta, "cost.phi": phi, "utility.unrelated": unrelated})
    return np.zeros((DRAWS, 2)), qalys, parameters


@pytest.fixture(scope="module")
def replicate_tables() -> list[pd.DataFrame]:
    return [evppi_table(*linear_normal_case(seed), [1.0], 1.0).set_index("name") for seed in range(REPLICATES)]


def _mean_and_se(tables: list[pd.DataFrame], name: str) -> tuple[float, float]:
    values = np.array([t.at[name, "evppi_per_patient"] for t in tables])
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def test_one_parameter_matches_the_closed_form(replicate_tables):
    for name, slope in (("cost.theta", B_THETA), ("cost.phi", C_PHI)):
        exact = expected_positive_part(A, slope) - A
        mean, se = _mean_and_se(replicate_tables, name)
        assert abs(mean - exact) < Z * se, (name, mean, exact, se)


def test_a_group_of_every_parameter_matches_the_closed_form_evpi(replicate_tables):
    """The group {theta, phi} (with an unrelated draw beside them) explains all of the net benefit, so
    its EVPPI is the EVPI: E[max(0, A + sqrt(B^2 + C^2) Z)] - A."""
    exact = expected_positive_part(A, math.hypot(B_THETA, C_PHI)) - A
    mean, se = _mean_and_se(replicate_tables, "costs")
    assert abs(mean - exact) < Z * se, (mean, exact, se)
    assert replicate_tables[0].at["costs", "parameters"] == 2


def test_a_parameter_the_net_benefit_ignores_has_an_evppi_near_zero(replicate_tables):
    for table in replicate_tables:
        unrelated = table.loc["utility.unrelated"]
        assert 0 <= unrelated["evppi_per_patient"] < Z * unrelated["evppi_se"] + 1e-9 * table.at["cost.theta", "evppi_per_patient"]
        # And far below what the parameters that matter are worth.
        assert unrelated["evppi_per_patient"] < table.at["cost.theta", "evppi_per_patient"] / 10


def test_groups_follow_the_parameter_names():
    assert parameter_group("lanreotide.progression_hazard_ratio") == "drug effects"
    assert parameter_group("natural_history.time_to_progression.median") == "natural history"
    assert parameter_group("hepatectomy.perioperative_mortality") == "surgery and local therapy"
    assert parameter_group("cohort.primary_pancreas") == "population"
    assert parameter_group("cost.end_of_life") == "costs"
    assert parameter_group("utility.progressed") == "utilities"


def test_too_few_draws_for_a_group_are_said_not_guessed():
    costs, qalys, parameters = linear_normal_case(0)
    wide = pd.concat([parameters] + [parameters[["utility.unrelated"]].add_suffix(f"_{k}") for k in range(5)], axis=1)
    draws = DRAWS_PER_GROUP_PARAMETER * 4  # enough for 'costs' (2 parameters), not for 'utilities' (6)
    table = evppi_table(costs[:draws], qalys[:draws], wide.iloc[:draws], [1.0], 1.0).set_index("name")
    assert np.isnan(table.at["utilities", "evppi_per_patient"]) and "not estimated" in table.at["utilities", "note"]
    assert table.at["costs", "evppi_per_patient"] > 0


@pytest.mark.slow
def test_baseline_psa_writes_evppi_with_every_group_between_zero_and_the_evpi(tmp_path):
    """Criterion 4 on the baseline scenario: evppi.csv and its figure; each group that has enough draws
    for its regression lies between 0 and the EVPI within 3 of its standard errors."""
    out = tmp_path / "psa"
    args = ["psa", str(ROOT / "scenarios" / "baseline.yaml"), "--draws", "300", "--patients", "10", "--out", str(out), "--quiet"]
    assert main(args) == 0
    table = read_csv(out / "evppi.csv")
    assert (out / "figures" / "evppi.png").is_file()
    evpi = read_csv(out / "evpi.csv").set_index("wtp")
    groups = table[(table["kind"] == "group") & table["evppi_per_patient"].notna()]
    assert len(groups) >= 3  # with 300 draws: natural history, population, drug effects, costs (10 draws per parameter)
    for row in groups.itertuples():
        assert row.evppi_per_patient >= 0
        assert row.evppi_per_patient <= evpi.at[row.wtp, "evpi_per_patient"] + Z * row.evppi_se, row
    parameters = table[table["kind"] == "parameter"]
    assert (parameters["evppi_per_patient"] >= 0).all()
    assert (table["evppi_population"].dropna() >= 0).all()


def test_a_group_of_many_parameters_does_not_fit_the_draws_noise():
    """Net benefit that is pure first-order noise, shared by the strategies through the comparator (as
    common random numbers make it), and 25 parameters it ignores: the group's EVPPI is near 0, far below
    the EVPI. A GP that reproduces each draw (in many dimensions a short length scale acts as white noise)
    gave EVPPI = EVPI here."""
    rng = np.random.default_rng(11)
    draws, strategies = 300, 4
    shared = rng.normal(size=(draws, 1))
    qalys = 0.1 * (shared + rng.normal(size=(draws, strategies)))
    costs = 1000.0 * (shared + rng.normal(size=(draws, strategies)))
    parameters = pd.DataFrame({f"cost.p{k}": rng.normal(size=draws) for k in range(25)})
    table = evppi_table(costs, qalys, parameters, [20_000.0], 1.0).set_index("name")
    group, evpi = table.loc["costs"], table.at["costs", "evpi_per_patient"]
    # What is left is the linear mean's sampling error: fitted to noise with p + 1 coefficients on n draws
    # its values spread about sqrt((p + 1) / n) as much as the noise, and so does the EVPPI it gives.
    allowed = 1.5 * math.sqrt((parameters.shape[1] + 1) / draws) * evpi
    assert group["evppi_per_patient"] < allowed, (group["evppi_per_patient"], allowed, evpi)
