"""Incremental analysis, dominance, net monetary benefit, CEAC, CEAF and EVPI on hand-built inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.economics import cea

Z = 4.0  # tolerance of statistical checks, in standard errors

# Five strategies with a known frontier A -> B -> D (ICERs 20,000 and 40,000):
# C is extendedly dominated (its ICER vs B, 100,000, exceeds D's vs C, 25,000);
# E is strongly dominated by B and C (each costs less and gives more QALYs).
FIVE = {
    "D": (30_000.0, 2.0),
    "E": (25_000.0, 1.4),
    "A": (0.0, 1.0),
    "C": (20_000.0, 1.6),
    "B": (10_000.0, 1.5),
}


def five_table():
    names = list(FIVE)
    return cea.incremental_analysis(names, [FIVE[n][0] for n in names], [FIVE[n][1] for n in names]).set_index("strategy")


def test_known_frontier_with_strong_and_extended_dominance():
    table = five_table()
    assert table.index.tolist() == ["A", "B", "C", "E", "D"]  # ordered by cost
    assert table["status"].to_dict() == {
        "A": cea.FRONTIER,
        "B": cea.FRONTIER,
        "C": cea.EXTENDEDLY_DOMINATED,
        "E": cea.DOMINATED,
        "D": cea.FRONTIER,
    }
    assert table.at["E", "dominated_by"] == "C"  # the most effective of the cheaper strategies (B dominates it too)
    assert table.at["C", "dominated_by"] == "B + D"
    assert math.isnan(table.at["A", "icer"])
    assert table.at["B", "reference"] == "A" and table.at["B", "icer"] == pytest.approx(20_000)
    assert table.at["D", "reference"] == "B" and table.at["D", "icer"] == pytest.approx(40_000)
    assert table.loc[["C", "E"], "icer"].isna().all()


def test_frontier_does_not_depend_on_input_order():
    base = five_table()["status"]
    rng = np.random.default_rng(5)
    for _ in range(5):
        names = list(rng.permutation(list(FIVE)))
        table = cea.incremental_analysis(names, [FIVE[n][0] for n in names], [FIVE[n][1] for n in names])
        assert table.set_index("strategy")["status"].to_dict() == base.to_dict()


def test_ties_identical_and_equal_cost_strategies():
    table = cea.incremental_analysis(["X", "Y", "Z"], [100.0, 100.0, 100.0], [1.0, 1.0, 2.0]).set_index("strategy")
    assert table.at["Z", "status"] == cea.FRONTIER
    assert table.at["X", "status"] == table.at["Y", "status"] == cea.DOMINATED
    single = cea.incremental_analysis(["only"], [5.0], [1.0])
    assert single["status"].tolist() == [cea.FRONTIER] and single["icer"].isna().all()
    with pytest.raises(ValueError):
        cea.incremental_analysis(["a", "b"], [1.0], [1.0, 2.0])


def test_icer_table_net_monetary_benefit_against_comparator():
    names = list(FIVE)
    table = cea.icer_table(names, [FIVE[n][0] for n in names], [FIVE[n][1] for n in names], [20_000, 30_000], comparator="A").set_index(
        "strategy"
    )
    for name, (cost, qaly) in FIVE.items():
        assert table.at[name, "nmb_20000"] == pytest.approx(qaly * 20_000 - cost)
        assert table.at[name, "inmb_30000"] == pytest.approx((qaly - 1.0) * 30_000 - cost)
    assert table.at["A", "inmb_20000"] == 0
    # At the frontier ICER of B (20,000) B and A have equal NMB.
    assert table.at["B", "inmb_20000"] == pytest.approx(0.0, abs=1e-9)
    assert cea.default_comparator(names, [FIVE[n][0] for n in names], [FIVE[n][1] for n in names]) == "A"


def random_draws(seed=11, draws=400, strategies=4):
    rng = np.random.default_rng(seed)
    costs = rng.normal(20_000, 6_000, (draws, strategies)) + np.arange(strategies) * 3_000
    qalys = rng.normal(2.0, 0.3, (draws, strategies)) + np.arange(strategies) * 0.1
    return costs, qalys


def test_ceac_sums_to_one_at_every_willingness_to_pay():
    costs, qalys = random_draws()
    grid = np.linspace(0, 200_000, 41)
    acceptability = cea.ceac(costs, qalys, grid)
    assert acceptability.shape == (41, 4)
    np.testing.assert_allclose(acceptability.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert ((acceptability >= 0) & (acceptability <= 1)).all()
    # Ties count for the first strategy only, so the shares still sum to one.
    tied = cea.ceac(np.zeros((10, 3)), np.ones((10, 3)), [0.0, 1.0])
    assert tied.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]


def test_ceaf_is_the_strategy_with_the_highest_expected_nmb():
    costs, qalys = random_draws()
    grid = [0.0, 20_000.0, 50_000.0, 150_000.0]
    best, probability = cea.ceaf(costs, qalys, grid)
    expected = (qalys.mean(axis=0)[None, :] * np.array(grid)[:, None]) - costs.mean(axis=0)[None, :]
    assert best.tolist() == expected.argmax(axis=1).tolist()
    np.testing.assert_allclose(probability, cea.ceac(costs, qalys, grid)[np.arange(4), best])
    assert best[0] == costs.mean(axis=0).argmin()  # at zero willingness to pay: the cheapest


def test_evpi_non_negative():
    for seed in range(5):
        costs, qalys = random_draws(seed)
        values = cea.evpi(costs, qalys, np.linspace(0, 300_000, 61))
        assert (values >= 0).all()


def test_evpi_zero_when_one_strategy_wins_every_draw():
    costs, qalys = random_draws()
    costs[:, 2] = costs.min(axis=1) - 1.0  # cheapest in every draw...
    qalys[:, 2] = qalys.max(axis=1) + 0.01  # ...and most effective: the best at any willingness to pay
    grid = np.linspace(0, 300_000, 61)
    assert (cea.evpi(costs, qalys, grid) == 0).all()
    assert (cea.ceac(costs, qalys, grid)[:, 2] == 1).all()


def test_evpi_of_two_strategies_matches_the_normal_closed_form():
    """NMB_A = 0, NMB_B = X ~ N(mu, sigma): EVPI = E[max(0, X)] - max(0, mu)."""
    rng = np.random.default_rng(2024)
    n, mu, sigma, wtp = 50_000, 500.0, 2_000.0, 1.0
    x = rng.normal(mu, sigma, n)
    costs = np.column_stack([np.zeros(n), -x])  # NMB_B = 0 x wtp - (-x) = x
    qalys = np.zeros((n, 2))
    closed = sigma * stats.norm.pdf(mu / sigma) + mu * stats.norm.cdf(mu / sigma) - max(0.0, mu)
    estimate = cea.evpi(costs, qalys, [wtp])[0]
    se = np.maximum(x, 0).std(ddof=1) / math.sqrt(n) + x.std(ddof=1) / math.sqrt(n)
    assert abs(estimate - closed) < Z * se
