"""The identifiability report's algebra on functions whose answer is known."""

from __future__ import annotations

import math

import numpy as np

from simulator.experiments.identifiability import near_bound, profile, sensitivity


def test_two_parameters_seen_only_through_their_product_are_not_identified():
    targets = lambda p: np.array([p["a"] * p["b"], 2 * p["a"] * p["b"]])  # noqa: E731
    result = sensitivity(targets, {"a": 2.0, "b": 3.0}, ["t1", "t2"], np.array([1.0, 1.0]))
    assert result.rank == 1
    assert result.condition_number > 1e6
    # The unidentified direction moves a and b in opposite directions by equal log amounts.
    assert math.isclose(abs(result.weakest_direction["a"]), abs(result.weakest_direction["b"]), rel_tol=1e-6)
    assert result.weakest_direction["a"] * result.weakest_direction["b"] < 0


def test_separate_targets_identify_each_parameter():
    targets = lambda p: np.array([p["a"], p["b"] ** 2])  # noqa: E731
    result = sensitivity(targets, {"a": 2.0, "b": 3.0}, ["t1", "t2"], np.array([0.1, 0.5]))
    assert result.rank == 2
    # d(a / 0.1) / d(log a) = a / 0.1 = 20; d(b^2 / 0.5) / d(log b) = 2 b^2 / 0.5 = 36 (central differences, 5% steps)
    assert np.allclose(np.diag(result.matrix), [20.0, 36.0], rtol=0.01)


def test_profile_is_flat_for_a_parameter_the_score_ignores():
    values = profile(lambda p: (p["a"] - 2.0) ** 2, {"a": 2.0, "b": 1.0}, "b", 0.1, 10.0)
    assert len({score for _, score in values}) == 1
    curved = profile(lambda p: (p["a"] - 2.0) ** 2, {"a": 2.0, "b": 1.0}, "a", 0.5, 8.0)
    assert min(curved, key=lambda point: point[1])[0] == 2.0


def test_near_bound_on_the_log_scale():
    assert near_bound(0.0202, 0.02, 1.0)
    assert not near_bound(0.2, 0.02, 1.0)
    assert near_bound(0.99, 0.0, 1.0) and not near_bound(0.5, 0.0, 1.0)


def test_report_tables_flag_a_value_near_its_bound_and_carry_rank_and_condition():
    from simulator.experiments.identifiability import report_tables

    targets = lambda p: np.array([p["a"], p["b"] ** 2])  # noqa: E731
    fitted = {"a": 2.0, "b": 0.0202}
    result = sensitivity(targets, fitted, ["t1", "t2"], np.array([0.1, 0.001]))
    matrix_rows, parameter_rows = report_tables(result, fitted, {"a": (1.0, 4.0), "b": (0.02, 1.0)})
    assert [row["target"] for row in matrix_rows] == ["t1", "t2"]
    flags = {row["parameter"]: row["near_bound"] for row in parameter_rows}
    assert flags == {"a": False, "b": True}
    assert {row["rank"] for row in parameter_rows} == {2}
