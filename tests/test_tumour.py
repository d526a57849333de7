"""The burden model's closed-form event times (simulator/engine/tumour.py) against direct computation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, special

from simulator.engine.tumour import GompertzTumourState, GrowthDistribution, TumourModel, TumourState

MODEL = TumourModel(
    log_reference_burden=math.log(0.1),
    reference_hazard=0.002,
    burden_exponent=1.3,
    extrahepatic_hazard_ratio=3.0,
    log_progression_ratio=math.log(1.728),
    log_detection_burden=math.log(0.001),
)


def numeric_cumulative_hazard(state: TumourState, now: float, step: float) -> float:
    value, _ = integrate.quad(state.hazard, now, now + step, limit=200, points=[now + state.months_until_full(now)])
    return value


@pytest.mark.parametrize("load, growth, extrahepatic", [(0.05, 0.09, False), (0.4, 0.2, True), (0.002, 0.0, False), (0.95, 0.5, False)])
def test_cumulative_hazard_is_the_integral_of_the_hazard(load, growth, extrahepatic):
    state = TumourState(MODEL, math.log(load), growth, extrahepatic)
    for step in (0.5, 3.0, 24.0, 120.0):
        assert state.cumulative_hazard(0.0, step) == pytest.approx(numeric_cumulative_hazard(state, 0.0, step), rel=1e-6)


@pytest.mark.parametrize("load, growth", [(0.05, 0.09), (0.4, 0.2), (0.002, 0.0), (0.95, 0.5), (0.01, 0.03)])
def test_time_to_death_inverts_the_cumulative_hazard(load, growth):
    state = TumourState(MODEL, math.log(load), growth, False)
    for exposure in (0.01, 0.5, 1.0, 4.0):
        t = state.time_to_death(0.0, exposure)
        assert state.cumulative_hazard(0.0, t) == pytest.approx(exposure, rel=1e-9)


def test_the_hazard_stops_rising_when_the_liver_is_full():
    state = TumourState(MODEL, math.log(0.5), 0.1, False)
    full_at = math.log(2.0) / 0.1
    assert state.hazard(full_at + 10.0) == pytest.approx(state.hazard(full_at))
    assert state.log_burden(full_at + 10.0) == 0.0


def test_progression_is_a_recist_increase_from_the_nadir_of_the_line():
    state = TumourState(MODEL, math.log(0.05), 0.1, False)
    state.start_line(0.0, 0.5)  # a drug halving the growth rate
    ttp = state.time_to_progression(0.0)
    assert ttp == pytest.approx(math.log(1.728) / 0.05)
    assert math.exp(state.log_burden(ttp)) == pytest.approx(0.05 * 1.728)
    # Shrinkage sets a new nadir: progression is measured from it, not from the start of the line.
    state.shrink(2.0, 0.343)
    nadir = state.log_burden(2.0)
    assert state.time_to_progression(2.0) == pytest.approx(math.log(1.728) / 0.05)
    assert state.nadir_log_burden == pytest.approx(nadir)


def test_recurrence_is_residual_disease_growing_back_to_detection():
    state = TumourState(MODEL, math.log(0.2), 0.05, False)
    state.start_line(1.0, 1.0)
    state.leave_residual(1.0, 0.3)
    assert state.time_to_recurrence(1.0) == pytest.approx(-math.log(0.3) / 0.05)
    # Small disease carries a small hazard: the residual's hazard is far below the entry burden's.
    assert state.hazard(1.0) < 0.01 * TumourState(MODEL, math.log(0.2), 0.05, False).hazard(0.0)


def test_disease_that_fills_the_liver_progresses_once_then_no_more():
    state = TumourState(MODEL, math.log(0.8), 0.2, False)
    state.start_line(0.0, 1.0)
    fill = state.time_to_progression(0.0)
    assert fill == pytest.approx(-math.log(0.8) / 0.2)
    state.start_line(fill, 1.0)
    assert state.time_to_progression(fill) == math.inf


def test_no_growth_means_no_progression_and_a_constant_hazard():
    state = TumourState(MODEL, math.log(0.1), 0.0, True)
    assert state.time_to_progression(0.0) == math.inf
    assert state.hazard(0.0) == pytest.approx(0.002 * 3.0)
    assert state.time_to_death(0.0, 1.0) == pytest.approx(1.0 / 0.006)


def test_time_to_death_agrees_with_a_simulated_hazard():
    """Death times drawn by inversion have the survival the hazard implies (Monte Carlo, fixed seed)."""
    rng = np.random.default_rng(16)
    state = TumourState(MODEL, math.log(0.1), 0.08, False)
    times = np.array([state.time_to_death(0.0, e) for e in rng.exponential(size=20_000)])
    for t in (12.0, 36.0, 60.0):
        expected = math.exp(-state.cumulative_hazard(0.0, t))
        share = float(np.mean(times > t))
        standard_error = math.sqrt(expected * (1 - expected) / len(times))
        assert abs(share - expected) < 4 * standard_error


@pytest.mark.parametrize("load, growth, extrahepatic", [(0.05, 0.09, False), (0.4, 0.2, True), (0.0003, 0.05, False), (0.9, 0.5, False)])
def test_gompertz_cumulative_hazard_is_the_integral_and_death_times_invert_it(load, growth, extrahepatic):
    state = GompertzTumourState(MODEL, math.log(load), growth, extrahepatic)
    for step in (0.5, 12.0, 60.0, 240.0):
        numeric, _ = integrate.quad(state.hazard, 0.0, step, limit=200)
        assert state.cumulative_hazard(0.0, step) == pytest.approx(numeric, rel=1e-7)
    for exposure in (1e-4, 0.01, 0.5, 1.0, 5.0, 50.0):
        t = state.time_to_death(0.0, exposure)
        assert state.cumulative_hazard(0.0, t) == pytest.approx(exposure, rel=1e-8)


def test_gompertz_growth_matches_the_exponential_law_at_the_reference_burden_and_slows_above_it():
    exponential = TumourState(MODEL, math.log(0.1), 0.09, False)
    gompertz = GompertzTumourState(MODEL, math.log(0.1), 0.09, False)
    dt = 1e-6
    rate = (gompertz.log_burden(dt) - gompertz.log_burden(0.0)) / dt
    assert rate == pytest.approx(exponential.growth, rel=1e-4)
    # From 10% the Gompertz tumour takes longer to double than the exponential one, and never fills the liver.
    assert gompertz.time_to_reach(0.0, math.log(0.2)) > exponential.time_to_reach(0.0, math.log(0.2))
    assert gompertz.time_to_reach(0.0, 0.0) == math.inf
    gompertz.start_line(0.0, 1.0)
    x = gompertz.log_burden(0.0)
    assert gompertz.time_to_progression(0.0) == pytest.approx(math.log(x / (x + math.log(1.728))) / gompertz.growth)


def mixture_cdf(distribution: GrowthDistribution, x: np.ndarray) -> np.ndarray:
    shift = math.log(distribution.indolent_ratio)
    share, spread = distribution.indolent_share, distribution.spread
    return (1 - share) * special.ndtr(x / spread) + share * special.ndtr((x - shift) / spread)


@pytest.mark.parametrize("spread, share, ratio", [(0.4, 0.3, 0.2), (0.8, 0.6, 0.05), (0.5, 0.05, 0.5)])
def test_growth_mixture_deviate_is_the_quantile_of_the_mixture(spread, share, ratio):
    distribution = GrowthDistribution(spread, share, ratio)
    z = np.linspace(-6.5, 6.5, 201)
    x = distribution.log_deviation(z)
    # The share of patients growing more slowly than x is the normal probability of the deviate.
    np.testing.assert_allclose(mixture_cdf(distribution, x), special.ndtr(z), atol=1e-6)
    np.testing.assert_allclose(distribution.deviate(x), z, atol=1e-6)
    assert np.all(np.diff(x) > 0)


def test_growth_mixture_puts_the_indolent_share_at_the_indolent_rate():
    distribution = GrowthDistribution(0.3, 0.4, 0.1)
    z = special.ndtri(np.linspace(0.0005, 0.9995, 2000))  # an even grid of the population's quantiles
    x = distribution.log_deviation(z)
    # Components 7.7 spreads apart barely overlap: about 40% sit near log(0.1), the rest near 0.
    assert np.mean(x < math.log(0.1) / 2) == pytest.approx(0.4, abs=0.005)


def test_growth_without_an_indolent_share_is_the_single_log_normal():
    distribution = GrowthDistribution(0.4147)
    z = np.array([-2.0, 0.0, 0.7])
    assert list(distribution.log_deviation(z)) == list(0.4147 * z)
    assert list(distribution.deviate(0.4147 * z)) == list(z)


def test_a_reading_error_moves_the_progression_read_and_never_below_its_floor():
    model = dataclasses.replace(MODEL, reading_floor=0.1)
    state = TumourState(model, math.log(0.05), 0.1, False)
    state.start_line(0.0, 1.0, 1.0, 0.2)
    assert state.time_to_progression(0.0) == pytest.approx((math.log(1.728) + 0.2) / 0.1, rel=1e-12)
    state.start_line(0.0, 1.0, 1.0, -5.0)  # an error past the floor: read at a tenth of the RECIST growth
    assert state.time_to_progression(0.0) == pytest.approx(0.1 * math.log(1.728) / 0.1, rel=1e-12)
    state.start_line(0.0, 1.0, 1.0, 0.0)
    assert state.time_to_progression(0.0) == pytest.approx(math.log(1.728) / 0.1, rel=1e-12)


@pytest.mark.parametrize("state_type", [TumourState, GompertzTumourState])
def test_a_new_lesion_makes_a_line_progress_before_its_volume_does(state_type):
    """A line progresses at the RECIST volume ratio or at its first new lesion, which shows after the growth
    ``new_lesion_growth`` at the line's rate at the reference burden: a drug's growth ratio delays both alike."""
    lesions = dataclasses.replace(MODEL, new_lesion_growth=0.2)
    reference = math.log(0.1)
    for multiplier in (1.0, 0.42):
        by_volume = state_type(MODEL, reference, 0.08, False)
        by_volume.start_line(0.0, multiplier)
        with_lesions = state_type(lesions, reference, 0.08, False)
        with_lesions.start_line(0.0, multiplier)
        assert with_lesions.time_to_progression(0.0) == pytest.approx(0.2 / (0.08 * multiplier), rel=1e-9)
        assert by_volume.time_to_progression(0.0) > with_lesions.time_to_progression(0.0)
        assert with_lesions.time_to_progression(1.0) == pytest.approx(0.2 / (0.08 * multiplier) - 1.0, rel=1e-9)
    never_first = dataclasses.replace(MODEL, new_lesion_growth=math.log(1.728) * 1.5)
    late = TumourState(never_first, reference, 0.08, False)
    late.start_line(0.0, 1.0)
    plain = TumourState(MODEL, reference, 0.08, False)
    plain.start_line(0.0, 1.0)
    assert late.time_to_progression(0.0) == plain.time_to_progression(0.0)


@pytest.mark.parametrize("growth", [0.06, 0.0, -0.02])
def test_time_to_death_with_two_compartments_inverts_their_summed_hazard_on_either_side_of_the_cap(growth):
    """Exponential growth: before either burden fills its compartment the summed hazard is inverted in closed
    form, after it by the bracketed Newton iteration; both agree with the cumulative hazard, and an exposure
    beyond what a shrinking tumour has left is never reached."""
    compartment = dataclasses.replace(MODEL, extrahepatic_compartment=True)
    state = TumourState(compartment, math.log(0.2), growth, True)
    for exposure in (1e-4, 0.05, 0.7, 3.0, 40.0):  # the largest is reached only after the liver is full
        t = state.time_to_death(0.0, exposure)
        if growth < 0.0 and not math.isfinite(t):
            assert state.cumulative_hazard(0.0, 1e6) < exposure
            continue
        assert state.cumulative_hazard(0.0, t) == pytest.approx(exposure, rel=1e-9)


@pytest.mark.parametrize("growth", [0.0, 0.03])
def test_an_extrahepatic_hazard_ratio_below_one_never_gives_a_death_in_the_past(growth):
    """Found in review: a scenario may set the extrahepatic hazard ratio below 1, so that the second
    compartment's hazard is negative; once the liver is treated the two can sum to nothing, and the closed
    form must leave that case to the iteration instead of returning a negative time."""
    compartment = dataclasses.replace(MODEL, extrahepatic_compartment=True, extrahepatic_hazard_ratio=0.5)
    state = TumourState(compartment, math.log(0.2), growth, True)
    state.shrink(0.0, 0.01)
    for exposure in (0.01, 0.5, 5.0):
        assert state.time_to_death(0.0, exposure) >= 0.0


@pytest.mark.parametrize("state_type", [TumourState, GompertzTumourState])
def test_extrahepatic_disease_as_its_own_burden(state_type):
    """With its own compartment, extrahepatic disease carries the extrahepatic hazard ratio at entry, adds its
    hazard to the liver's, stays when the liver is treated and shrinks under a systemic response; the
    cumulative hazard is the integral of the total and time to death inverts it."""
    compartment = dataclasses.replace(MODEL, extrahepatic_compartment=True)
    load, growth = math.log(0.05), 0.06
    ratio = state_type(MODEL, load, growth, True)
    both = state_type(compartment, load, growth, True)
    assert both.hazard(0.0) == pytest.approx(ratio.hazard(0.0), rel=1e-12)
    for step in (0.5, 12.0, 80.0):
        assert both.cumulative_hazard(0.0, step) == pytest.approx(numeric_cumulative_hazard(both, 0.0, step), rel=1e-6)
    for exposure in (0.05, 0.7, 3.0):
        t = both.time_to_death(0.0, exposure)
        assert both.cumulative_hazard(0.0, t) == pytest.approx(exposure, rel=1e-8)
    liver_only = state_type(compartment, load, growth, False)
    both.shrink(0.0, 0.01)
    liver_only.shrink(0.0, 0.01)
    # The liver treated: its hazard falls a hundredfold to the power beta, the extrahepatic hazard stays.
    extra = MODEL.hazard_scale(False, False) * (MODEL.extrahepatic_hazard_ratio - 1.0) * math.exp(MODEL.burden_exponent * load)
    assert both.hazard(0.0) == pytest.approx(liver_only.hazard(0.0) + extra, rel=1e-12)
    for exposure in (0.05, 0.7):
        t = both.time_to_death(0.0, exposure)
        assert both.cumulative_hazard(0.0, t) == pytest.approx(exposure, rel=1e-8)
    before = both.hazard(0.0)
    both.shrink(0.0, 0.5, systemic=True)
    assert both.hazard(0.0) == pytest.approx(before * 0.5**MODEL.burden_exponent, rel=1e-12)


@pytest.mark.parametrize("state_type", [TumourState, GompertzTumourState])
@pytest.mark.parametrize("compartment", [False, True])
def test_the_death_clock_spends_its_exposure_as_the_tumour_changes(state_type, compartment):
    """The tumour keeps the disease-death clock: the exposure is spent at each change of the tumour, so the
    time of death is that of a hazard integrated piece by piece between the changes (the hazard numerically
    integrated, then inverted on the last piece)."""
    model = dataclasses.replace(MODEL, extrahepatic_compartment=compartment)
    changes = [
        (4.0, lambda s, t: s.start_line(t, 0.4)),
        (9.5, lambda s, t: s.shrink(t, 0.3, systemic=True)),
        (15.0, lambda s, t: s.start_line(t, 1.5, line_factor=1.2)),
        (21.0, lambda s, t: s.leave_residual(t, 0.5)),
        (23.0, lambda s, t: s.start_line(t, 2.0)),
    ]
    exposure = 2.5
    clock, reference = state_type(model, math.log(0.2), 0.05, True, exposure=exposure), state_type(model, math.log(0.2), 0.05, True)
    before = 0.0
    for at, change in changes:
        exposure -= numeric_cumulative_hazard(reference, before, at - before)
        assert clock.death_at() > at  # the patient lives to each change: the clock's death time lies beyond it
        change(clock, at)
        change(reference, at)
        before = at
    assert exposure > 0
    expected = before + reference.time_to_death(before, exposure)
    assert clock.death_at() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("state_type", [TumourState, GompertzTumourState])
def test_an_absolute_reduction_slows_every_tumour_by_the_same_amount(state_type):
    """A reduction r (a cytostatic drug under tumour.additive_growth_effect) lowers the growth rate by r x the
    median growth, so with r = 1 - m a tumour at the median grows as under the ratio m, a slower one stops (or
    shrinks) and a faster one keeps more of its growth."""
    median, ratio = 0.04, 0.4
    for growth in (median, 0.5 * median, 3 * median):
        state = state_type(MODEL, math.log(0.05), growth, False, median_growth=median)
        multiplicative = state_type(MODEL, math.log(0.05), growth, False, median_growth=median)
        state.start_line(0.0, 1.0, reduction=1 - ratio)
        multiplicative.start_line(0.0, ratio)
        assert multiplicative.growth == pytest.approx(ratio * multiplicative.base_growth, rel=1e-12)
        assert state.growth == pytest.approx(state.base_growth - (1 - ratio) * state.median_growth, rel=1e-12)
        if growth == median:
            assert state.growth == pytest.approx(multiplicative.growth, rel=1e-12)
            assert state.time_to_progression(0.0) == pytest.approx(multiplicative.time_to_progression(0.0), rel=1e-9)
        elif growth < median:
            assert state.growth < 0.0 and state.time_to_progression(0.0) == math.inf  # the slow tumour shrinks
        else:
            assert state.growth > multiplicative.growth  # the fast one keeps more of its growth


@pytest.mark.parametrize("additive", [0, 1])
def test_a_drug_gives_its_reduction_under_the_additive_reading_and_its_ratio_otherwise(additive):
    """SystemicTherapy.growth_effect: cytostatic drugs give (1, growth_reduction) with tumour.additive_growth_effect
    and (growth_multiplier, 0) without; PRRT and chemotherapy always give their ratio; an SSA after an SSA gives
    (1, ssa.rechallenge_growth_reduction) with the switch and (ssa.rechallenge_growth_multiplier, 0) without."""
    from types import SimpleNamespace

    from simulator.params.parameter_set import build_parameter_set
    from simulator.pathways import MODALITIES

    params = build_parameter_set({"disease.burden_model": 1, "tumour.additive_growth_effect": additive})
    model = SimpleNamespace(tumour_model=SimpleNamespace(additive_growth_effect=bool(additive)))
    for name in ("octreotide_lar", "lanreotide", "everolimus", "sunitinib", "prrt", "captem"):
        course = SimpleNamespace(params=params, history=[name], model=model)
        found = MODALITIES[name].growth_effect(course)
        if additive and MODALITIES[name].cytostatic:
            assert found == (1.0, params.value(f"{name}.growth_reduction"))
        else:
            assert found == (params.value(f"{name}.growth_multiplier"), 0.0)
    rechallenge = SimpleNamespace(params=params, history=["octreotide_lar", "lanreotide"], model=model)
    expected = (
        (1.0, params.value("ssa.rechallenge_growth_reduction")) if additive else (params.value("ssa.rechallenge_growth_multiplier"), 0.0)
    )
    assert MODALITIES["lanreotide"].growth_effect(rechallenge) == expected


def test_the_cytostatic_drugs_are_the_analogues_and_the_targeted_agents():
    """The drugs whose growth ratio tumour.additive_growth_effect reads as an absolute reduction: those that slow
    growth without killing cells. PRRT (radiation) and chemotherapy keep a ratio."""
    from simulator.pathways import MODALITIES
    from simulator.pathways.systemic import SystemicTherapy

    cytostatic = {name for name, modality in MODALITIES.items() if isinstance(modality, SystemicTherapy) and modality.cytostatic}
    assert cytostatic == {"octreotide_lar", "lanreotide", "everolimus", "sunitinib"}


def test_only_the_targeted_agents_acquire_resistance():
    """tumour.targeted_resistance_rate ends the effect of everolimus and sunitinib, not of the analogues (whose
    CLARINET PFS, a validation study, already falls too fast) nor of PRRT and chemotherapy."""
    from simulator.pathways import MODALITIES
    from simulator.pathways.systemic import SystemicTherapy

    resistant = {name for name, modality in MODALITIES.items() if isinstance(modality, SystemicTherapy) and modality.acquires_resistance}
    assert resistant == {"everolimus", "sunitinib"}


def test_a_drug_that_stops_acting_leaves_the_line_growing_at_its_untreated_rate_from_the_same_nadir():
    """lose_effect: the line goes on at the patient's untreated rate for this line (the line factor kept, the
    drug's ratio and reduction gone); progression is still read from the line's nadir."""
    state = TumourState(MODEL, math.log(0.05), 0.06, False)
    state.start_line(0.0, 0.5, line_factor=2.0)  # untreated 0.12 a month, on the drug 0.06
    state.lose_effect(5.0)
    assert state.growth == pytest.approx(0.12)
    assert state.nadir_log_burden == pytest.approx(math.log(0.05))
    assert state.time_to_progression(5.0) == pytest.approx((math.log(1.728) - 0.3) / 0.12)
    # A drug that made the tumour shrink leaves its nadir where the shrinking stopped.
    shrinking = TumourState(MODEL, math.log(0.05), 0.06, False)
    shrinking.start_line(0.0, 1.0, reduction=2.0)  # 0.06 - 2 x 0.06: shrinks 0.06 a month
    assert shrinking.time_to_progression(0.0) == math.inf
    shrinking.lose_effect(5.0)
    assert shrinking.nadir_log_burden == pytest.approx(math.log(0.05) - 0.3)
    assert shrinking.time_to_progression(5.0) == pytest.approx(math.log(1.728) / 0.06)


def test_a_drug_that_stops_acting_keeps_the_growth_the_first_new_lesion_still_needs():
    lesions = dataclasses.replace(MODEL, new_lesion_growth=0.31)
    state = TumourState(lesions, math.log(0.05), 0.06, False)
    state.start_line(0.0, 0.5, line_factor=2.0)  # a new lesion after 0.31 / 0.06 months on the drug
    state.lose_effect(2.0)  # 0.12 of the 0.31 grown: 0.19 left at 0.12 a month
    assert state.time_to_progression(2.0) == pytest.approx(0.19 / 0.12)
    held = TumourState(lesions, math.log(0.05), 0.06, False)
    held.start_line(0.0, 1.0, reduction=1.0)  # no growth on the drug: no new lesion either
    assert held.time_to_progression(0.0) == math.inf
    held.lose_effect(4.0)
    assert held.time_to_progression(4.0) == pytest.approx(0.31 / 0.06)


def test_shrinking_disease_never_reaches_an_exposure_a_rounding_error_below_its_remaining_hazard():
    """The hazard of a shrinking tumour adds up to what is left of it; an exposure one float below that total
    once gave log1p(-1) (a math domain error) at this load and rate."""
    load, growth = math.log(0.02), -0.3
    state = TumourState(MODEL, load, growth, False)
    remaining = state._integral(load, state.scale, math.inf)
    assert state._inverse(load, state.scale, float(np.nextafter(remaining, 0.0))) == math.inf
    half = state._inverse(load, state.scale, 0.5 * remaining)
    assert half == pytest.approx(math.log(0.5) / (MODEL.burden_exponent * growth), rel=1e-9)


@pytest.mark.parametrize("share", [0.0, 0.3, 0.95])
def test_the_measured_spread_of_growth_splits_into_a_lifelong_and_a_line_to_line_part(share):
    """tumour.growth_sd_log is the spread of a line's growth rate across patients (what a tumour-growth-rate
    study measures in one period); the model draws a patient's lifelong rate with one part of its variance
    and each line's change with the rest (tumour.growth_within_patient_share), and reads both from there."""
    from simulator.engine.tumour import between_patient_spread, within_patient_spread

    model = burden_pathway_model({"tumour.growth_sd_log": 1.2, "tumour.growth_within_patient_share": share})
    params = model.params
    between, within = between_patient_spread(params.value), within_patient_spread(params.value)
    assert between**2 + within**2 == pytest.approx(1.2**2, rel=1e-12)
    assert within**2 == pytest.approx(share * 1.2**2, abs=1e-12)
    assert model.growth_distribution.spread == between
    assert model.tumour_line_spread == within


def test_a_cytostatic_drug_lowers_growth_by_the_same_amount_whatever_the_grade():
    """Under tumour.additive_growth_effect the reduction is r x the grade-1 median of the patient's site:
    a G3 tumour is slowed by the same amount as a G1 one, so relatively far less (the drugs' trials enrolled
    G1/G2 disease); a reduction growing with the grade ratio would slow G3 tumours 4.45 times as much."""
    from simulator.engine.cohort import Patient
    from simulator.engine.tumour import median_growth_rate

    model = burden_pathway_model({"tumour.additive_growth_effect": 1})
    value = model.params.value
    reduction = value("everolimus.growth_reduction")
    for site in ("small_bowel", "pancreas", "other"):
        reductions = []
        for grade in ("G1", "G2", "G3"):
            patient = Patient(1, 60.0, "F", site, grade, "lt25", False, "none", False, False, False, False, hepatic_load=0.05)
            state = model.tumour_state(patient)
            assert state.base_growth == pytest.approx(median_growth_rate(value, site, grade), rel=1e-12)
            state.start_line(0.0, 1.0, reduction=reduction)
            reductions.append(state.base_growth - state.growth)
        expected = reduction * median_growth_rate(value, site, "G1")
        assert reductions == pytest.approx([expected] * 3, rel=1e-12)


def burden_pathway_model(parameters: dict):
    """A PathwayModel (no patients) of a one-patient burden-model scenario with ``parameters`` set."""
    from simulator.config import Scenario
    from simulator.core.rng import RandomStreams
    from simulator.engine.model import PathwayModel
    from simulator.experiments.runner import prepare

    data = {"name": "burden", "seed": 1, "cohort": {"size": 1}, "strategies": ["best-supportive-care"]}
    prepared = prepare(Scenario.model_validate({**data, "parameters": {"disease.burden_model": 1, **parameters}}), "burden.yaml")
    return PathwayModel(prepared.params, prepared.strategies[0], [], 12, RandomStreams(1, 0), 0)


@pytest.mark.parametrize("compartment", [1, 0])
def test_the_extrahepatic_ratio_at_entry_is_the_burden_models_own_only_with_its_compartment(compartment):
    """With its own compartment, extrahepatic disease carries tumour.extrahepatic_entry_hazard_ratio at entry
    (Mayo 2010's 3.0 is the ratio after resection, which the compartment raises); as a plain ratio on the
    hepatic hazard, it carries the published disease.hr_extrahepatic."""
    parameters = {
        "tumour.extrahepatic_compartment": compartment,
        "tumour.extrahepatic_entry_hazard_ratio": 1.7,
        "disease.hr_extrahepatic": 2.6,
    }
    tumour_model = burden_pathway_model(parameters).tumour_model
    assert tumour_model.extrahepatic_hazard_ratio == (1.7 if compartment else 2.6)
    liver_only = tumour_model.hazard_scale(False, False)
    at_entry = tumour_model.hazard_scale(True, False) + tumour_model.extrahepatic_scale(True, False)
    assert at_entry / liver_only == pytest.approx(1.7 if compartment else 2.6, rel=1e-12)
