"""Outcome functions on hand-made event logs and tables whose answers can be worked out by hand."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from simulator.outcomes.comparison import precision_status, summarise_replications
from simulator.outcomes.metrics import burden_metrics, symptom_metrics
from simulator.outcomes.replications import t_confidence_interval
from simulator.outcomes.survival import at_risk_counts
from simulator.outcomes.timecourse import state_occupancy, symptom_control_curve, therapy_lines
from simulator.reporting.progress import ProgressBar

HORIZON = 10.0

# Patient 0 (functional): everolimus from 0, symptoms controlled 1-4, progression at 5, best supportive
# care from 5 with telotristat added at 6 (an add-on, not a line), death at 8.
# Patient 1 (nonfunctional): surveillance from 0 until censoring at the horizon.
EVENTS = [
    (0, 0.0, "entry", "entry", "untreated", ""),
    (0, 0.0, "decision", "untreated", "untreated", "everolimus"),
    (0, 0.0, "treatment_start", "untreated", "on_everolimus", "everolimus"),
    (0, 1.0, "symptoms_controlled", "on_everolimus", "on_everolimus", "everolimus"),
    (0, 4.0, "symptoms_relapsed", "on_everolimus", "on_everolimus", ""),
    (0, 5.0, "progression", "on_everolimus", "progressed", "everolimus"),
    (0, 5.0, "decision", "progressed", "progressed", "best_supportive_care"),
    (0, 5.0, "treatment_start", "progressed", "best_supportive_care", "best_supportive_care"),
    (0, 6.0, "treatment_start", "best_supportive_care", "best_supportive_care", "telotristat"),
    (0, 8.0, "death", "best_supportive_care", "dead", "disease"),
    (1, 0.0, "entry", "entry", "untreated", ""),
    (1, 0.0, "treatment_start", "untreated", "surveillance", "surveillance"),
    (1, 10.0, "censored", "surveillance", "censored", ""),
]


@pytest.fixture
def events() -> pd.DataFrame:
    frame = pd.DataFrame(EVENTS, columns=["patient_id", "time", "event", "from_state", "to_state", "detail"])
    frame.insert(0, "strategy", "s")
    frame.insert(0, "replication", 0)
    return frame


@pytest.fixture
def patients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "replication": [0, 0],
            "strategy": ["s", "s"],
            "patient_id": [0, 1],
            "functional": [True, False],
            "os_months": [8.0, 10.0],
            "death": [1, 0],
            "death_cause": ["disease", ""],
            "months_uncontrolled": [5.0, math.nan],
            "time_to_first_control": [1.0, math.nan],
            "symptom_control_months": [3.0, math.nan],
            "lines": [2, 1],
            "treatment_sequence": ["everolimus>best_supportive_care", "surveillance"],
            "adverse_events": [1, 0],
            "resected": [0, 0],
            "n_tace": [0, 2],
        }
    )


def test_state_occupancy_follows_the_last_event(events):
    occupancy = state_occupancy(events, ["s"], HORIZON).set_index(["group", "month"])["share"]
    assert occupancy[("Systemic therapy", 0.0)] == 0.5 and occupancy[("Surveillance", 0.0)] == 0.5
    assert occupancy[("Systemic therapy", 4.0)] == 0.5
    assert occupancy[("Best supportive care", 5.0)] == 0.5 and occupancy[("Systemic therapy", 5.0)] == 0.0
    assert occupancy[("Dead", 8.0)] == 0.5 and occupancy[("Best supportive care", 8.0)] == 0.0
    # Censoring at the horizon is not a state: the patient is still under surveillance at month 10.
    assert occupancy[("Surveillance", 10.0)] == 0.5
    assert occupancy.groupby(level="month").sum().eq(1.0).all()


def test_symptom_curve_counts_functional_patients_only(events, patients):
    curve = symptom_control_curve(events, patients, ["s"], HORIZON).set_index("month")
    assert (curve["functional_patients"] == 1).all()
    assert curve.loc[0.0, "controlled"] == 0 and curve.loc[0.0, "alive"] == 1
    assert curve.loc[[1.0, 2.0, 3.0], "controlled_share_of_alive"].eq(1.0).all()
    assert curve.loc[[4.0, 7.0], "controlled_share_of_alive"].eq(0.0).all()
    assert curve.loc[8.0, "alive"] == 0 and math.isnan(curve.loc[8.0, "controlled_share_of_alive"])
    assert curve.loc[8.0, "controlled_share_of_all"] == 0.0


def test_therapy_lines_end_at_the_next_line_or_the_end(events):
    lines = therapy_lines(events).sort_values(["patient_id", "start"])
    assert lines[["patient_id", "treatment", "start", "end"]].values.tolist() == [
        [0, "everolimus", 0.0, 5.0],
        [0, "best_supportive_care", 5.0, 8.0],
        [1, "surveillance", 0.0, 10.0],
    ]


def test_burden_and_symptom_metrics(events, patients):
    burden = burden_metrics(patients, therapy_lines(events))
    assert burden["months_on_everolimus"] == 2.5  # 5 months over 2 patients
    assert burden["months_on_surveillance"] == 5.0
    assert burden["mean_active_lines"] == 0.5  # only everolimus is anticancer therapy
    assert burden["procedures_tace"] == 1.0
    assert burden["death_disease"] == 0.5 and burden["alive_at_horizon_share"] == 0.5
    symptoms = symptom_metrics(patients)
    assert symptoms["symptom_free_survival_months"] == ((8 - 5) + 10) / 2
    assert symptoms["controlled_by_6m"] == 1.0 and symptoms["mean_months_uncontrolled"] == 5.0
    assert symptoms["uncontrolled_share_of_life"] == 5.0 / 8.0  # the functional patient: 5 of 8 months followed


def test_at_risk_counts_include_those_ending_at_the_time():
    assert at_risk_counts(pd.Series([1.0, 2.0, 2.0, 5.0]), [0, 2, 3, 6]) == [4, 3, 1, 0]


def test_summary_uses_t_intervals_and_log_scale_for_ratios():
    per = pd.DataFrame(
        {
            "replication": [0, 1, 2, 0, 1, 2],
            "strategy": ["a"] * 6,
            "metric": ["rmst_os_months"] * 3 + ["hr_os_vs_comparator"] * 3,
            "value": [10.0, 12.0, 14.0, 0.5, 1.0, 2.0],
        }
    )
    summary = summarise_replications(per, ["a"]).set_index("metric")
    # A time: the t interval of the mean on the log scale (delta method), so it cannot go below 0.
    mean, _, upper = t_confidence_interval([10, 12, 14])
    half = upper - mean
    expected = (12.0, 12.0 * math.exp(-half / 12.0), 12.0 * math.exp(half / 12.0))
    assert tuple(summary.loc["rmst_os_months", ["estimate", "lower_95", "upper_95"]]) == pytest.approx(expected)
    assert summary.loc["rmst_os_months", "relative_half_width"] == pytest.approx(half / 12)  # the precision rule: natural scale
    assert summary.loc["hr_os_vs_comparator", "estimate"] == pytest.approx(1.0)  # geometric mean of 0.5, 1, 2
    lower, upper = summary.loc["hr_os_vs_comparator", ["lower_95", "upper_95"]]
    assert lower * upper == pytest.approx(1.0)  # symmetric on the log scale
    assert (summary["replications"] == 3).all()


def test_precision_status_ignores_the_comparators_own_ratio():
    summary = pd.DataFrame(
        {
            "strategy": ["ref", "ref", "b"],
            "metric": ["hr_os_vs_comparator", "rmst_os_months", "rmst_os_months"],
            "relative_half_width": [np.nan, 0.01, 0.04],
            "replications": [3, 3, 3],
        }
    )
    assert precision_status(summary, ("rmst_os_months", "hr_os_vs_comparator"), 0.05, "ref") == (True, 0.04)
    assert precision_status(summary, ("rmst_os_months",), 0.03, "ref") == (False, 0.04)


def test_progress_bar_is_silent_off_a_terminal():
    quiet = io.StringIO()
    ProgressBar(quiet)(1, 4, "x")
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    now = iter([100.0, 130.0, 4000.0])  # start, after 3 of 6 tasks, after 5 of 6
    bar = ProgressBar(shown, enabled=True, clock=lambda: next(now))
    bar(3, 6, "replication 2")
    assert shown.getvalue().startswith("\r[" + "#" * 15 + "." * 15 + "] 3/6 [0:30, 0:30 left] replication 2")
    bar(5, 6, "replication 4")  # 3,900 s for 5 tasks: 780 s for the last one
    assert "5/6 [1:05:00, 13:00 left] replication 4" in shown.getvalue()
    bar.close()
    assert shown.getvalue().endswith("\n")


@pytest.mark.parametrize(
    "metric,values,bounds",
    [
        ("os_5y", [0.02, 0.0, 0.30, 0.01], (0.0, 1.0)),  # a share whose plain t interval goes below 0
        ("share_ever_controlled", [0.99, 1.0, 0.70, 0.98], (0.0, 1.0)),  # ... or above 1
        ("median_os_months", [1.0, 30.0, 2.0], (0.0, math.inf)),  # a time
        ("procedures_tace", [0.0, 0.0, 3.0], (0.0, math.inf)),  # a count (pattern-named metric)
    ],
)
def test_intervals_respect_the_natural_bounds_of_the_quantity(metric, values, bounds):
    plain_mean, plain_lower, plain_upper = t_confidence_interval(values)
    assert plain_lower < bounds[0] or plain_upper > bounds[1]  # the case the plain interval gets wrong
    per = pd.DataFrame({"replication": range(len(values)), "strategy": "a", "metric": metric, "value": values})
    row = summarise_replications(per, ["a"]).iloc[0]
    assert row["estimate"] == pytest.approx(plain_mean)
    assert bounds[0] < row["lower_95"] < row["estimate"] < row["upper_95"] < bounds[1]


def test_a_share_on_its_bound_in_every_replication_has_the_degenerate_interval():
    per = pd.DataFrame({"replication": [0, 1, 2], "strategy": "a", "metric": "resected_share", "value": [0.0, 0.0, 0.0]})
    row = summarise_replications(per, ["a"]).iloc[0]
    assert (row["estimate"], row["lower_95"], row["upper_95"]) == (0.0, 0.0, 0.0)


def test_differences_keep_the_plain_t_interval():
    per = pd.DataFrame({"replication": [0, 1, 2], "strategy": "a", "metric": "life_years_gained", "value": [-1.0, 0.5, 2.0]})
    row = summarise_replications(per, ["a"]).iloc[0]
    assert tuple(row[["estimate", "lower_95", "upper_95"]]) == pytest.approx(t_confidence_interval([-1.0, 0.5, 2.0]))
