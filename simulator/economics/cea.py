"""Incremental cost-effectiveness analysis and decision uncertainty.

* ``incremental_analysis``: strategies ordered by cost; strongly dominated ones (another costs no
  more and gives at least as many QALYs) and extendedly dominated ones (their ICER is above that of
  the next more effective strategy) are flagged and left off the efficiency frontier; ICERs along
  the frontier, each against the previous frontier strategy.
* Net monetary benefit NMB = QALYs x willingness to pay - costs; incremental NMB against a comparator.
* ``ceac``: per willingness to pay, the share of PSA draws in which each strategy has the highest
  NMB (ties go to the first strategy, so the shares sum to one).
* ``ceaf``: per willingness to pay, the strategy with the highest expected NMB and its CEAC value.
* ``evpi``: E[max_s NMB_s] - max_s E[NMB_s] per patient; never negative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

FRONTIER = "frontier"
DOMINATED = "dominated"
EXTENDEDLY_DOMINATED = "extendedly_dominated"


def incremental_analysis(strategies: Sequence[str], costs: Sequence[float], qalys: Sequence[float]) -> pd.DataFrame:
    """The ICER table, strategies ordered by cost (ties: more QALYs first, then input order).

    Columns: strategy, costs, qalys, status (frontier | dominated | extendedly_dominated),
    dominated_by (strong dominance: the most effective of the cheaper strategies; extended: the two
    frontier strategies around it), reference (previous frontier strategy), incremental_costs,
    incremental_qalys, icer (against the reference; frontier strategies only).
    """
    names = list(strategies)
    cost = np.asarray(costs, dtype=float)
    effect = np.asarray(qalys, dtype=float)
    if not (len(names) == len(cost) == len(effect)) or not names:
        raise ValueError("one cost and one QALY value per strategy, and at least one strategy")
    if not (np.isfinite(cost).all() and np.isfinite(effect).all()):
        raise ValueError("finite costs and QALYs")
    order = sorted(range(len(names)), key=lambda i: (cost[i], -effect[i], i))
    status = {i: FRONTIER for i in order}
    dominated_by: dict[int, str] = {}

    # Strong dominance: a cheaper-or-equal strategy earlier in the order has at least as many QALYs.
    best = None
    for i in order:
        if best is not None and effect[best] >= effect[i]:
            status[i] = DOMINATED
            dominated_by[i] = names[best]
        elif best is None or effect[i] > effect[best]:
            best = i

    # Extended dominance: along the remaining strategies ICERs must increase.
    frontier = [i for i in order if status[i] == FRONTIER]
    changed = True
    while changed:
        changed = False
        for k in range(1, len(frontier) - 1):
            before, here, after = frontier[k - 1], frontier[k], frontier[k + 1]
            icer_here = (cost[here] - cost[before]) / (effect[here] - effect[before])
            icer_next = (cost[after] - cost[here]) / (effect[after] - effect[here])
            if icer_here > icer_next:
                status[here] = EXTENDEDLY_DOMINATED
                dominated_by[here] = f"{names[before]} + {names[after]}"
                del frontier[k]
                changed = True
                break

    rows = []
    previous = None
    for i in order:
        row = {
            "strategy": names[i],
            "costs": cost[i],
            "qalys": effect[i],
            "status": status[i],
            "dominated_by": dominated_by.get(i, ""),
            "reference": "",
            "incremental_costs": np.nan,
            "incremental_qalys": np.nan,
            "icer": np.nan,
        }
        if status[i] == FRONTIER:
            if previous is not None:
                row["reference"] = names[previous]
                row["incremental_costs"] = cost[i] - cost[previous]
                row["incremental_qalys"] = effect[i] - effect[previous]
                row["icer"] = row["incremental_costs"] / row["incremental_qalys"]
            previous = i
        rows.append(row)
    return pd.DataFrame(rows)


def net_monetary_benefit(costs, qalys, wtp) -> np.ndarray:
    """NMB = QALYs x wtp - costs; the last axis runs over the willingness-to-pay values."""
    c = np.asarray(costs, dtype=float)[..., None]
    e = np.asarray(qalys, dtype=float)[..., None]
    return e * np.asarray(wtp, dtype=float) - c


def default_comparator(strategies: Sequence[str], costs: Sequence[float], qalys: Sequence[float]) -> str:
    """The least costly strategy (ties: more QALYs, then the first listed)."""
    cost, effect = np.asarray(costs, float), np.asarray(qalys, float)
    return list(strategies)[min(range(len(cost)), key=lambda i: (cost[i], -effect[i], i))]


def icer_table(
    strategies: Sequence[str], costs: Sequence[float], qalys: Sequence[float], wtp: Sequence[float], comparator: str | None = None
) -> pd.DataFrame:
    """``incremental_analysis`` plus NMB and incremental NMB against ``comparator`` at each willingness to pay."""
    table = incremental_analysis(strategies, costs, qalys)
    comparator = comparator or default_comparator(strategies, costs, qalys)
    if comparator not in list(strategies):
        raise ValueError(f"comparator {comparator!r} is not one of the strategies")
    base = table.set_index("strategy").loc[comparator]
    table.insert(table.columns.get_loc("icer") + 1, "comparator", comparator)
    for value in wtp:
        label = f"{value:g}"
        table[f"nmb_{label}"] = table["qalys"] * value - table["costs"]
        table[f"inmb_{label}"] = (table["qalys"] - base["qalys"]) * value - (table["costs"] - base["costs"])
    return table


def _nmb_draws(costs: np.ndarray, qalys: np.ndarray, wtp) -> np.ndarray:
    """(draws, strategies, wtp) array of NMB."""
    costs, qalys = np.asarray(costs, dtype=float), np.asarray(qalys, dtype=float)
    if costs.ndim != 2 or costs.shape != qalys.shape or costs.shape[0] == 0:
        raise ValueError("costs and QALYs as (draws, strategies) arrays of the same shape")
    return net_monetary_benefit(costs, qalys, wtp)


def ceac(costs, qalys, wtp) -> np.ndarray:
    """(wtp, strategies): share of draws in which each strategy has the highest NMB."""
    nmb = _nmb_draws(costs, qalys, wtp)
    winners = nmb.argmax(axis=1)  # (draws, wtp): first strategy on ties
    n_strategies = nmb.shape[1]
    counts = np.stack([(winners == s).sum(axis=0) for s in range(n_strategies)], axis=1)
    return counts / nmb.shape[0]


def expected_nmb(costs, qalys, wtp) -> np.ndarray:
    """(wtp, strategies): mean NMB over draws."""
    return _nmb_draws(costs, qalys, wtp).mean(axis=0).T


def ceaf(costs, qalys, wtp) -> tuple[np.ndarray, np.ndarray]:
    """Per willingness to pay: index of the strategy with the highest expected NMB, and its CEAC value."""
    best = expected_nmb(costs, qalys, wtp).argmax(axis=1)
    acceptability = ceac(costs, qalys, wtp)
    return best, acceptability[np.arange(len(best)), best]


def evpi(costs, qalys, wtp) -> np.ndarray:
    """Expected value of perfect information per patient at each willingness to pay (>= 0).

    The mean of the per-draw maximum and the means of the strategies are taken in one reduction,
    so the per-draw maximum (never below any strategy's NMB) sums to no less than any strategy.
    """
    nmb = _nmb_draws(costs, qalys, wtp)  # (draws, strategies, wtp)
    stacked = np.concatenate([nmb, nmb.max(axis=1, keepdims=True)], axis=1)
    means = stacked.mean(axis=0)  # (strategies + 1, wtp)
    return means[-1] - means[:-1].max(axis=0)


def icer_tables(economics: pd.DataFrame, strategies: Sequence[str], wtp: Sequence[float], comparator: str | None = None) -> pd.DataFrame:
    """``icer_table`` of each (subgroup, subgroup_value) block of economics.csv, the overall block first,
    with those two columns in front."""
    parts = []
    for (subgroup, level), block in economics.groupby(["subgroup", "subgroup_value"], sort=False):
        block = block.set_index("strategy").loc[list(strategies)]
        table = icer_table(list(strategies), block["costs"].tolist(), block["qalys"].tolist(), wtp, comparator)
        table.insert(0, "subgroup_value", level)
        table.insert(0, "subgroup", subgroup)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)
