"""The burden disease model (issue 16) as a whole: what its structure must show, whatever the fitted values.

Each comparison runs the same patients under both settings (common random numbers), so differences
are paired; tolerances are standard errors of the paired differences or of the Cox estimate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from simulator.config import Scenario
from simulator.experiments.identifiability import near_bound
from simulator.experiments.runner import prepare, run_prepared
from simulator.params.parameter_set import load_library

BURDEN = {"disease.burden_model": 1}
NO_SURGERY = {"resectable_lt25": 0.0, "resectable_25to50": 0.0, "resectable_gt50": 0.0}


def run(strategies, mix, parameters, size=3000, horizon=240.0, seed=16):
    return run_result(strategies, mix, parameters, size, horizon, seed)[1].patients


def run_result(strategies, mix, parameters, size=3000, horizon=240.0, seed=16):
    """(prepared scenario, run result) of a cohort under the burden model."""
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
    prepared = prepare(scenario, "burden-test.yaml")
    return prepared, run_prepared(prepared)


def restricted_mean_difference(first: pd.DataFrame, second: pd.DataFrame) -> tuple[float, float]:
    """Mean paired difference of (horizon-restricted) survival time and its standard error."""
    a = first.sort_values("patient_id")["os_months"].to_numpy()
    b = second.sort_values("patient_id")["os_months"].to_numpy()
    difference = a - b
    return float(difference.mean()), float(difference.std(ddof=1) / math.sqrt(len(difference)))


def fitted_within_ranges() -> dict[str, tuple[float, float, float]]:
    """The parameters the burden model's fit moves (library entries with a calibration_range): name ->
    (library value, lower bound, upper bound)."""
    return {
        name: (float(entry.value), *entry.calibration_range)
        for name, (entry, _) in load_library().items()
        if entry.calibration_range is not None
    }


def test_every_parameter_the_burden_fit_moves_has_a_sourced_range_that_holds_its_value():
    """Acceptance 3, first half: the ranges the fit searches are written once, in the library, each with
    its source (the schema refuses a range without one), and the library's fitted value lies inside."""
    ranges = fitted_within_ranges()
    # The 17 the fit moves since the tenth step, and since the sixteenth the extrahepatic ratio at entry and
    # the two of indolence (docs/calibration.md): a range lost by accident shows here.
    assert set(ranges) == {
        "tumour.growth_rate_small_bowel",
        "tumour.growth_rate_pancreas",
        "tumour.growth_sd_log",
        "tumour.growth_within_patient_share",
        "tumour.new_lesion_growth",
        "tumour.reference_death_hazard",
        "tumour.burden_free_death_hazard",
        "tumour.burden_hazard_exponent",
        "tumour.residual_after_complete_resection",
        "tumour.residual_after_ablation",
        "tumour.residual_sd_log",
        "tumour.pancreas_death_hazard_ratio",
        "prrt.growth_multiplier",
        "octreotide_lar.growth_reduction",
        "everolimus.growth_reduction",
        "sunitinib.growth_reduction",
        "ssa.rechallenge_growth_reduction",
        "tumour.extrahepatic_entry_hazard_ratio",
        "tumour.growth_hazard_exponent",
        "tumour.selection_correlation",
    }
    outside = {name: found for name, found in ranges.items() if not found[1] <= found[0] <= found[2]}
    assert outside == {}


def test_no_parameter_of_the_burden_fit_ends_within_5_percent_of_a_bound():
    near = {name: found for name, found in fitted_within_ranges().items() if near_bound(*found)}
    assert near == {}


def test_small_intestinal_primaries_outlive_pancreatic_ones_on_best_supportive_care():
    """Acceptance 4: the pancreatic vs small-intestinal hazard ratio of death lies inside the population
    range, Lesén E et al. J Cancer 2019;10(27):6876-87: HR 1.9 (95% CI 1.1-3.3). The model's estimate
    is a sample of 4,000 patients: its own 95% confidence interval must lie inside the range, so that a
    model HR at the edge does not pass or fail by the draw of the seed. The traits follow the library's
    joint distribution (function and grade by site), as in the population the HR was measured in."""
    # Lesén's regional cohort (abstract): 72% grade 1, 50% functioning; no G3 (G1/G2 only).
    mix = {"primary_small_bowel": 0.5, "primary_pancreas": 0.5, "grade_g2": 0.28, "grade_g3": 0.0, "functional": 0.5, **NO_SURGERY}
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
    lower, upper = np.exp(fit.confidence_intervals_.loc["pancreas"].to_numpy())
    assert 1.1 <= lower and upper <= 3.3, (
        f"pancreas vs small bowel HR {hazard_ratio:.2f} ({lower:.2f}-{upper:.2f}), published 1.9 (1.1-3.3)"
    )


def test_a_drug_prolongs_survival_only_through_the_burden_it_prevents():
    """Acceptance 5: with every drug's effect on growth set to none, overall survival of the trial arms falls."""
    mix = {"primary_small_bowel": 0.0, "primary_pancreas": 1.0, "grade_g3": 0.0, **NO_SURGERY}
    arm = [{"name": "everolimus", "rules": [{"treatment": "everolimus", "when": {"line": 1}}, {"treatment": "best_supportive_care"}]}]
    with_effect = run(arm, mix, {})
    # No effect under either reading of tumour.additive_growth_effect: a ratio of 1, a reduction of 0.
    without = run(arm, mix, {"everolimus.growth_multiplier": 1.0, "everolimus.growth_reduction": 0.0})
    gain, standard_error = restricted_mean_difference(with_effect, without)
    assert gain > 3 * standard_error, f"everolimus gains {gain:.2f} months (SE {standard_error:.2f})"
    # ... and nothing else changes survival: no count of progressions enters the hazard.
    placebo = [{"name": "placebo", "rules": [{"treatment": "placebo", "when": {"line": 1}}, {"treatment": "best_supportive_care"}]}]
    same, _ = restricted_mean_difference(run(placebo, mix, {}), without)
    assert same == 0.0


def test_a_targeted_drug_that_acquires_resistance_never_holds_a_tumour_longer():
    """Acquired resistance (tumour.targeted_resistance_rate) only ends an effect: with the same draws, no patient
    stays free of progression on everolimus longer than without it, and some progress sooner. A drug lost
    at once is a placebo, patient by patient."""
    mix = {"primary_small_bowel": 0.0, "primary_pancreas": 1.0, "grade_g3": 0.0, **NO_SURGERY}
    drug = [{"name": "everolimus", "rules": [{"treatment": "everolimus", "when": {"line": 1}}, {"treatment": "best_supportive_care"}]}]
    placebo = [{"name": "placebo", "rules": [{"treatment": "placebo", "when": {"line": 1}}, {"treatment": "best_supportive_care"}]}]
    lasting = run(drug, mix, {"tumour.targeted_resistance_rate": 0.0}, size=2000).set_index("patient_id")
    waning = run(drug, mix, {"tumour.targeted_resistance_rate": 0.05}, size=2000).set_index("patient_id")
    assert (waning["pfs1_months"] <= lasting["pfs1_months"] + 1e-9).all()
    assert (waning["pfs1_months"] < lasting["pfs1_months"] - 1e-6).mean() > 0.2
    at_once = run(drug, mix, {"tumour.targeted_resistance_rate": 1e12}, size=2000).set_index("patient_id")
    none = run(placebo, mix, {}, size=2000).set_index("patient_id")
    assert np.allclose(at_once["pfs1_months"], none["pfs1_months"], rtol=0, atol=1e-6)
    assert (at_once["pfs1_event"] == none["pfs1_event"]).all()


def test_progressions_alone_do_not_shorten_survival():
    """The hazard depends on the burden, not on how many progressions were recorded: splitting best
    supportive care into many lines (each a 'progression') leaves survival unchanged."""
    mix = {"primary_small_bowel": 1.0, "primary_pancreas": 0.0, **NO_SURGERY}
    one_line = run([{"name": "bsc", "rules": [{"treatment": "best_supportive_care"}]}], mix, {"tumour.growth_within_patient_share": 0.0})
    surveillance = run(
        [{"name": "watch", "rules": [{"treatment": "surveillance", "max_uses": 3}, {"treatment": "best_supportive_care"}]}],
        mix,
        {"tumour.growth_within_patient_share": 0.0},
    )
    difference, _ = restricted_mean_difference(one_line, surveillance)
    # Equal up to rounding: the death clock is settled at each restaging, which the two runs do at different times.
    assert abs(difference) < 1e-9
    assert (surveillance["progressions"] >= one_line["progressions"]).all()


def test_restaging_without_treatment_draws_no_new_growth():
    """On best supportive care each progression is a restaging, not a change of treatment: the growth goes
    on as it was, so how often progression is declared (here through the new-lesion threshold) changes the
    count of progressions but not survival, with the library's variation of growth between lines on."""
    mix = {"primary_small_bowel": 0.5, "primary_pancreas": 0.5, **NO_SURGERY}
    bsc = [{"name": "bsc", "rules": [NEVER_APPLIES, {"treatment": "best_supportive_care"}]}]
    often = run(bsc, mix, {"tumour.new_lesion_growth": 0.15}, size=2000)
    rarely = run(bsc, mix, {"tumour.new_lesion_growth": 0.5}, size=2000)
    assert often["progressions"].sum() > 1.5 * rarely["progressions"].sum()
    # Equal up to rounding: the death clock is settled at every restaging, at different times in the two runs.
    os_often, os_rarely = (frame.sort_values("patient_id")["os_months"].to_numpy() for frame in (often, rarely))
    assert np.abs(os_often - os_rarely).max() < 1e-6


# A rule that never applies within the horizon but could (min_months only comes to hold), so the patient is
# never settled (Strategy.settled) and every progression on supportive care is followed by a restaging.
NEVER_APPLIES = {"treatment": "captem", "when": {"min_months": 1000}}


def test_patients_with_nothing_left_are_not_restaged_and_lose_nothing():
    """Once a progression has been seen on supportive care and no rule can apply again, a further restaging
    would change no treatment, no symptom and no survival, so the patient is followed without it. The run
    gives what the same strategy gives with a rule that keeps every patient restaged: survival, symptom
    months, costs and QALYs per patient, with hormonal syndromes, an analogue for them and telotristat."""
    from simulator.economics.settings import EconomicSettings
    from simulator.economics.valuation import value_patients

    mix = {"primary_small_bowel": 0.5, "primary_pancreas": 0.5, "functional": 0.6, **NO_SURGERY}
    care = [{"treatment": "octreotide_lar", "when": {"functional": True}, "max_uses": 1}, {"treatment": "best_supportive_care"}]
    runs = {}
    for name, rules in (("settled", care), ("restaged", [NEVER_APPLIES, *care])):
        prepared, result = run_result([{"name": "care", "rules": rules, "telotristat": True}], mix, {}, size=2000)
        values = value_patients(result.events, result.patients, prepared.params, EconomicSettings.from_scenario(prepared.scenario))
        runs[name] = result.patients.merge(values, on=["replication", "strategy", "patient_id"]).sort_values("patient_id")
        if name == "settled":  # the run exercises what a restaging could change: symptoms and telotristat
            assert (result.events["detail"] == "telotristat").sum() > 20
            assert (result.patients["symptom_control_months"] > 0).sum() > 200
    settled, restaged = runs["settled"], runs["restaged"]
    assert restaged["progressions"].sum() > 1.5 * settled["progressions"].sum()
    for column in ("os_months", "months_uncontrolled", "symptom_control_months", "qalys", "costs", "cost_drugs", "cost_follow_up"):
        a, b = settled[column].to_numpy(dtype=float), restaged[column].to_numpy(dtype=float)
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), column


def cohort_growth(correlation: float, size: int = 20_000):
    from simulator.core.rng import RandomStreams
    from simulator.engine.cohort import build_cohort
    from simulator.params.parameter_set import build_parameter_set

    mix = {"cohort.resectable_lt25": 0.5, "cohort.resectable_25to50": 0.5, "cohort.resectable_gt50": 0.5}
    params = build_parameter_set({**BURDEN, **mix, "tumour.selection_correlation": correlation})
    cohort = build_cohort(params, RandomStreams(16, 0), size)
    z = np.array([p.growth_z for p in cohort])
    resectable = np.array([p.resectable for p in cohort])
    return z[resectable], z[~resectable]


def test_resectable_patients_are_selected_for_slow_growth():
    """Selection is separate from treatment effect: with the selection correlation on, resectable patients
    grow more slowly than unresectable ones at entry; without it, they do not."""
    for correlation, selected in ((0.5, True), (0.0, False)):
        resectable, unresectable = cohort_growth(correlation)
        difference = unresectable.mean() - resectable.mean()
        standard_error = math.sqrt(resectable.var() / len(resectable) + unresectable.var() / len(unresectable))
        if selected:
            assert difference > 3 * standard_error, (correlation, difference, standard_error)
        else:
            assert abs(difference) < 3 * standard_error, (correlation, difference, standard_error)


def test_selection_makes_resectable_patients_live_longer_without_any_operation():
    mix = {"resectable_lt25": 0.5, "resectable_25to50": 0.5, "resectable_gt50": 0.5, "extrahepatic": 0.0}
    gaps = []
    for correlation in (0.0, 0.8):
        patients = run(["best-supportive-care"], mix, {"tumour.selection_correlation": correlation}, size=4000)
        gaps.append(patients[patients["resectable"]]["os_months"].mean() - patients[~patients["resectable"]]["os_months"].mean())
    assert gaps[1] > gaps[0]


def test_hepatic_load_from_a_distribution_sets_each_patients_band():
    """Scenario vocabulary (issue 16 item 6): a continuous hepatic load instead of the band mix."""
    from simulator.core.rng import RandomStreams
    from simulator.engine.cohort import build_cohort
    from simulator.params.parameter_set import build_parameter_set

    params = build_parameter_set({**BURDEN, "cohort.hepatic_load_median": 0.05, "cohort.hepatic_load_sd_log": 1.0})
    cohort = build_cohort(params, RandomStreams(16, 0), 20_000)
    load = np.array([p.hepatic_load for p in cohort])
    band = np.array([p.burden for p in cohort])
    assert ((band == "lt25") == (load < 0.25)).all() and ((band == "gt50") == (load >= 0.5)).all()
    # The median of a log-normal survives the truncation at 1% and 90% (both far in its tails here).
    share_below = float(np.mean(load <= 0.05))
    assert abs(share_below - 0.5) < 4 * math.sqrt(0.25 / len(load))
    # PROMID's split (64 of 85 at or below 10%, Rinke 2017) is what a median of 5% and spread 1 give.
    expected = 0.5 * (1 + math.erf(math.log(0.10 / 0.05) / math.sqrt(2)))
    assert abs(float(np.mean(load <= 0.10)) - expected) < 4 * math.sqrt(expected * (1 - expected) / len(load))


def test_less_disease_left_by_ablation_means_later_recurrence():
    """Ablation's residual disease (tumour.residual_after_ablation), not the resection's, sets when
    disease recurs after ablation: a smaller residual delays every patient's recurrence (paired)."""
    mix = {"extrahepatic": 0.0, "burden_25to50": 0.0, "burden_gt50": 0.0, **NO_SURGERY}
    strategies = [{"name": "ablation-only", "rules": [{"treatment": "ablation", "max_uses": 1}]}]
    fixed = {"tumour.residual_after_complete_resection": 0.5}
    more = run(strategies, mix, {**fixed, "tumour.residual_after_ablation": 0.5}, size=400, horizon=120.0).sort_values("patient_id")
    less = run(strategies, mix, {**fixed, "tumour.residual_after_ablation": 0.05}, size=400, horizon=120.0).sort_values("patient_id")
    both = more["pfs1_event"].to_numpy().astype(bool) & less["pfs1_event"].to_numpy().astype(bool)
    later = less["pfs1_months"].to_numpy()[both] - more["pfs1_months"].to_numpy()[both]
    assert both.sum() > 100
    # Same patients, same growth: a residual ten times smaller recurs later (a death may intervene in between).
    assert np.all(later >= -1e-9)
    assert later.mean() > 0


def test_deaths_the_burden_does_not_explain_come_at_their_constant_rate():
    """``tumour.burden_free_death_hazard`` is a constant disease hazard beside the burden's: with the
    burden's own hazard at 0, disease deaths are a Poisson count with mean hazard x person-months at
    risk (the martingale property of a constant hazard), and at 0 it takes no patient's life."""
    mix = {"primary_small_bowel": 1.0, "primary_pancreas": 0.0, **NO_SURGERY}
    hazard = 0.002
    no_burden_deaths = {"tumour.reference_death_hazard": 0.0}
    patients = run(["best-supportive-care"], mix, {**no_burden_deaths, "tumour.burden_free_death_hazard": hazard}, size=2000, horizon=120.0)
    deaths = int((patients["death_cause"] == "disease").sum())
    expected = hazard * float(patients["os_months"].sum())
    assert abs(deaths - expected) <= 3.0 * math.sqrt(expected), f"{deaths} disease deaths, expected {expected:.1f}"
    without = run(["best-supportive-care"], mix, {**no_burden_deaths, "tumour.burden_free_death_hazard": 0.0}, size=2000, horizon=120.0)
    assert int((without["death_cause"] == "disease").sum()) == 0


def natural_times_to_progression(params, cohort, line: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's natural time to progression (RECIST volume growth or a new lesion, whichever is first)
    at the growth of the line running at entry, and the volume-only time: its lifelong rate times the line's
    factor, the patient's own (``entry_line_growth``) or, for a cohort whose course before entry is not
    conditioned, ``line`` (log factors drawn by the test)."""
    from simulator.engine.tumour import GrowthDistribution, median_growth_rate

    distribution = GrowthDistribution.from_parameters(params.value)
    growth = np.array([median_growth_rate(params.value, p.primary_site, p.grade) for p in cohort])
    factors = np.array([p.entry_line_growth for p in cohort]) if line is None else line
    factors = np.nan_to_num(factors, nan=0.0)  # no entry line (tumour.entry_line_continues 0): the lifelong rate
    growth *= np.exp(distribution.log_deviation(np.array([p.growth_z for p in cohort])) + factors)
    by_volume = math.log(params.value("tumour.progression_volume_ratio")) / growth
    lesions = params.value("tumour.new_lesion_growth")
    return (np.minimum(by_volume, lesions / growth) if lesions > 0 else by_volume), by_volume


@pytest.mark.parametrize("continues", [0, 1])
def test_disease_before_entry_weights_each_patient_by_the_chance_of_its_last_progression_in_the_window(continues):
    """``cohort.progressed_within_months`` W and ``cohort.stable_for_months`` S enrol a patient whose disease
    progresses every T months with the chance that its last progression came between S and W months
    before entry, max(0, min(W, T) - S) / T (engine/cohort.py ``last_progression_in_window``), whichever way
    it progresses (volume or new lesion), T at the growth of the line running then (with
    tumour.entry_line_continues 1, the patient's rate times that line's factor; at 0, the lifelong rate): the
    conditioned cohort must match the unconditioned one (each patient with a line factor of its own, or none)
    reweighted by that chance within each primary site and grade (the scenario's mix is the enrolled one).
    The share of patients with T > W (slow growers found progressing), the share with T <= 2 S and the
    mean of log T are compared with their importance-weighted expectations, within 4 standard errors of
    the two samples."""
    from simulator.core.rng import RandomStreams
    from simulator.engine.cohort import build_cohort
    from simulator.engine.tumour import within_patient_spread
    from simulator.params.parameter_set import build_parameter_set

    size = 20000
    # A between-patient spread of growth wide enough that slow growers (T beyond a 24-month window) are drawn
    # at all, whatever the library's fitted spreads: the statement tested is about the weighting, not them.
    wide = {**BURDEN, "tumour.growth_sd_log": 1.0, "tumour.growth_within_patient_share": 0.5, "tumour.entry_line_continues": continues}
    for window, stable, lesions in ((12.0, 0.0, 0.0), (12.0, 0.0, 0.2), (0.0, 3.0, 0.2), (24.0, 3.0, 0.2)):
        free = build_parameter_set({**wide, "tumour.new_lesion_growth": lesions})
        cohort = build_cohort(free, RandomStreams(16, 0), size)
        assert all(math.isnan(p.entry_line_growth) for p in cohort)  # unconditioned: the first line draws its own
        line = within_patient_spread(free.value) * np.random.default_rng(18).standard_normal(size) if continues else np.zeros(size)
        natural, _ = natural_times_to_progression(free, cohort, line)
        weight = np.maximum(0.0, np.minimum(window or np.inf, natural) - stable) / natural
        group = np.array([f"{p.primary_site} {p.grade}" for p in cohort])
        for name in np.unique(group):
            weight[group == name] *= (group == name).sum() / weight[group == name].sum()
        conditions = {"cohort.progressed_within_months": window, "cohort.stable_for_months": stable}
        conditioned = build_parameter_set({**wide, **conditions, "tumour.new_lesion_growth": lesions})
        observed, by_volume = natural_times_to_progression(conditioned, build_cohort(conditioned, RandomStreams(17, 0), size))
        for statistic, values, reference in (
            ("share slower than the window", observed > (window or np.inf), natural > (window or np.inf)),
            ("share within twice the stable period", observed <= 2 * stable, natural <= 2 * stable),
            ("mean log time to progression", np.log(observed), np.log(natural)),
        ):
            values, reference = values.astype(float), reference.astype(float)
            expected = float(np.sum(weight * reference) / np.sum(weight))
            # The standard error of a ratio (importance-weighted) estimate beside that of a plain mean.
            effective = np.sum(weight) ** 2 / np.sum(weight**2)
            spread = math.sqrt(np.sum(weight * (reference - expected) ** 2) / np.sum(weight))
            standard_error = math.hypot(values.std() / math.sqrt(size), spread / math.sqrt(effective))
            assert abs(values.mean() - expected) <= 4 * standard_error + 1e-12, (conditions, lesions, statistic, values.mean(), expected)
        assert observed.min() > stable  # no one progressed in the stable period
        if window:
            assert (observed > window).any()  # slow growers still enter, less often (none under a truncation)
        if window and lesions:  # and some enter by a new lesion although their volume would not have grown enough
            assert (by_volume > window).mean() > (observed > window).mean()


def test_the_first_line_goes_on_at_the_growth_shown_before_entry():
    """A trial of stable disease (cohort.stable_for_months) selects patients on the growth of the line running
    before entry, and nothing separates that line from the first one after entry: on supportive care from entry
    (no treatment effect, no reading error, progression by volume alone), each patient's time to first
    progression is the RECIST volume ratio over the growth the cohort drew for it, its lifelong rate times
    its entry line's factor, to rounding."""
    from simulator.core.rng import RandomStreams
    from simulator.engine.cohort import build_cohort
    from simulator.engine.tumour import GrowthDistribution, median_growth_rate

    parameters = {
        "cohort.stable_for_months": 6,
        "tumour.entry_line_continues": 1,
        "tumour.progression_reading_sd_log": 0.0,
        "tumour.new_lesion_growth": 0.0,
    }
    strategies = [{"name": "care", "rules": [NEVER_APPLIES, {"treatment": "best_supportive_care"}]}]
    # Under a quarter of the liver: the volume ratio is reached before the whole liver is.
    mix = {"extrahepatic": 0.0, "primary_small_bowel": 0.5, "primary_pancreas": 0.5, "burden_25to50": 0.0, "burden_gt50": 0.0, **NO_SURGERY}
    prepared, result = run_result(strategies, mix, parameters, size=2000, horizon=600.0)
    cohort = build_cohort(prepared.params, RandomStreams(prepared.scenario.seed, 0), 2000)
    value = prepared.params.value
    distribution = GrowthDistribution.from_parameters(value)
    line = np.array([p.entry_line_growth for p in cohort])
    assert np.isfinite(line).all() and line.std() > 0.1  # every patient's entry line was drawn, and they differ
    growth = np.array(
        [median_growth_rate(value, p.primary_site, p.grade) * math.exp(distribution.log_deviation(p.growth_z)) for p in cohort]
    )
    growth *= np.exp(line)
    patients = result.patients.sort_values("patient_id")
    alive = patients["os_months"].to_numpy()
    # Progressions, not deaths (a death also ends a line's progression-free survival).
    first = (patients["pfs1_event"].to_numpy() == 1) & (alive > patients["pfs1_months"].to_numpy())
    assert first.mean() > 0.5
    ratio = math.log(value("tumour.progression_volume_ratio"))
    expected = ratio / growth
    assert np.allclose(patients["pfs1_months"].to_numpy()[first], expected[first], rtol=1e-6)


def test_indolence_lowers_the_death_hazard_at_the_same_burden_and_keeps_the_mean():
    """tumour.growth_hazard_exponent (indolence as a frailty): a patient's hazard scale is that of the
    burden times exp(exponent x the lifelong log growth deviation), less the offset that keeps its mean
    over log-normal deviations; at 0 every patient of the same site and extrahepatic status has the same
    scale. Checked on the cohort itself: the ratio per patient exactly, the mean within 3 standard errors."""
    from simulator.core.rng import RandomStreams
    from simulator.engine.cohort import build_cohort
    from simulator.engine.model import PathwayModel

    exponent = 1.5
    scenario = Scenario.model_validate(
        {
            "name": "frailty",
            "seed": 7,
            "cohort": {
                "size": 4000,
                "mix": {"extrahepatic": 0.0, "primary_small_bowel": 1.0, "primary_pancreas": 0.0, "grade_g2": 0.0, "grade_g3": 0.0},
            },
            "horizon_months": 120,
            "strategies": ["best-supportive-care"],
            # No selection for resection: the cohort's growth deviates are then the referral population's, over
            # which the offset keeps the mean (a resectable share above the referral one selects slow growers).
            "parameters": {**BURDEN, "tumour.growth_hazard_exponent": exponent, "tumour.selection_correlation": 0.0},
        }
    )
    prepared = prepare(scenario, "frailty.yaml")
    cohort = build_cohort(prepared.params, RandomStreams(scenario.seed, 0), 4000)
    model = PathwayModel(prepared.params, prepared.strategies[0], cohort, 120.0, RandomStreams(scenario.seed, 0), 0)
    plain = PathwayModel(
        prepare(
            scenario.model_copy(update={"parameters": {**scenario.parameters, "tumour.growth_hazard_exponent": 0.0}}), "plain.yaml"
        ).params,
        prepared.strategies[0],
        cohort,
        120.0,
        RandomStreams(scenario.seed, 0),
        0,
    )
    ratios = np.array([model.tumour_state(p).scale / plain.tumour_state(p).scale for p in cohort])
    deviations = np.array([model.growth_distribution.log_deviation(p.growth_z) for p in cohort])
    spread = model.growth_distribution.spread
    np.testing.assert_allclose(ratios, np.exp(exponent * deviations - 0.5 * (exponent * spread) ** 2), rtol=1e-12)
    order = np.argsort(deviations)
    assert np.all(np.diff(ratios[order]) >= 0) and ratios[order][-1] > ratios[order][0]  # a faster grower, a higher hazard
    assert abs(ratios.mean() - 1.0) < 3 * ratios.std(ddof=1) / math.sqrt(len(ratios))
