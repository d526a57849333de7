"""Baseline traits of simulated patients, drawn from each patient's own streams.

Patient k of replication r has the same traits in every strategy (common random numbers). The mix
comes from the ``cohort.*`` parameters; correlations the clinic sees are explicit here: the
hormonal syndrome follows the primary site, and resectability falls with hepatic burden and
extrahepatic disease.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..core.rng import RandomStreams, to_normal
from ..params.parameter_set import ParameterSet
from .tumour import GrowthDistribution, median_growth_rate, within_patient_spread

ATTRIBUTE_COLUMNS = (
    "age",
    "sex",
    "primary_site",
    "grade",
    "burden",
    "functional",
    "syndrome",
    "extrahepatic",
    "synchronous",
    "resectable",
    "ssr_positive",
)


@dataclass(frozen=True, slots=True)
class Patient:
    patient_id: int
    age: float
    sex: str
    primary_site: str
    grade: str
    burden: str
    functional: bool
    syndrome: str
    extrahepatic: bool
    synchronous: bool
    resectable: bool
    ssr_positive: bool
    # The burden model's latent traits (engine/tumour.py); not patient-table columns.
    hepatic_load: float = 0.0  # share of the liver replaced by tumour at entry
    growth_z: float = 0.0  # the patient's standard-normal growth deviate (positive: faster than the median)
    prior_treatments: tuple[str, ...] = ()  # treatments before entry (cohort.prior_treatments); not a column
    # The log factor of the line running at entry (its line-to-line part), where the course before entry is
    # conditioned (cohort.stable_for_months, cohort.progressed_within_months) and tumour.entry_line_continues
    # is 1: the first line goes on with it. NaN elsewhere: the first line draws its own, as every later line does.
    entry_line_growth: float = math.nan


def _categorical(uniforms: np.ndarray, labels: tuple[str, ...], probabilities: list[float]) -> np.ndarray:
    cumulative = np.cumsum(probabilities)
    index = np.searchsorted(cumulative / cumulative[-1], uniforms, side="right")
    return np.asarray(labels, dtype=object)[np.minimum(index, len(labels) - 1)]


def mix_probabilities(params: ParameterSet) -> dict[str, tuple[tuple[str, ...], list[float]]]:
    p = params.value
    site = [p("cohort.primary_small_bowel"), p("cohort.primary_pancreas")]
    grade = [p("cohort.grade_g2"), p("cohort.grade_g3")]
    burden = [p("cohort.burden_25to50"), p("cohort.burden_gt50")]
    for name, shares in (("primary site", site), ("grade", grade), ("burden", burden)):
        if sum(shares) > 1.0 + 1e-9:
            raise ValueError(f"cohort {name} shares sum to {sum(shares):.3f} > 1")
    return {
        "primary_site": (("small_bowel", "pancreas", "other"), [*site, 1.0 - sum(site)]),
        "grade": (("G1", "G2", "G3"), [1.0 - sum(grade), *grade]),
        "burden": (("lt25", "25to50", "gt50"), [1.0 - sum(burden), *burden]),
    }


SITES = ("small_bowel", "pancreas", "other")


def shares_given_site(site_shares: list[float], marginal: float, odds_ratios: tuple[float, ...]) -> np.ndarray:
    """The share of patients with a trait at each primary site (``SITES``), under a logistic model in which the
    sites' odds of the trait stand in ``odds_ratios`` (small bowel first, at 1), such that over the cohort's
    own mix of sites the share is the scenario's ``marginal``: a scenario's shares stay what it says, and
    only how they fall across sites follows the published association."""
    offsets = np.log(np.asarray(odds_ratios, dtype=float))
    weights = np.asarray(site_shares, dtype=float)
    if marginal <= 0.0 or marginal >= 1.0 or np.all(offsets[weights > 0] == offsets[weights > 0][0]):
        return np.full(len(offsets), marginal)
    from scipy import optimize  # here, not at the top: quick commands (params, validate) never solve it

    def excess(intercept: float) -> float:
        return float(weights @ special.expit(intercept + offsets) - marginal)

    # The intercept lies between the logit of the marginal less the largest and the smallest offset.
    centre = float(special.logit(marginal))
    present = offsets[weights > 0]
    low, high = centre - present.max() - 1.0, centre - present.min() + 1.0
    if not excess(low) < 0.0 < excess(high):  # a marginal within a rounding error of 0 or 1: the same share everywhere
        return np.full(len(offsets), marginal)
    intercept = optimize.brentq(excess, low, high, xtol=1e-13, rtol=1e-15)
    return special.expit(intercept + offsets)


def site_odds_ratios(params: ParameterSet, trait: str) -> tuple[float, float, float]:
    p = params.value
    return (1.0, p(f"cohort.{trait}_odds_ratio_pancreas"), p(f"cohort.{trait}_odds_ratio_other"))


def site_index(site: np.ndarray) -> np.ndarray:
    return np.select([site == name for name in SITES], range(len(SITES)))


def grade_given_site(params: ParameterSet, mixes: dict, uniforms: np.ndarray, site: np.ndarray) -> np.ndarray:
    """Each patient's grade given its primary site: a proportional-odds model of a higher grade (G2 or G3
    over G1, G3 over G1 or G2) with the sites' odds ratios, the scenario's grade mix (``mixes``, from
    ``mix_probabilities``) kept over its sites."""
    _, site_shares = mixes["primary_site"]
    labels, (_, g2, g3) = mixes["grade"]
    ratios = site_odds_ratios(params, "grade")
    at_least_g2 = shares_given_site(site_shares, g2 + g3, ratios)
    at_least_g3 = shares_given_site(site_shares, g3, ratios)
    if np.all(at_least_g2 == g2 + g3) and np.all(at_least_g3 == g3):  # no association in this cohort
        return _categorical(uniforms, *mixes["grade"])
    index = site_index(site)
    return np.where(
        uniforms < 1.0 - at_least_g2[index], labels[0], np.where(uniforms < 1.0 - at_least_g3[index], labels[1], labels[2])
    ).astype(object)


def functional_given_site(params: ParameterSet, mixes: dict, uniforms: np.ndarray, site: np.ndarray) -> np.ndarray:
    """Whether each patient's tumour is functional, given its primary site (``shares_given_site``)."""
    _, site_shares = mixes["primary_site"]
    shares = shares_given_site(site_shares, params.value("cohort.functional"), site_odds_ratios(params, "functional"))
    return uniforms < shares[site_index(site)]


# Hepatic load bands of the scenario vocabulary (share of the liver); inside a band the load is
# log-uniform (assumption: no published distribution of load inside the bands was found).
BURDEN_BANDS = {"lt25": (None, 0.25), "25to50": (0.25, 0.5), "gt50": (0.5, 0.9)}


def hepatic_load_in_band(uniforms: np.ndarray, band: np.ndarray, detection: float) -> np.ndarray:
    """A continuous hepatic load inside each patient's band; the smallest band starts at 10x the
    detection threshold (visible, countable lesions) and the largest stops short of the whole liver."""
    low = np.empty(len(band))
    high = np.empty(len(band))
    for name, (lo, hi) in BURDEN_BANDS.items():
        chosen = band == name
        low[chosen] = 10.0 * detection if lo is None else lo
        high[chosen] = hi
    return np.exp(np.log(low) + uniforms * (np.log(high) - np.log(low)))


def hepatic_load_from_distribution(params: ParameterSet, uniforms: np.ndarray) -> np.ndarray:
    """Hepatic load (share of the liver) from the log-normal of ``cohort.hepatic_load_median`` and
    ``cohort.hepatic_load_sd_log``, kept between 10x the detection threshold and the top of the largest band."""
    p = params.value
    z = to_normal(uniforms)
    load = np.exp(math.log(p("cohort.hepatic_load_median")) + p("cohort.hepatic_load_sd_log") * z)
    return np.clip(load, 10.0 * p("tumour.detection_burden"), BURDEN_BANDS["gt50"][1])


def growth_deviates(
    params: ParameterSet,
    uniforms: np.ndarray,
    selection: np.ndarray,
    resectable: np.ndarray,
    site: np.ndarray,
    grade: np.ndarray,
    hepatic_load: np.ndarray,
    split: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal growth deviates of the burden model, given what is known of each patient at entry,
    and the log factor of the line running at entry (NaN where the course before entry is not conditioned).

    Selection: in the referral population a share ``tumour.referral_resectable_share`` is resectable,
    through a latent normal correlated (``tumour.selection_correlation``) with slow growth. A patient's
    deviate is drawn given its resectability (the latent normal from its truncated distribution, then the
    deviate given the latent), so a cohort of resected patients grows more slowly than an unresectable
    one, whatever share of the scenario's cohort is resectable.

    Disease before entry, where progression is the burden's RECIST growth or a new lesion
    (``tumour.new_lesion_growth``), whichever comes first:
    progression within ``cohort.progressed_within_months`` (W) and stable disease for
    ``cohort.stable_for_months`` (S) weight each deviate by the chance that a patient whose disease
    progresses every T months (its natural time to progression) had its last progression between S and W
    months before entry (``last_progression_in_window``): a trial of progressive disease enrols from
    patients found progressing, and a slow grower is found so less often, not never; a trial of stable
    disease, from patients found not progressing lately, and a fast grower is found so less often.

    With ``tumour.entry_line_continues`` 0 (the library's) the condition weights the patient's lifelong rate,
    and the returned entry-line factors are NaN (the first line draws its own). At 1, what the course before
    entry shows is the growth of the line running then: the patient's own rate times that line's factor
    (``tumour.growth_within_patient_share``). The condition weights the sum of the two on the log scale (a
    normal whose spread holds both parts); the patient's deviate is then drawn given the sum (``split``: a
    second uniform), and the rest is the factor of the line running at entry, with which the first line goes
    on: no progression separates the disease before entry from the disease after it."""
    p = params.value
    correlation = p("tumour.selection_correlation")
    threshold = special.ndtri(1.0 - p("tumour.referral_resectable_share"))
    below = special.ndtr(threshold)
    low = np.where(resectable, below, 0.0)
    high = np.where(resectable, 1.0, below)
    latent = to_normal(low + selection * (high - low))
    mean = -correlation * latent
    spread = max(math.sqrt(1.0 - correlation**2), 1e-6)
    lowest = np.full(len(uniforms), -np.inf)  # bounds of the deviate itself
    highest = np.full(len(uniforms), np.inf)
    within, stable = p("cohort.progressed_within_months"), p("cohort.stable_for_months")
    no_line = np.full(len(uniforms), np.nan)
    if within > 0 or stable > 0:
        log_ratio = math.log(p("tumour.progression_volume_ratio"))
        distribution = GrowthDistribution.from_parameters(p)
        median = np.log([median_growth_rate(p, s, g) for s, g in zip(site, grade)])
        # The growth rate that progresses in exactly one month from the entry load: ln(ratio) under
        # exponential growth; under Gompertz growth it depends on the load (and a load past the
        # ratio's reach never progresses, so no condition can hold for it: left untruncated).
        if p("tumour.gompertz_growth") == 1.0:
            x = np.log(hepatic_load)
            reachable = x + log_ratio < 0
            per_month = np.where(reachable, np.log(x / np.minimum(x + log_ratio, -1e-12)) * -math.log(p("tumour.reference_burden")), np.nan)
        else:
            per_month = np.full(len(uniforms), log_ratio)
        lesion_growth = p("tumour.new_lesion_growth")
        if lesion_growth > 0:  # or a new lesion, after this much growth whatever the load (fmin: a NaN load still has it)
            per_month = np.fmin(per_month, lesion_growth)
        with np.errstate(invalid="ignore"):
            # The log growth deviations (from the median, the line's factor included) at which the natural time
            # to progression is ``within`` and ``stable``: a NaN (never progresses) puts no condition on the patient.
            if within > 0:
                lowest = np.where(np.isnan(per_month), -np.inf, np.log(per_month / within) - median)
            if stable > 0:
                highest = np.where(np.isnan(per_month), np.inf, np.log(per_month / stable) - median)
        # A window no longer than the stable period, or either with the growth mixture, is refused when the
        # parameters are built (params/parameter_set.py _check_consistency), so the deviate maps linearly.
        between = distribution.spread
        if p("tumour.entry_line_continues") != 1.0:
            # The lifelong rate alone is conditioned, and the first line draws a factor of its own (the
            # eleventh to the seventeenth step's structure; docs/calibration.md, eighteenth step).
            return last_progression_in_window(uniforms, mean, spread, lowest / between, highest / between, between), no_line
        line = within_patient_spread(p)
        sum_mean, sum_variance = between * mean, (between * spread) ** 2 + line**2
        total = last_progression_in_window(uniforms, sum_mean, math.sqrt(sum_variance), lowest, highest, 1.0)
        # The deviate given the sum: jointly normal, Cov(z, sum) = between * spread^2.
        gain = between * spread**2 / sum_variance
        conditional = math.sqrt(max(spread**2 * (1.0 - between * gain), 0.0))
        if split is None:  # the deviate's own noise must not reuse the uniform that placed the sum
            raise ValueError("growth_deviates: tumour.entry_line_continues 1 needs a second uniform per patient (split)")
        z = mean + gain * (total - sum_mean) + conditional * to_normal(split)
        return z, total - between * z
    return mean + spread * to_normal(uniforms), no_line


def last_progression_in_window(
    uniforms: np.ndarray, mean: np.ndarray, spread: float, lowest: np.ndarray, highest: np.ndarray, slope: float
) -> np.ndarray:
    """Deviates from N(mean, spread) weighted by the chance that the last progression before entry came
    between ``cohort.stable_for_months`` S and ``cohort.progressed_within_months`` W months ago.

    Under a constant natural time to progression T, the time since the last progression is uniform on
    (0, T), so that chance is max(0, min(W, T) - S) / T. With S / T = exp(slope (z - highest)) and
    W / T = exp(slope (z - lowest)) (``slope``: the log growth per unit of deviate; ``lowest`` at T = W,
    -inf without a window; ``highest`` at T = S, +inf without a stable period) the weight is
    exp(slope (z - lowest)) - exp(slope (z - highest)) below ``lowest``, 1 - exp(slope (z - highest))
    between the two, and 0 above ``highest``. A normal density times exp(slope z) is a normal shifted up
    by slope * spread**2, so every part of the distribution function is a sum of normal CDFs: the inverse
    is closed-form below ``lowest`` and found by bisection between the two. It keeps the uniforms'
    order (common random numbers: a larger uniform gives a faster grower in every arm)."""
    shifted = mean + slope * spread**2

    def factor(threshold: np.ndarray) -> np.ndarray:
        # exp(slope (mean - threshold) + slope^2 spread^2 / 2): the mass of the exponential term, 0 at +inf
        with np.errstate(over="ignore"):
            return np.where(
                np.isposinf(threshold), 0.0, np.exp(np.minimum(slope * (mean - threshold) + 0.5 * (slope * spread) ** 2, 700.0))
            )

    def normal(x: np.ndarray) -> np.ndarray:
        return special.ndtr((x - mean) / spread)

    def normal_shifted(x: np.ndarray) -> np.ndarray:
        return special.ndtr((x - shifted) / spread)

    above_stable = factor(highest)
    # Below ``lowest`` (slow growers, found progressing less often): (C_W - C_S) Phi_shifted; 0 without a
    # window (Phi_shifted(-inf) = 0 beside the capped factor).
    below_mass = (factor(lowest) - above_stable) * normal_shifted(lowest)

    def middle(x: np.ndarray) -> np.ndarray:
        """Mass between ``lowest`` and x (<= highest): [Phi(x) - Phi(lowest)] - C_S [Phi_s(x) - Phi_s(lowest)]."""
        return (normal(x) - normal(lowest)) - above_stable * (normal_shifted(x) - normal_shifted(lowest))

    middle_mass = middle(highest)
    position = uniforms * (below_mass + middle_mass)
    in_below = position < below_mass
    with np.errstate(divide="ignore", invalid="ignore"):
        z_below = shifted + spread * to_normal(np.where(in_below, position / below_mass, 0.5) * normal_shifted(lowest))
    target = np.where(in_below, 0.0, position - below_mass)
    if np.all(above_stable == 0.0):  # no stable period: the middle is the normal itself, inverted in closed form
        return np.where(in_below, z_below, mean + spread * to_normal(normal(lowest) + target))
    # Bisection on [lowest, highest], each end brought within 12 spreads of the mean.
    low = np.maximum(lowest, mean - 12.0 * spread)
    high = np.minimum(highest, np.maximum(mean + 12.0 * spread, low))
    for _ in range(60):
        mid = 0.5 * (low + high)
        below_target = middle(mid) < target
        low = np.where(below_target, mid, low)
        high = np.where(below_target, high, mid)
    return np.where(in_below, z_below, 0.5 * (low + high))


def build_cohort(
    params: ParameterSet,
    streams: RandomStreams,
    size: int,
    fixed_age: float | None = None,
    first: int = 0,
    prior_treatments: tuple[str, ...] = (),
) -> list[Patient]:
    """Patients ``first .. first + size - 1``; identical for every strategy of the same replication.

    A patient's traits depend only on its index, so a cohort built in pieces is the same cohort."""
    ids = np.arange(first, first + size, dtype=np.int64)
    u = lambda name: streams.first_uniforms(f"cohort.{name}", ids)  # noqa: E731
    p = params.value
    mixes = mix_probabilities(params)

    if fixed_age is None:
        z = to_normal(u("age"))
        age = np.clip(p("cohort.age_mean") + p("cohort.age_sd") * z, p("cohort.age_min"), p("cohort.age_max"))
    else:
        age = np.full(size, float(fixed_age))
    sex = np.where(u("sex") < p("cohort.male"), "male", "female")
    site = _categorical(u("primary_site"), *mixes["primary_site"])
    grade = grade_given_site(params, mixes, u("grade"), site)
    burden = _categorical(u("burden"), *mixes["burden"])
    burden_model = p("disease.burden_model") == 1.0
    load_from_distribution = burden_model and p("cohort.hepatic_load_median") > 0
    if load_from_distribution:
        # A continuous hepatic load replaces the band mix; each patient's band follows from its load.
        hepatic_load = hepatic_load_from_distribution(params, u("hepatic_load"))
        burden = np.where(hepatic_load < 0.25, "lt25", np.where(hepatic_load < 0.5, "25to50", "gt50")).astype(object)
    functional = functional_given_site(params, mixes, u("functional"), site)
    # Functioning pancreatic NETs secrete other hormones (insulin, gastrin, VIP...); midgut and other
    # primaries give the carcinoid syndrome.
    syndrome = np.where(~functional, "none", np.where(site == "pancreas", "other", "carcinoid"))
    extrahepatic = u("extrahepatic") < p("cohort.extrahepatic")
    synchronous = u("synchronous") < p("cohort.synchronous")
    resectable_probability = np.select(
        [burden == "lt25", burden == "25to50"],
        [p("cohort.resectable_lt25"), p("cohort.resectable_25to50")],
        p("cohort.resectable_gt50"),
    ) * np.where(extrahepatic, p("cohort.resectable_extrahepatic_factor"), 1.0)
    # The burden model draws a growth deviate given resectability (selection) and the course before entry.
    resectable = u("resectable") < resectable_probability
    if burden_model:
        if not load_from_distribution:
            hepatic_load = hepatic_load_in_band(u("hepatic_load"), burden, p("tumour.detection_burden"))
        # Its own stream, so the other draws are the same whichever structure is chosen.
        split = u("growth_split") if p("tumour.entry_line_continues") == 1.0 else None
        growth_z, entry_line = growth_deviates(params, u("growth"), u("selection"), resectable, site, grade, hepatic_load, split)
    else:
        growth_z = np.zeros(size)
        hepatic_load = np.zeros(size)
        entry_line = np.full(size, np.nan)
    ssr_positive = u("ssr_positive") < np.where(grade == "G3", p("cohort.ssr_positive_g3"), p("cohort.ssr_positive"))

    return [
        Patient(
            int(ids[i]),
            float(age[i]),
            str(sex[i]),
            str(site[i]),
            str(grade[i]),
            str(burden[i]),
            bool(functional[i]),
            str(syndrome[i]),
            bool(extrahepatic[i]),
            bool(synchronous[i]),
            bool(resectable[i]),
            bool(ssr_positive[i]),
            float(hepatic_load[i]),
            float(growth_z[i]),
            prior_treatments,
            float(entry_line[i]),
        )
        for i in range(size)
    ]
