"""Resource limits and numerical guards: refused up front, in one line that states the limit.

Limits (README "Errors and limits") are checked when the file is validated, before any simulation;
the tests make the simulation itself fail loudly to prove that it never starts.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import simulator.commands.run
from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.config import MAX_HORIZON_MONTHS, MAX_PATIENTS, MAX_REPLICATIONS, MAX_SIMULATED_LIFETIMES
from simulator.io import MAX_FILE_BYTES, MAX_YAML_DEPTH
from simulator.params.distributions import MAX_CUTS, DistributionError, build_distribution
from simulator.params.schema import MAX_COUNT, RATIO_RANGE
from simulator.pathways.base import MAX_LINES

from .conftest import ROOT, forbid_simulation, tiny_scenario


@pytest.fixture
def no_simulation(monkeypatch):
    """Any simulation fails the test: limits must be enforced before it starts."""

    def refuse(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(simulator.commands.run, "run_prepared", refuse)


def one_error_line(capsys, status):
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("nelm-sim: error: ") and "Traceback" not in err, err
    return lines[0]


LIMIT_CASES = {
    "cohort": (tiny_scenario(cohort={"size": MAX_PATIENTS + 1}), "cohort.size", f"<= {MAX_PATIENTS}"),
    "replications": (tiny_scenario(replications=MAX_REPLICATIONS + 1), "replications", f"<= {MAX_REPLICATIONS}"),
    "horizon": (tiny_scenario(horizon_months=MAX_HORIZON_MONTHS + 1), "horizon_months", f"<= {MAX_HORIZON_MONTHS}"),
    "total lifetimes": (
        tiny_scenario(cohort={"size": MAX_SIMULATED_LIFETIMES // 2}, replications=2),  # x 2 strategies
        "cohort.size",
        f"at most {MAX_SIMULATED_LIFETIMES} simulated lifetimes",
    ),
    "strategies": (
        tiny_scenario(strategies=[{"name": f"s{i}", "rules": [{"treatment": "placebo"}]} for i in range(51)]),
        "strategies",
        "at most 50",
    ),
    "rules": (
        tiny_scenario(strategies=[{"name": "long", "rules": [{"treatment": "placebo", "max_uses": 1} for _ in range(101)]}]),
        "strategies[0].rules",
        "at most 100",
    ),
    "count parameter": (tiny_scenario(parameters={"prrt.cycles": MAX_COUNT + 1}), "parameters.prrt.cycles", f"0 to {MAX_COUNT}"),
    "fractional count": (tiny_scenario(parameters={"iat.max_sessions": 2.5}), "parameters.iat.max_sessions", "whole number"),
    "hazard ratio": (
        tiny_scenario(parameters={"disease.hr_extrahepatic": RATIO_RANGE[1] * 2}),
        "parameters.disease.hr_extrahepatic",
        f"{RATIO_RANGE[1]:g}",
    ),
    "cuts": (
        tiny_scenario(
            parameters={
                "tace.time_to_progression": {
                    "distribution": "piecewise_exponential",
                    "params": {"cuts": list(range(MAX_CUTS + 1)), "rates": [0.1] * (MAX_CUTS + 1)},
                }
            }
        ),
        "parameters.tace.time_to_progression",
        f"at most {MAX_CUTS}",
    ),
}


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_limits_are_refused_up_front_with_the_limit(case, write_scenario, tmp_path, capsys, no_simulation):
    data, field, limit = LIMIT_CASES[case]
    path = write_scenario(data)
    line = one_error_line(capsys, main(["run", str(path), "--out", str(tmp_path / "out")]))
    assert str(path) in line and field in line and limit in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, value, limit",
    [
        ("--patients", MAX_PATIENTS + 1, str(MAX_PATIENTS)),
        ("--replications", MAX_REPLICATIONS + 1, str(MAX_REPLICATIONS)),
        ("--patients", MAX_SIMULATED_LIFETIMES, str(MAX_SIMULATED_LIFETIMES)),
    ],
)
def test_command_line_overrides_obey_the_same_limits(option, value, limit, write_scenario, tmp_path, capsys, no_simulation):
    path = write_scenario(tiny_scenario())
    line = one_error_line(capsys, main(["run", str(path), "--out", str(tmp_path / "out"), option, str(value)]))
    assert limit in line, line
    assert not (tmp_path / "out").exists()


def test_file_size_and_nesting_limits(write_scenario, capsys):
    big = write_scenario("description: '" + "x" * MAX_FILE_BYTES + "'\n", name="big.yaml")
    assert str(MAX_FILE_BYTES) in one_error_line(capsys, main(["validate", str(big)]))
    deep = write_scenario("a: " + "[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1) + "\n", name="deep.yaml")
    assert f"deeper than {MAX_YAML_DEPTH}" in one_error_line(capsys, main(["validate", str(deep)]))
    shallow = write_scenario(tiny_scenario(description="ok"), name="shallow.yaml")
    assert main(["validate", str(shallow)]) == 0


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"distribution": "weibull", "params": {"shape": 1e-300, "median": 10}}, "valid weibull parameters"),
        ({"distribution": "gengamma", "params": {"mu": 1, "sigma": 1, "Q": 1e300}}, "gengamma parameters"),
        ({"distribution": "gengamma", "params": {"mu": 1, "sigma": 1e300, "Q": 1e-300}}, "finite time"),
        ({"distribution": "lognormal", "params": {"meanlog": 1e300, "sdlog": 1}}, "finite time"),
        ({"distribution": "exponential", "params": {"rate": 1e-320}}, "finite time"),
        ({"distribution": "gamma", "params": {"shape": 1e300, "rate": 1e-300}}, "finite time"),
        ({"distribution": "piecewise_exponential", "params": {"cuts": [0, math.inf], "rates": [0.1, 0.2]}}, "finite numbers"),
        ({"distribution": "weibull", "params": {"shape": math.nan, "median": 10}}, "shape"),
    ],
)
def test_undefined_distributions_are_refused_at_load_with_the_parameter_name(
    params, expected, write_scenario, tmp_path, capsys, no_simulation
):
    path = write_scenario(tiny_scenario(parameters={"tace.time_to_progression": params}))
    line = one_error_line(capsys, main(["validate", str(path)]))
    assert "parameters.tace.time_to_progression" in line and expected in line, line


@pytest.mark.parametrize(
    "parameters, field, expected",
    [
        ({"iat.max_sessions": 0}, "parameters.iat.max_sessions", "from 1 to 4"),
        ({f"iat.sessions_{k}": 0 for k in range(1, 5)}, "parameters.iat.sessions_1", "sum to more than 0"),
        ({"cohort.age_min": 90, "cohort.age_max": 40}, "parameters.cohort.age_min", "cohort.age_min <= cohort.age_max"),
        (
            {"cohort.progressed_within_months": 12, "cohort.stable_for_months": 14},
            "parameters.cohort.progressed_within_months",
            "cohort.progressed_within_months > cohort.stable_for_months",
        ),
        (
            {"cohort.progressed_within_months": 12, "tumour.indolent_share": 0.2},
            "parameters.cohort.progressed_within_months",
            "or tumour.indolent_share 0",
        ),
        (
            {"cohort.stable_for_months": 3, "tumour.indolent_share": 0.2},
            "parameters.cohort.stable_for_months",
            "or tumour.indolent_share 0",
        ),
        ({"hepatectomy.perioperative_mortality": {"value": True}}, "parameters.hepatectomy.perioperative_mortality.value", "a number"),
        ({"hepatectomy.perioperative_mortality": True}, "parameters.hepatectomy.perioperative_mortality", "a number"),
    ],
)
def test_parameters_that_only_fail_together_or_by_type(parameters, field, expected, write_scenario, capsys):
    path = write_scenario(tiny_scenario(parameters=parameters))
    line = one_error_line(capsys, main(["validate", str(path)]))
    assert field in line and expected in line, line


def test_near_zero_progression_times_end_at_the_line_limit(write_scenario, tmp_path, capsys):
    """Valid-looking parameters that make every line end at once would loop without end: past
    MAX_LINES the patient stays on best supportive care without further progression, and the run ends."""
    path = write_scenario(
        tiny_scenario(
            cohort={"size": 2},
            replications=2,
            horizon_months=600,
            strategies=["best-supportive-care"],
            parameters={
                "natural_history.time_to_progression": {"distribution": "exponential", "params": {"rate": 1e9}},
                "disease.death_rate": 0,
            },
        )
    )
    out = tmp_path / "out"
    for workers in ("1", "2"):
        assert main(["run", str(path), "--out", str(out), "--force", "--quiet", "--workers", workers]) == 0
        assert capsys.readouterr().err == ""
        patients = read_csv(out / "patients.csv")
        assert (patients["lines"] == MAX_LINES + 1).all() and (patients["progressions"] == MAX_LINES).all()


@settings(max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=st.sampled_from(["exponential", "weibull", "gompertz", "loglogistic", "lognormal", "gamma", "gengamma"]),
    a=st.floats(-1e6, 1e6),
    b=st.floats(1e-6, 1e6),
    c=st.floats(-50, 50),
    u=st.one_of(st.floats(0, 1), st.sampled_from([5e-324, 1e-300, 2.0**-53, 1 - 2.0**-53, 1.0])),
    hazard_ratio=st.one_of(st.floats(1e-9, 1e9), st.sampled_from([RATIO_RANGE[0] ** 3, RATIO_RANGE[1] ** 3])),
)
def test_times_from_accepted_distributions_are_never_undefined(family, a, b, c, u, hazard_ratio):
    """Any distribution that passes the load-time check gives a time >= 0 (or inf) for every uniform
    and hazard ratio the model can produce; never NaN, a negative time or an exception."""
    spec = {
        "exponential": {"rate": b},
        "weibull": {"shape": b, "scale": abs(a) + 1e-6},
        "gompertz": {"shape": c, "rate": b},
        "loglogistic": {"shape": b, "scale": abs(a) + 1e-6},
        "lognormal": {"meanlog": c, "sdlog": b},
        "gamma": {"shape": b, "rate": abs(a) + 1e-6},
        "gengamma": {"mu": c, "sigma": b, "Q": a / 1e5},
    }[family]
    try:
        distribution = build_distribution(family, spec)
    except DistributionError:
        assume(False)
    t = distribution.time_from_uniform(u, hazard_ratio)
    assert t >= 0 and not math.isnan(t)
    assert distribution.time_from_uniform(u / 2, hazard_ratio) >= t * (1 - 1e-9) or u / 2 == 0


SEED_DIR = "scenarios/seed"
CAPACITY = "scenarios/capacity-constrained.yaml"


def _option_cases():
    from simulator.config import MAX_PSA_DRAWS, MAX_PSA_LIFETIMES, MAX_WILLINGNESS_TO_PAY
    from simulator.experiments.calibrate import MAX_EVALUATIONS, MAX_LATIN_HYPERCUBE
    from simulator.experiments.capacity_search import MAX_CAPACITY_STEPS
    from simulator.experiments.execution import MAX_WORKERS

    return {
        "psa draws": (["psa", "{s}", "--draws", "100000000"], f"<= {MAX_PSA_DRAWS}"),
        "psa patients per draw": (["psa", "{s}", "--draws", "10", "--patients", "10000000"], f"at most {MAX_SIMULATED_LIFETIMES}"),
        "psa total work": (["psa", "{s}", "--draws", "100000", "--patients", "2000"], f"at most {MAX_PSA_LIFETIMES}"),
        "run workers": (["run", "{s}", "--workers", "100000"], f"1 to {MAX_WORKERS}"),
        "dask workers": (["psa", "{s}", "--workers", str(MAX_WORKERS + 1), "--executor", "dask"], f"1 to {MAX_WORKERS}"),
        "scenarios workers": (["scenarios", "{s}", "--workers", str(MAX_WORKERS + 1)], f"1 to {MAX_WORKERS}"),
        "dsa wtp": (["dsa", "{s}", "--wtp", "1e12"], f"{MAX_WILLINGNESS_TO_PAY:g}"),
        "dsa strategy": (["dsa", "{s}", "--strategy", "nope"], "--strategy one of"),
        "compare max replications": (["compare", "{s}", "--precision", "0.05", "--max-replications", "100000"], str(MAX_REPLICATIONS)),
        "capacity target": (["capacity", CAPACITY, "--resource", "theatre", "--target-p90-wait", "1e9"], "days from 0 to"),
        "capacity steps": (
            ["capacity", CAPACITY, "--resource", "theatre", "--target-p90-wait", "10", "--max-capacity", "5000"],
            f"at most {MAX_CAPACITY_STEPS} capacities",
        ),
        "capacity sessions": (
            ["capacity", CAPACITY, "--resource", "theatre", "--target-p90-wait", "10", "--vary", "sessions", "--max-sessions", "51"],
            "--max-sessions: expected at most 7 sessions a week",
        ),
        "calibrate evaluations": (["calibrate", "--max-evaluations", "100000"], f"1 to {MAX_EVALUATIONS}"),
        "calibrate hypercube": (["calibrate", "--latin-hypercube", "100000"], f"0 to {MAX_LATIN_HYPERCUBE}"),
        "calibrate fit patients": (["calibrate", "--fit-patients", str(MAX_PATIENTS)], "--fit-patients"),
        "calibrate check patients": (["calibrate", "--check", "--patients", str(MAX_PATIENTS)], str(MAX_SIMULATED_LIFETIMES)),
        "reproduce patients": (["reproduce", "--patients", str(MAX_PATIENTS)], str(MAX_SIMULATED_LIFETIMES)),
    }


@pytest.mark.parametrize("case", sorted(_option_cases()))
def test_every_command_line_option_is_bounded_before_any_work(case, write_scenario, tmp_path, capsys, monkeypatch):
    """Issue 19 item 12: the options obey the file's bounds and the total-work limits, refused in one
    line naming the limit before anything runs or is written."""
    forbid_simulation(monkeypatch)
    monkeypatch.chdir(ROOT)
    argv, limit = _option_cases()[case]
    scenario = write_scenario(tiny_scenario())
    out = tmp_path / "out"
    line = one_error_line(capsys, main([a.replace("{s}", str(scenario)) for a in argv] + ["--out", str(out)]))
    assert limit in line, line
    assert not out.exists()


@pytest.mark.parametrize(
    "economics, limit",
    [
        ({"psa_patients": MAX_SIMULATED_LIFETIMES}, f"at most {MAX_SIMULATED_LIFETIMES} simulated lifetimes in each PSA draw"),
        ({"psa_draws": 100_000, "psa_patients": 1_000}, "simulated lifetimes in a PSA"),
    ],
)
def test_validate_reports_what_psa_would_refuse(economics, limit, write_scenario, capsys):
    """Issue 19 item 14: `validate` accepted a PSA design that `psa` then ran for days or out of memory."""
    path = write_scenario(tiny_scenario(economics=economics))
    line = one_error_line(capsys, main(["validate", str(path)]))
    assert "economics.psa_patients" in line and limit in line, line


@pytest.mark.parametrize("command", [["validate"], ["psa", "--draws", "2", "--patients", "10"]])
def test_psa_draws_outside_the_support_are_refused_by_validate_and_before_psa_runs(command, write_scenario, tmp_path, capsys, monkeypatch):
    """Issue 19 item 14: `validate` accepted a value whose PSA draws all fall outside the support; `psa`
    then failed in the middle of its draws with a line that named no file."""
    forbid_simulation(monkeypatch)
    path = write_scenario(tiny_scenario(parameters={"cost.ablation_procedure": 1e-300}))
    out = tmp_path / "out"
    argv = [command[0], str(path), *command[1:]] + (["--out", str(out)] if command[0] == "psa" else [])
    line = one_error_line(capsys, main(argv))
    assert f"{path}: parameters.cost.ablation_procedure: expected PSA draws inside the parameter's support" in line, line
    assert not out.exists()
