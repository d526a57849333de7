"""Capacity planning in the pathway model: configuration errors, open-population arrivals, waits that
change outcomes, resource use within capacity, the bundled constrained scenario and `nelm-sim capacity`."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from simulator.capacity import resource as resource_module
from simulator.capacity.arrivals import arrival_times, expected_arrivals
from simulator.cli import build_parser, main
from simulator.commands.output import read_csv
from simulator.config import Scenario, load_scenario
from simulator.experiments.compare import run_comparison
from simulator.experiments.runner import prepare, run_prepared
from simulator.experiments.variants import expand
from simulator.params.parameter_set import build_parameter_set
from simulator.pathways.states import transition_allowed

from .conftest import ROOT, tiny_scenario
from .test_pathways import EVERY_RESOURCE

CONSTRAINED = ROOT / "scenarios" / "capacity-constrained.yaml"


def capacity_scenario(capacity=None, **changes) -> Scenario:
    data = tiny_scenario(capacity=copy.deepcopy(capacity or EVERY_RESOURCE), **changes)
    return Scenario.model_validate(data)


def run_capacity(capacity=None, **changes):
    scenario = capacity_scenario(capacity, **changes)
    return run_prepared(prepare(scenario, "test.yaml"))


# ------------------------------------------------------------------------------------------------
# Configuration: one-line errors naming the field


@pytest.mark.parametrize(
    "capacity,field,expected",
    [
        ({"resources": {"theatres": {"capacity": 1}}}, "capacity.resources.theatres", "no such field"),
        ({"resources": {"theatre": {"capacity": 0}}}, "capacity.resources.theatre.capacity", ">= 1"),
        ({"resources": {"theatre": {"capacity": 1.5}}}, "capacity.resources.theatre.capacity", "whole number"),
        (
            {"resources": {"theatre": {"capacity": 1, "schedule": [{"day": "monday", "start": 8, "hours": 4}]}}},
            "capacity.resources.theatre.schedule[0].day",
            "one of",
        ),
        (
            {"resources": {"theatre": {"capacity": 1, "schedule": [{"day": "mon", "start": 25, "hours": 4}]}}},
            "capacity.resources.theatre.schedule[0].start",
            "< 24",
        ),
        ({"arrivals": {"catchment_population": 1000, "years": 0}}, "capacity.arrivals.years", "> 0"),
    ],
)
def test_bad_capacity_config_is_one_line_naming_the_field(write_scenario, capsys, capacity, field, expected):
    path = write_scenario(tiny_scenario(capacity=capacity))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and expected in err, err


def test_arrivals_beyond_the_patient_limit_are_refused_before_running(write_scenario, capsys):
    path = write_scenario(tiny_scenario(capacity={"arrivals": {"catchment_population": 2_000_000_000, "years": 50}}))
    assert main(["run", str(path), "--out", str(path.parent / "out")]) == 2
    err = capsys.readouterr().err
    assert "capacity.arrivals.catchment_population" in err and len(err.strip().splitlines()) == 1
    assert not (path.parent / "out").exists()


# ------------------------------------------------------------------------------------------------
# Without capacity the engine never touches a resource


def test_no_capacity_section_creates_no_resource(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a resource was created in a run without capacity")

    monkeypatch.setattr(resource_module.ScheduledResource, "__init__", refuse)
    result = run_prepared(prepare(Scenario.model_validate(tiny_scenario(cohort={"size": 50})), "t.yaml"))
    assert result.capacity is None
    assert "arrival_month" not in result.patients.columns and "waits" not in result.patients.columns


# ------------------------------------------------------------------------------------------------
# Open-population arrivals


def test_arrival_counts_are_poisson_with_the_documented_rate():
    params = build_parameter_set({"arrivals.annual_growth": 0.0})
    catchment, months = 2_000_000, 60.0
    mean = expected_arrivals(params, catchment, months)
    # 2e6 / 1e5 x 8.19 x 0.40 x 0.90 x 1.0 a year (capacity.yaml), over 5 years.
    assert mean == pytest.approx(20 * 8.19 * 0.40 * 0.90 * 5)
    counts = np.array([len(arrival_times(params, catchment, months, seed=1, replication=r)) for r in range(200)])
    # Mean of 200 Poisson counts: standard error sqrt(mean / 200); 4 standard errors is a 1-in-15,000 miss.
    assert abs(counts.mean() - mean) < 4 * math.sqrt(mean / 200)
    assert counts.var(ddof=1) == pytest.approx(mean, rel=0.3)  # Poisson: variance = mean


def test_growing_incidence_brings_more_arrivals_later_and_same_seed_same_times():
    params = build_parameter_set({"arrivals.annual_growth": 0.2})
    times = np.concatenate([arrival_times(params, 5_000_000, 120.0, seed=3, replication=r) for r in range(20)])
    first, last = (times < 12).sum(), (times >= 108).sum()
    # The rate grows as 1.2^(t / 12): year 10 brings 1.2^9 times the arrivals of year 1.
    assert last / first == pytest.approx(1.2**9, rel=0.1)
    assert (arrival_times(params, 5_000_000, 120.0, 3, 0) == arrival_times(params, 5_000_000, 120.0, 3, 0)).all()
    assert np.all(np.diff(arrival_times(params, 5_000_000, 120.0, 3, 0)) >= 0)


def test_warm_up_arrivals_are_left_out_and_times_are_patient_time():
    result = run_capacity(strategies=["surgery-first"])
    patients = result.patients
    warmup = EVERY_RESOURCE["arrivals"]["warmup_years"] * 12
    assert len(patients) > 20
    assert (patients["arrival_month"] >= warmup).all()
    assert (patients["os_months"] <= 120 + 1e-9).all()  # followed for the horizon from arrival
    entries = result.events[result.events["event"] == "entry"]
    assert (entries["time"] == 0).all()  # the log keeps months since entry
    waits = result.capacity.frame("waits")
    assert (waits["requested_month"] >= 0).all() and (waits["wait_days"] >= 0).all()


# ------------------------------------------------------------------------------------------------
# Waits change outcomes; histories stay valid


SCARCE = copy.deepcopy(EVERY_RESOURCE)
SCARCE["arrivals"] = {"catchment_population": 4_000_000, "years": 3, "warmup_years": 0}
SCARCE["resources"]["theatre"] = {"capacity": 1, "schedule": [{"day": "tue", "start": 8, "hours": 1}]}


@pytest.fixture(scope="module")
def scarce():
    return run_capacity(SCARCE, strategies=["surgery-first", "systemic-first"])


def test_histories_in_capacity_runs_follow_the_state_machine(scarce):
    events = scarce.events
    for row in events.itertuples():
        assert transition_allowed(str(row.event), row.from_state, row.to_state, str(row.detail)), row
    waiting = events[events["detail"].astype(str).str.startswith("waiting:")]
    assert len(waiting) > 0 and set(waiting["event"].astype(str)) == {"progression"}


def test_progression_while_waiting_can_cost_the_operation(scarce):
    patients = scarce.patients
    surgery = patients[patients["strategy"] == "surgery-first"]
    changed = surgery[surgery["treatment_changed_by_waiting"] == 1]
    assert len(changed) > 0
    waits = scarce.capacity.frame("waits")
    ineligible = waits[(waits["outcome"] == "ineligible") & (waits["strategy"] == "surgery-first")]
    assert set(ineligible["treatment"]) == {"hepatectomy"}
    assert (ineligible["progressions_while_waiting"] >= 1).all()
    # Every patient who left the theatre queue as ineligible had progressed while waiting.
    assert set(changed["patient_id"]) == set(ineligible["patient_id"]) & set(changed["patient_id"])
    assert (surgery.loc[surgery["died_while_waiting"] == 1, "death"] == 1).all()


def test_resource_use_within_capacity_and_tables_complete(scarce):
    resources = scarce.capacity.frame("resources")
    assert (resources["max_in_use"] <= resources["capacity"]).all()
    assert set(resources["resource"]) == set(EVERY_RESOURCE["resources"])
    for column in ("utilisation", "wait_mean_days", "wait_p50_days", "wait_p90_days", "wait_p95_days", "procedures_per_year"):
        assert column in resources
    beds = resources[(resources["resource"] == "beds") & (resources["strategy"] == "surgery-first")]
    assert (beds["bed_days_per_year"] > 0).all()


schedules = st.lists(
    st.tuples(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), st.floats(0, 23), st.floats(0.5, 12)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    theatre=st.integers(1, 3),
    suite=st.integers(1, 3),
    beds=st.integers(1, 6),
    mdt=st.integers(1, 2),
    theatre_schedule=schedules,
    suite_schedule=schedules,
    seed=st.integers(0, 1000),
)
def test_property_use_never_exceeds_capacity_over_random_schedules(theatre, suite, beds, mdt, theatre_schedule, suite_schedule, seed):
    def sessions(items):
        return [{"day": d, "start": s, "hours": h} for d, s, h in items]

    capacity = {
        "arrivals": {"catchment_population": 1_500_000, "years": 2, "warmup_years": 0},
        "resources": {
            "mdt": {"capacity": mdt, "schedule": [{"day": "wed", "start": 13, "hours": 2}]},
            "theatre": {"capacity": theatre, "schedule": sessions(theatre_schedule)},
            "ir_suite": {"capacity": suite, "schedule": sessions(suite_schedule)},
            "beds": {"capacity": beds},
            "nuclear_medicine": {"capacity": 1},
            "day_unit": {"capacity": 1, "schedule": [{"day": "mon", "start": 9, "hours": 4}]},
        },
    }
    result = run_capacity(capacity, seed=seed, horizon_months=60, strategies=["guideline"])
    resources = result.capacity.frame("resources")
    # max_in_use is updated at every grant, the only moment use can rise, so it is the maximum over all time.
    assert len(resources) == 6 and (resources["max_in_use"] <= resources["capacity"]).all()


# ------------------------------------------------------------------------------------------------
# The bundled constrained scenario: scarce theatre against ample theatre


@pytest.mark.slow
def test_scarce_theatre_means_longer_waits_more_progression_and_lower_survival():
    scenario = load_scenario(CONSTRAINED)
    runs = {run.name: run_comparison(run.prepared) for run in expand(scenario, CONSTRAINED)}
    assert set(runs) == {"base", "ample-theatre"}

    def paired(metric):
        scarce = runs["base"].per_replication
        ample = runs["ample-theatre"].per_replication
        a = scarce[scarce["metric"] == metric].set_index("replication")["value"]
        b = ample[ample["metric"] == metric].set_index("replication")["value"]
        return (a - b).to_numpy()  # scarce minus ample, replication by replication (common random numbers)

    def lower_bound(differences):  # one-sided 95% t bound of the mean paired difference
        n = len(differences)
        return differences.mean() - stats.t.ppf(0.95, n - 1) * differences.std(ddof=1) / math.sqrt(n)

    assert lower_bound(paired("wait_mean_days_theatre")) > 0
    assert lower_bound(paired("progressed_while_waiting_share")) > 0
    assert lower_bound(-paired("os_5y")) > 0  # ample minus scarce 5-year OS


# ------------------------------------------------------------------------------------------------
# nelm-sim capacity


def test_capacity_help_describes_every_option(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["capacity", "--help"])
    text = capsys.readouterr().out
    sub = parser._subparsers._group_actions[0].choices["capacity"]
    for action in sub._actions:
        for option in action.option_strings:
            assert option in text
        assert action.help, action


def test_capacity_command_refuses_an_unconfigured_resource(write_scenario, capsys, tmp_path):
    path = write_scenario(tiny_scenario(capacity={"resources": {"theatre": {"capacity": 1}}}))
    assert main(["capacity", str(path), "--resource", "beds", "--target-p90-wait", "7", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "capacity.resources.beds" in err and len(err.splitlines()) == 1
    assert main(["capacity", str(path), "--resource", "ward", "--target-p90-wait", "7", "--out", str(tmp_path / "o")]) == 2
    assert "--resource" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_capacity_command_same_seed_same_answer(write_scenario, tmp_path, capsys):
    capacity = {
        "arrivals": {"catchment_population": 3_000_000, "years": 2, "warmup_years": 0.5},
        "resources": {"theatre": {"capacity": 1, "schedule": [{"day": "tue", "start": 8, "hours": 1}]}},
    }
    path = write_scenario(tiny_scenario(strategies=["surgery-first"], capacity=capacity, horizon_months=72))
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["capacity", str(path), "--resource", "theatre", "--target-p90-wait", "7", "--out", str(out), "--quiet"]) == 0
        outputs.append(out)
    printed = capsys.readouterr().out
    assert "smallest theatre capacity" in printed
    first, second = (read_csv(o / "capacity_curve.csv") for o in outputs)
    pd.testing.assert_frame_equal(first, second)
    assert (outputs[0] / "figures" / "capacity_curve.png").is_file()
    met = first.groupby("capacity")["meets_target"].all()
    answer = int(met[met].index.min())
    assert answer >= 2 and not met.loc[answer - 1]  # one weekly slot is too few


def test_run_folder_has_the_capacity_files(write_scenario, tmp_path):
    capacity = copy.deepcopy(SCARCE)
    capacity["arrivals"] = {"catchment_population": 1_000_000, "years": 2, "warmup_years": 0.5}
    path = write_scenario(tiny_scenario(strategies=["surgery-first"], capacity=capacity))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--workers", "1"]) == 0
    for name in ("resources.csv", "waits.csv", "queue_lengths.csv", "figures/queue_lengths.png", "figures/wait_distribution.png"):
        assert (out / name).is_file(), name
    patients = read_csv(out / "patients.csv")
    # Every patient has a first-line PFS, also one who died waiting for a first treatment (PFS from entry).
    assert patients["pfs1_months"].notna().all() and (patients["arrival_month"] >= 6).all()


def test_bundled_capacity_scenario_validates(capsys):
    assert main(["validate", str(CONSTRAINED)]) == 0
    out = capsys.readouterr().out
    assert "arriving patients" in out and "1 variants" in out


def test_an_empty_capacity_section_changes_nothing():
    plain = run_prepared(prepare(Scenario.model_validate(tiny_scenario(cohort={"size": 40})), "t.yaml"))
    for empty in ({}, {"resources": {}}, {"resources": {"theatre": None}, "arrivals": None}):
        scenario = Scenario.model_validate(tiny_scenario(cohort={"size": 40}, capacity=empty))
        assert scenario.capacity is None
        same = run_prepared(prepare(scenario, "t.yaml"))
        pd.testing.assert_frame_equal(plain.patients, same.patients)
        pd.testing.assert_frame_equal(plain.events, same.events)


def test_a_progression_while_waiting_raises_the_death_rate_exactly_as_any_progression():
    """Regression: the hospital's waiting progression once skipped the per-progression death hazard."""
    from simulator.capacity.hospital import Hospital
    from simulator.core.rng import RandomStreams
    from simulator.engine.clock import PatientClock
    from simulator.engine.cohort import build_cohort
    from simulator.engine.course import Course
    from simulator.engine.model import PathwayModel

    scenario = capacity_scenario()
    prepared = prepare(scenario, "test.yaml")
    streams = RandomStreams(scenario.seed, 0)
    patient = build_cohort(prepared.params, streams, 1)[0]
    strategy = prepared.strategies[0]
    plain = PathwayModel(prepared.params, strategy, [patient], 120.0, streams, 0)
    hospital = Hospital(scenario.capacity)
    hospital_model = PathwayModel(prepared.params, strategy, [patient], 120.0, streams, 0, hospital=hospital)
    ordinary = Course(plain, patient, PatientClock())
    waiting = hospital.new_course(hospital_model, patient, 0)
    assert waiting.disease_death_rate() == ordinary.disease_death_rate()
    ratio = prepared.params.value("disease.death_hazard_ratio_per_progression")
    cap = int(prepared.params.value("disease.max_progressions_in_hazard"))
    assert ratio > 1 and cap >= 2
    for progressions in range(1, cap + 2):
        before = waiting.disease_death_rate()
        hospital.progress_while_waiting(waiting, "theatre")
        ordinary.progress()
        assert waiting.progressions == ordinary.progressions == progressions
        assert waiting.disease_death_rate() == ordinary.disease_death_rate()
        expected = before * ratio if progressions <= cap else before
        assert waiting.disease_death_rate() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "arrivals",
    [
        {"catchment_population": 1, "years": 0.01},
        {"catchment_population": 100000, "warmup_years": 3, "years": 0.001},
    ],
)
def test_no_patients_in_the_statistics_window_is_refused_by_every_command(write_scenario, tmp_path, capsys, arrivals):
    """Such scenarios passed validate and then crashed every command after simulating (issue 19, item 8)."""
    data = tiny_scenario(capacity={"arrivals": arrivals, "resources": {"theatre": {"capacity": 1}}})
    path = write_scenario(data)
    commands = [
        ["validate", str(path)],
        ["run", str(path), "--quiet", "--workers", "1"],
        ["run", str(path), "--summary", "--quiet", "--workers", "1"],
        ["compare", str(path), "--quiet", "--workers", "1"],
        ["psa", str(path), "--draws", "2", "--quiet", "--workers", "1"],
        ["dsa", str(path), "--quiet", "--workers", "1"],
        ["capacity", str(path), "--resource", "theatre", "--target-p90-wait", "10", "--quiet"],
    ]
    for index, command in enumerate(commands):
        out = [] if command[0] == "validate" else ["--out", str(tmp_path / f"out{index}")]
        assert main(command + out) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "capacity.arrivals.catchment_population" in err[0] and "statistics window" in err[0], (command, err)
        assert not (tmp_path / f"out{index}").exists()


def test_scenarios_and_capacity_give_the_same_wait_figures_for_the_same_set_up(tmp_path, capsys, regression_run):
    """They disagreed (p90 162.1 vs 173.7 days) because the search pooled every replication's waits
    and kept those requested after the window; both now use the per-replication window figures (issue 20, item 8).
    The scenarios folder is the regression case's (`scenarios capacity.yaml --workers 1`), run once per session."""
    from simulator.cli import main as cli_main

    scenario = ROOT / "tests" / "regression" / "scenarios" / "capacity.yaml"
    scenarios_folder, _ = regression_run("scenarios")
    assert cli_main(
        [
            "capacity",
            str(scenario),
            "--resource",
            "theatre",
            "--target-p90-wait",
            "30",
            "--min-capacity",
            "1",
            "--max-capacity",
            "1",
            "--quiet",
            "--out",
            str(tmp_path / "c"),
        ]
    ) in (0, 1)
    capsys.readouterr()
    base = read_csv(scenarios_folder / "scenarios.csv")
    curve = read_csv(tmp_path / "c" / "capacity_curve.csv")
    for row in curve.itertuples():
        shown = base[(base["variant"] == "base") & (base["strategy"] == row.strategy) & (base["metric"] == "wait_p90_days_theatre")]
        assert len(shown) == 1
        estimate = float(shown["estimate"].iloc[0])
        # No one of this strategy waited for a theatre: no figure in scenarios, no wait in the search.
        assert row.p90_wait_days == (0.0 if math.isnan(estimate) else pytest.approx(estimate, rel=1e-12))


def test_a_horizon_too_short_for_any_resource_use_still_writes_the_capacity_tables(write_scenario, tmp_path, capsys):
    """Seen by the capacity fuzz: with a horizon of a millionth of a month no replication records a use, and
    stacking their empty tables raised pandas' FutureWarning (an internal error under the suite's warning
    filter) instead of writing the folder."""
    path = write_scenario(
        tiny_scenario(
            cohort={"size": 1},
            horizon_months=1e-6,
            strategies=["surgery-first", "iat-first"],
            capacity={"resources": {"theatre": {"capacity": 1}}},
        )
    )
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0, capsys.readouterr().err
    assert (out / "resources.csv").is_file()
