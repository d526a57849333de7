"""Each outcome metric is declared once (simulator/outcomes/metrics.py) and every table reads it."""

from __future__ import annotations

import math

import pytest

from simulator.config import Scenario
from simulator.experiments.runner import prepare, run_prepared
from simulator.outcomes.metrics import HEADLINE_METRICS, METRICS, RUN_SUMMARY_METRICS, metric_info, replication_metrics
from simulator.outcomes.summary import add_sums, outcome_sums, summary_table

from .conftest import tiny_scenario

UNITS = {"months", "years", "share", "ratio", "count", "days"}


@pytest.fixture(scope="module")
def one_replication():
    scenario = Scenario.model_validate(tiny_scenario(strategies=["surgery-first", "systemic-first", "best-supportive-care"]))
    prepared = prepare(scenario, "test.yaml")
    return prepared, run_prepared(prepared)


def test_declarations_are_complete():
    for name, metric in METRICS.items():
        assert metric.name == name and metric.label and metric.unit in UNITS and metric.direction in (-1, 0, 1), name
        assert metric.scale in ("linear", "log") and metric.among in ("all", "functional"), name
    assert set(HEADLINE_METRICS) <= set(METRICS) and "os_5y" in HEADLINE_METRICS


def test_every_metric_compare_computes_is_declared_or_named_by_a_pattern(one_replication):
    prepared, result = one_replication
    names = [s.name for s in prepared.strategies]
    table = replication_metrics(result.patients, result.events, names, names[0], prepared.scenario.horizon_months)
    undeclared = sorted({m for m in table["metric"] if metric_info(m)[2] == "other"})
    assert undeclared == []


def test_run_summary_and_compare_compute_the_same_value_from_one_declaration(one_replication):
    prepared, result = one_replication
    names = [s.name for s in prepared.strategies]
    horizon = prepared.scenario.horizon_months
    per_replication = replication_metrics(result.patients, result.events, names, names[0], horizon).set_index(["strategy", "metric"])
    summary = summary_table(result.patients, names, horizon).set_index("strategy")
    compared = 0
    for strategy in names:
        for metric in RUN_SUMMARY_METRICS:
            run_value = summary.loc[strategy, metric.name]
            if (strategy, metric.name) not in per_replication.index:
                assert math.isnan(run_value)  # e.g. no functional patients: neither table has a value
                continue
            assert run_value == pytest.approx(per_replication.loc[(strategy, metric.name), "value"], rel=1e-12)
            for alias in metric.aliases:
                assert summary.loc[strategy, alias] == run_value
            compared += 1
    assert compared >= 2 * len(RUN_SUMMARY_METRICS)


def test_additive_parts_of_pieces_give_the_whole(one_replication):
    """Summary mode adds the parts of pieces of a cohort: the result is the whole cohort's."""
    _, result = one_replication
    group = result.patients[result.patients["strategy"] == "surgery-first"]
    whole = outcome_sums(group)
    pieces = None
    for start in range(0, len(group), 7):
        pieces = add_sums(pieces, outcome_sums(group.iloc[start : start + 7]))
    assert pieces is not None and set(pieces) == set(whole)
    for key, value in whole.items():
        assert pieces[key] == pytest.approx(value, rel=1e-12), key
