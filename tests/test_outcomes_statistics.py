"""Statistical checks of the comparison's estimators against closed forms (issue 5, criteria 2 and 3).

All data come from numpy generators with fixed seeds, so every run of these tests sees the same
numbers; the tolerances are what the estimators' standard errors allow, derived in each docstring.
Z = 3.29 is the two-sided 99.9% normal quantile: a correct estimator misses it one time in a thousand
seeds, a wrong one (a bias of several standard errors) does not pass.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.config import Scenario
from simulator.experiments.compare import run_replication
from simulator.experiments.runner import prepare
from simulator.outcomes.comparison import summarise_replications
from simulator.outcomes.hazards import hazard_ratios
from simulator.outcomes.metrics import survival_metrics
from simulator.params.parameter_set import load_library

Z = 3.29
RATE = 0.05  # per month: median 13.9 months
TAU = 36.0  # horizon (administrative censoring)


def exponential_cohort(rng: np.random.Generator, n: int, rate: float = RATE, tau: float = TAU) -> pd.DataFrame:
    times = rng.exponential(1.0 / rate, n)
    return pd.DataFrame({"os_months": np.minimum(times, tau), "death": (times < tau).astype(int)})


def rmst_closed_form(rate: float, tau: float) -> float:
    return (1.0 - math.exp(-rate * tau)) / rate


def test_median_rmst_and_landmark_match_exponential_closed_forms():
    """n = 20,000 patients, T ~ Exp(0.05/month), censored at 36 months.

    Median: true ln 2 / lambda. The sample median's asymptotic variance is p(1-p) / (n f(m)^2) with
    p = 1/2 and f(m) = lambda / 2, i.e. 1 / (n lambda^2): SE = 1 / (lambda sqrt(n)) = 0.141 months
    (no censoring before the median, so Kaplan-Meier equals the empirical median there).
    RMST: true (1 - exp(-lambda tau)) / lambda. It is the mean of X = min(T, tau) (censoring only at
    tau), with E[X^2] = 2 (1 - exp(-lambda tau)(1 + lambda tau)) / lambda^2, so SE = sqrt(Var X / n).
    1-year OS: true exp(-12 lambda), binomial SE sqrt(S (1 - S) / n).
    Each estimate must be within Z standard errors of its closed form.
    """
    n = 20_000
    metrics = survival_metrics(exponential_cohort(np.random.default_rng(20240501), n), TAU)
    median_se = 1.0 / (RATE * math.sqrt(n))
    assert abs(metrics["median_os_months"] - math.log(2) / RATE) < Z * median_se
    rmst = rmst_closed_form(RATE, TAU)
    second_moment = 2.0 * (1.0 - math.exp(-RATE * TAU) * (1.0 + RATE * TAU)) / RATE**2
    rmst_se = math.sqrt((second_moment - rmst**2) / n)
    assert abs(metrics["rmst_os_months"] - rmst) < Z * rmst_se
    s12 = math.exp(-12 * RATE)
    assert abs(metrics["os_1y"] - s12) < Z * math.sqrt(s12 * (1 - s12) / n)
    assert "os_5y" not in metrics  # beyond the horizon: not estimated rather than extrapolated


@pytest.mark.slow
def test_replication_intervals_cover_the_true_value():
    """200 independent experiments, each of 3 replications of a small model (100 exponential patients,
    censored at 36 months); per replication the same survival_metrics as the comparison, across
    replications the same t-based 95% interval (summarise_replications).

    If the intervals have their nominal 95% coverage, the number covering is Binomial(200, 0.95):
    mean 190, SD sqrt(200 x 0.95 x 0.05) = 3.08. The accepted band 90-99% (180-198) is 3.2 SD below
    and 2.6 SD above the mean. Each replication's RMST, median and 1-year OS are averages or
    quantiles of 100 patients, close enough to normal for the t interval (2 degrees of freedom) to hold.
    """
    rng = np.random.default_rng(9)
    rows = []
    for experiment in range(200):
        for replication in range(3):
            values = survival_metrics(exponential_cohort(rng, 100), TAU)
            for metric in ("median_os_months", "rmst_os_months", "os_1y"):
                rows.append({"replication": replication, "strategy": f"e{experiment}", "metric": metric, "value": values[metric]})
    summary = summarise_replications(pd.DataFrame(rows), [f"e{i}" for i in range(200)])
    truth = {"median_os_months": math.log(2) / RATE, "rmst_os_months": rmst_closed_form(RATE, TAU), "os_1y": math.exp(-12 * RATE)}
    for metric, value in truth.items():
        part = summary[summary["metric"] == metric]
        assert len(part) == 200 and (part["replications"] == 3).all()
        coverage = ((part["lower_95"] <= value) & (value <= part["upper_95"])).mean()
        assert 0.90 <= coverage <= 0.99, (metric, coverage)


def _two_arm_frame(times: dict[str, np.ndarray], tau: float) -> pd.DataFrame:
    frames = []
    for strategy, t in times.items():
        frames.append(
            pd.DataFrame(
                {
                    "replication": 0,
                    "strategy": strategy,
                    "patient_id": np.arange(t.size),
                    "os_months": np.minimum(t, tau),
                    "death": (t < tau).astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_cox_recovers_a_known_hazard_ratio():
    """Two arms of 10,000 patients with exponential hazards 0.05 and 0.025 (HR 0.5), censored at 120
    months (about 99.8% and 95% die). The Cox estimate of log HR has SE ~ sqrt(1/d1 + 1/d2) = 0.0144,
    so SE(HR) ~ 0.5 x 0.0144 = 0.0072 and Z x SE = 0.024: within the issue's 0.03. Checked twice: with
    independent arms, and with paired arms as common random numbers make them (the same exponential
    draw scaled by each arm's hazard), where the clustered (robust) SE is the right one.
    """
    rng = np.random.default_rng(31)
    n, tau, hr = 10_000, 120.0, 0.5
    independent = _two_arm_frame({"control": rng.exponential(1 / RATE, n), "treated": rng.exponential(1 / (RATE * hr), n)}, tau)
    exposure = rng.exponential(1.0, n)
    paired = _two_arm_frame({"control": exposure / RATE, "treated": exposure / (RATE * hr)}, tau)
    for frame, robust in ((independent, False), (paired, True)):
        row = hazard_ratios(frame, ["control", "treated"], "control", robust=robust).iloc[0]
        se = row["hr"] * row["se_log_hr"]
        assert Z * se <= 0.03
        assert abs(row["hr"] - hr) < Z * se
        assert row["lower_95"] < hr < row["upper_95"]


@pytest.mark.slow
def test_hazard_ratio_through_the_model():
    """End to end through the SimPy model: two strategies whose disease-death hazards differ by a known
    ratio. 'resection' resects everyone at time 0 (resectable cohort, no operative death, complete
    resection, no stay, no recurrence) and then lives with hepatectomy.ned_death_hazard_ratio = 0.5;
    'no-treatment' stays on best supportive care without progression. Covariate hazard ratios are 1,
    so the disease hazard is 0.02/month x 0.5 vs 0.02/month for every patient: HR 0.5.

    Other-cause death (life table, always on) is the same draw for a patient in both arms; it is a
    competing event, so the cause-specific Cox model treats it as censoring and keeps HR 0.5 exact.
    The same patients are in both arms (common random numbers), so the SE is clustered on the patient.
    With 8,000 patients the robust SE of the HR is about 0.004: Z x SE < 0.03.
    """
    library = load_library()
    never = {"distribution": "exponential", "params": {"median": 1e9}}
    parameters = {name: 1.0 for name in library if name.startswith("disease.hr_")}
    parameters.update({name: never for name in library if name.startswith("natural_history.time_to_progression")})
    parameters.update(
        {
            "disease.death_rate": 0.02,
            "hepatectomy.ned_death_hazard_ratio": 0.5,
            "hepatectomy.perioperative_mortality": 0.0,
            "hepatectomy.complete_resection_lt25": 1.0,
            "hepatectomy.complete_resection_25to50": 1.0,
            "hepatectomy.complete_resection_gt50": 1.0,
            "hepatectomy.major_morbidity": 0.0,
            "hepatectomy.length_of_stay_minor_days": 0.0,
            "hepatectomy.length_of_stay_major_days": 0.0,
            "hepatectomy.time_to_recurrence": never,
        }
    )
    scenario = Scenario.model_validate(
        {
            "name": "known-hr",
            "seed": 11,
            "horizon_months": 240,
            "cohort": {
                "size": 8000,
                "age": 18,
                "mix": {"resectable_lt25": 1, "resectable_25to50": 1, "resectable_gt50": 1, "extrahepatic": 0},
            },
            "strategies": [
                {"name": "no-treatment", "rules": [{"treatment": "best_supportive_care"}]},
                {"name": "resection", "rules": [{"treatment": "hepatectomy", "max_uses": 1}]},
            ],
            "parameters": parameters,
        }
    )
    _, patients = run_replication(prepare(scenario, "known-hr.yaml"), 0)
    assert (patients.loc[patients["strategy"] == "resection", "first_treatment"] == "hepatectomy").all()
    assert (patients["progressions"] == 0).all()
    patients["disease_death"] = (patients["death_cause"] == "disease").astype(int)
    row = hazard_ratios(patients, ["no-treatment", "resection"], "no-treatment", event="disease_death", robust=True).iloc[0]
    se = row["hr"] * row["se_log_hr"]
    assert Z * se < 0.03
    assert abs(row["hr"] - 0.5) < Z * se
