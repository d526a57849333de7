"""The burden disease model (issue 16) as a whole: what its structure must show, whatever the fitted values.

Each comparison runs the same patients under both settings (common random numbers), so differences
are paired; tolerances are standard errors of the paired differences or of the Cox estimate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from simulator.config import Scenario
from simulator.experiments.runner import prepare, run_prepared

BURDEN = {"disease.burden_model": 1}
NO_SURGERY = {"resectable_lt25": 0.0, "resectable_25to50": 0.0, "resectable_gt50": 0.0}


def run(strategies, mix, parameters, size=3000, horizon=240.0, seed=16):
    scenario = Scenario.model_validate(
        {
            "name": "burden-test",
            "seed": seed,
            "replications": 1,
            "cohort": {"size": size, "mix": mix},
            "horizon_months": horizon,
            "strategies": strategies,
            "parameters": {**BURDEN, **parameters},
        }
    )
    return run_prepared(prepare(scenario, "burden-test.yaml")).patients


def restricted_mean_difference(first: pd.DataFrame, second: pd.DataFrame) -> tuple[float, float]:
    """Mean paired difference of (horizon-restricted) survival time and its standard error."""
    a = first.sort_values("patient_id")["os_months"].to_numpy()
    b = second.sort_values("patient_id")["os_months"].to_numpy()
    difference = a - b
    return float(difference.mean()), float(difference.std(ddof=1) / math.sqrt(len(difference)))


def test_small_intestinal_primaries_outlive_pancreatic_ones_on_best_supportive_care():
    """Acceptance 4: the pancreatic vs small-intestinal hazard ratio of death lies inside the population
    range, Lesén E et al. J Cancer 2019;10(27):6876-87: HR 1.9 (95% CI 1.1-3.3)."""
    mix = {"primary_small_bowel": 0.5, "primary_pancreas": 0.5, "grade_g2": 0.28, "grade_g3": 0.0, **NO_SURGERY}
    patients = run(["best-supportive-care"], mix, {}, size=4000)
    patients = patients[patients["primary_site"].isin(["pancreas", "small_bowel"])]
    data = pd.DataFrame(
        {
            "t": patients["os_months"].to_numpy(),
            "e": patients["death"].to_numpy(),
            "pancreas": (patients["primary_site"] == "pancreas").astype(int).to_numpy(),
        }
    )
    fit = CoxPHFitter().fit(data, "t", "e")
    hazard_ratio = float(np.exp(fit.params_["pancreas"]))
    assert 1.1 <= hazard_ratio <= 3.3, f"pancreas vs small bowel HR {hazard_ratio:.2f}, published 1.9 (1.1-3.3)"


def test_a_drug_prolongs_survival_only_through_the_burden_it_prevents():
    """Acceptance 5: with every drug's effect on growth set to none, overall survival of the trial arms falls."""
    mix = {"primary_small_bowel": 0.0, "primary_pancreas": 1.0, "grade_g3": 0.0, **NO_SURGERY}
    arm = [{"name": "everolimus", "rules": [{"treatment": "everolimus", "when": {"line": 1}}, {"treatment": "best_supportive_care"}]}]
    with_effect = run(arm, mix, {})
    without = run(arm, mix, {"everolimus.growth_multiplier": 1.0})
    gain, standard_error = restricted_mean_difference(with_effect, without)
    assert gain > 3 * standard_error, f"everolimus gains {gain:.2f} months (SE {standard_error:.2f})"
    # ... and nothing else changes survival: no count of progressions enters the hazard.
    placebo = [{"name": "placebo", "rules": [{"treatment": "placebo", "when": {"line": 1}}, {"treatment": "best_supportive_care"}]}]
    same, _ = restricted_mean_difference(run(placebo, mix, {}), without)
    assert same == 0.0


def test_progressions_alone_do_not_shorten_survival():
    """The hazard depends on the burden, not on how many progressions were recorded: splitting best
    supportive care into many lines (each a 'progression') leaves survival unchanged."""
    mix = {"primary_small_bowel": 1.0, "primary_pancreas": 0.0, **NO_SURGERY}
    one_line = run([{"name": "bsc", "rules": [{"treatment": "best_supportive_care"}]}], mix, {"tumour.growth_sd_log_within_patient": 0.0})
    surveillance = run(
        [{"name": "watch", "rules": [{"treatment": "surveillance", "max_uses": 3}, {"treatment": "best_supportive_care"}]}],
        mix,
        {"tumour.growth_sd_log_within_patient": 0.0},
    )
    difference, _ = restricted_mean_difference(one_line, surveillance)
    assert difference == 0.0
    assert (surveillance["progressions"] >= one_line["progressions"]).all()


def test_resectable_patients_are_selected_for_slow_growth():
    """Selection is separate from treatment effect: with the selection correlation on, resectable patients
    outlive unresectable ones on best supportive care, though no one is operated on."""
    mix = {"resectable_lt25": 0.5, "resectable_25to50": 0.5, "resectable_gt50": 0.5, "extrahepatic": 0.0}
    patients = run(["best-supportive-care"], mix, {"tumour.selection_correlation": 0.5}, size=4000)
    resectable = patients[patients["resectable"]]["os_months"]
    unresectable = patients[~patients["resectable"]]["os_months"]
    difference = resectable.mean() - unresectable.mean()
    standard_error = math.sqrt(resectable.var() / len(resectable) + unresectable.var() / len(unresectable))
    assert difference > 3 * standard_error
    none = run(["best-supportive-care"], mix, {"tumour.selection_correlation": 0.0}, size=4000)
    difference_none = none[none["resectable"]]["os_months"].mean() - none[~none["resectable"]]["os_months"].mean()
    assert difference_none < difference
