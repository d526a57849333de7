"""The latent tumour of the burden disease model (issue 16): hepatic burden that grows, treatments that act on it.

Each patient carries a hepatic tumour burden ``b`` (share of the liver replaced by tumour) and a growth
rate ``g`` per month on the log-volume scale. Between events the burden grows deterministically,
``log b(t) = log b(t0) + g (t - t0)``, up to the whole liver (``log b = 0``), so every event time is
computed in closed form and the engine stays fast:

- the disease-death hazard is ``c * b(t) ** beta``: the hazard at the reference burden, scaled by the
  burden to a power, times extrahepatic disease; small disease (after a resection, or a small
  recurrence) carries a small hazard and high burden a high one, with no separate post-recurrence,
  debulking, responder or "unresectable" hazard ratio;
- radiological progression is an observation of the burden (RECIST 1.1): a volume of
  ``progression_volume_ratio`` times the nadir of the current line; recurrence after a complete
  resection is the residual disease growing back to the detection threshold;
- treatments slow growth while the line lasts, by a ratio or (cytostatic drugs under
  ``tumour.additive_growth_effect``) by the same absolute amount in every patient; resection, ablation,
  intra-arterial therapy and PRRT remove or shrink a fraction of the burden.

``TumourState`` is one patient's tumour; ``TumourModel`` holds the parameters shared by a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import expi, ndtr, ndtri

INF = math.inf
FULL = -1e-9  # a log burden this close to 0 is the whole liver (floating-point tolerance, not a model value)


def median_growth_rate(value, primary_site: str, grade: str) -> float:
    """The median growth rate (per month, log volume) of a primary site and grade; ``value`` reads a parameter.

    Other and unknown primaries have no placebo arm to fit: their median is the geometric mean of the
    small-bowel and pancreatic medians times ``tumour.growth_ratio_other``, so it follows those two
    wherever the fit puts them."""
    if primary_site == "other":
        growth = math.sqrt(value("tumour.growth_rate_small_bowel") * value("tumour.growth_rate_pancreas")) * value(
            "tumour.growth_ratio_other"
        )
    else:
        growth = value(f"tumour.growth_rate_{primary_site}")
    if grade != "G1":
        growth *= value(f"tumour.growth_ratio_{grade.lower()}")
    return growth


# The mixture's quantile is read off a table of this many points spanning this many spreads beyond
# either component's centre (numerical resolution, not model values: interpolation error < 1e-6).
_QUANTILE_POINTS = 4001
_QUANTILE_SPAN = 9.0


@dataclass(frozen=True)
class GrowthDistribution:
    """Between-patient spread of the growth rate around its site and grade median, on the log scale.

    A normal (``spread``) or, with ``indolent_share`` > 0, a two-component mixture: an indolent share of
    patients grows ``indolent_ratio`` times as fast as the rest, each component with the same spread.
    A patient is represented by one standard-normal deviate ``z`` mapped through the distribution's
    quantile function, so selection (a correlation on ``z``) and conditions on the course before entry
    (truncation of ``z``) apply to both shapes alike."""

    spread: float
    indolent_share: float = 0.0
    indolent_ratio: float = 1.0
    _grid: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.indolent_share <= 0.0:
            return
        shift = math.log(self.indolent_ratio)
        low = min(0.0, shift) - _QUANTILE_SPAN * self.spread
        high = max(0.0, shift) + _QUANTILE_SPAN * self.spread
        deviations = np.linspace(low, high, _QUANTILE_POINTS)
        share = self.indolent_share
        below = (1.0 - share) * ndtr(deviations / self.spread) + share * ndtr((deviations - shift) / self.spread)
        above = (1.0 - share) * ndtr(-deviations / self.spread) + share * ndtr((shift - deviations) / self.spread)
        # The upper tail from its own survival function: 1 - below rounds to 0 there.
        deviates = np.where(below < 0.5, ndtri(below), -ndtri(above))
        object.__setattr__(self, "_grid", (deviates, deviations))

    def log_deviation(self, z):
        """The log growth-rate deviation from the median of a patient with standard-normal deviate ``z``."""
        if self._grid is None:
            return self.spread * z
        deviates, deviations = self._grid
        return np.interp(z, deviates, deviations)

    def deviate(self, log_deviation):
        """The inverse of ``log_deviation``: the standard-normal deviate of a log growth-rate deviation."""
        if self._grid is None:
            return log_deviation / self.spread
        deviates, deviations = self._grid
        return np.interp(log_deviation, deviations, deviates)

    @classmethod
    def from_parameters(cls, value) -> GrowthDistribution:
        """``value`` reads a parameter. The same three values give the same (immutable) distribution,
        built once: every run of every strategy asks for it, and its quantile table takes half a millisecond."""
        return _growth_distribution(between_patient_spread(value), value("tumour.indolent_share"), value("tumour.indolent_growth_ratio"))


def between_patient_spread(value) -> float:
    """The log-scale SD of growth between patients: the part of ``tumour.growth_sd_log`` (the spread of a
    line's growth rate across patients, what a tumour-growth-rate study measures) that stays with the patient."""
    return value("tumour.growth_sd_log") * math.sqrt(1.0 - value("tumour.growth_within_patient_share"))


def within_patient_spread(value) -> float:
    """The log-scale SD of a patient's growth from one line to the next: the rest of ``tumour.growth_sd_log``."""
    return value("tumour.growth_sd_log") * math.sqrt(value("tumour.growth_within_patient_share"))


@lru_cache(maxsize=16)
def _growth_distribution(spread: float, indolent_share: float, indolent_ratio: float) -> GrowthDistribution:
    return GrowthDistribution(spread, indolent_share, indolent_ratio)


@dataclass(frozen=True, slots=True)
class TumourModel:
    """The parameters of the burden model for one run (read once from the parameter set)."""

    log_reference_burden: float  # log of the burden at which the hazard is ``reference_hazard``
    reference_hazard: float  # disease-death hazard per month at the reference burden, no extrahepatic disease
    burden_exponent: float  # beta: the hazard scales with burden ** beta
    extrahepatic_hazard_ratio: float
    log_progression_ratio: float  # log of the RECIST volume ratio that defines progression
    log_detection_burden: float  # log of the smallest burden imaging detects (recurrence threshold)
    pancreas_hazard_ratio: float = 1.0  # pancreatic primaries die faster at the same burden
    # The smallest log volume ratio at which a progression is read, as a share of the RECIST ratio's log
    # (a reading error never declares progression below it).
    reading_floor: float = 0.0
    # A line's first new lesion (RECIST progression whatever the volume) is visible after the burden has grown
    # by this much on the log-volume scale (0: progression by volume alone).
    new_lesion_growth: float = 0.0
    # Extrahepatic disease as its own burden, which liver-directed treatment leaves (True), or as a hazard
    # ratio on the hepatic burden's hazard (False).
    extrahepatic_compartment: bool = False
    # A cytostatic drug lowers the growth rate by the same amount in every patient (its growth_reduction, read
    # by SystemicTherapy.growth_effect), instead of by its growth ratio (False).
    additive_growth_effect: bool = False
    # (hazard_scale, extrahepatic_scale) by (extrahepatic, pancreas): both read at every patient's entry, so
    # computed once here.
    _entry_scales: dict[tuple[bool, bool], tuple[float, float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entry = {
            (extrahepatic, pancreas): (self.hazard_scale(extrahepatic, pancreas), self.extrahepatic_scale(extrahepatic, pancreas))
            for extrahepatic in (False, True)
            for pancreas in (False, True)
        }
        object.__setattr__(self, "_entry_scales", entry)

    def reading_level(self, reading_error: float) -> float:
        """The log volume ratio at which a line's progression is read, given its reading error."""
        if reading_error == 0.0:
            return self.log_progression_ratio
        return max(self.log_progression_ratio + reading_error, self.reading_floor * self.log_progression_ratio)

    def hazard_scale(self, extrahepatic: bool, pancreas: bool) -> float:
        """``c`` such that the hepatic burden's hazard is ``c * exp(beta * log b)``."""
        scale = self.reference_hazard * math.exp(-self.burden_exponent * self.log_reference_burden)
        if pancreas:
            scale *= self.pancreas_hazard_ratio
        return scale * self.extrahepatic_hazard_ratio if extrahepatic and not self.extrahepatic_compartment else scale

    def extrahepatic_scale(self, extrahepatic: bool, pancreas: bool) -> float:
        """``c`` of the extrahepatic burden's hazard: with its own compartment, extrahepatic disease starts at
        the hepatic load and carries (hazard ratio - 1) times its hazard, so that at entry the two together
        have the extrahepatic hazard ratio's hazard; 0 without extrahepatic disease or compartment."""
        if not (extrahepatic and self.extrahepatic_compartment):
            return 0.0
        return self.hazard_scale(False, pancreas) * (self.extrahepatic_hazard_ratio - 1.0)


class TumourState:
    """One patient's tumour: log burden at an anchor time, the growth rate in force, the line's nadir."""

    __slots__ = (
        "model",
        "scale",
        "beta",
        "base_growth",
        "growth",
        "anchor_time",
        "anchor_log_burden",
        "nadir_log_burden",
        "progression_level",
        "lesion_progression_at",
        "extra_scale",
        "extra_anchor_log_burden",
        "exposure",
        "_death_at",
        "median_growth",
        "untreated_growth",
        "entry_line_factor",
    )

    def __init__(
        self,
        model: TumourModel,
        log_burden: float,
        base_growth: float,
        extrahepatic: bool,
        pancreas: bool = False,
        now: float = 0.0,
        median_growth: float | None = None,
        exposure: float = INF,
        hazard_factor: float = 1.0,
        entry_line_factor: float | None = None,
    ) -> None:
        self.model = model
        # The scale of an additive treatment effect: the median growth of the patient's site at grade 1 (model.py).
        self.median_growth = base_growth if median_growth is None else median_growth
        # The patient's own factor on both burdens' hazards (indolence as a frailty, PathwayModel.tumour_state).
        scale, extra_scale = model._entry_scales[extrahepatic, pancreas]
        self.scale, self.extra_scale = scale * hazard_factor, extra_scale * hazard_factor
        self.beta = model.burden_exponent
        self.base_growth = base_growth
        # The factor of the line running at entry, where the course before entry showed it
        # (Patient.entry_line_growth): the disease grows with it now, and the first line goes on with it
        # (Course.start_tumour_line takes it once); None: the first line draws its own.
        self.entry_line_factor = entry_line_factor
        self.growth = base_growth if entry_line_factor is None else base_growth * entry_line_factor
        self.untreated_growth = self.growth  # the line's growth without its treatment (lose_effect)
        self.anchor_time = now
        self.anchor_log_burden = min(log_burden, 0.0)
        self.nadir_log_burden = self.anchor_log_burden
        # The log volume ratio over the nadir at which this line's progression is read (RECIST, plus
        # the line's measurement error).
        self.progression_level = model.log_progression_ratio
        self.lesion_progression_at = INF  # when a new lesion makes this line progress, whatever the volume
        # Extrahepatic disease with its own burden (TumourModel.extrahepatic_compartment): it grows with the
        # hepatic burden, shrinks only under systemic treatment, and its hazard adds to the hepatic one
        # (``extra_scale``, set above).
        self.extra_anchor_log_burden = self.anchor_log_burden
        # The patient's disease-death clock: the exposure (an Exp(1) draw) left at the anchor time, spent by
        # the hazard; the tumour settles it whenever it changes, so between changes the time of death is
        # computed once, not at every wait (``death_at``). Inf: no disease death.
        self.exposure = exposure
        self._death_at: float | None = None

    # ------------------------------------------------------------------ burden over time

    def _grown(self, x: float, months: float) -> float:
        """A log burden ``x`` after ``months`` of growth at the current rate (exponential, up to the whole liver)."""
        return min(x + self.growth * months, 0.0)

    def log_burden(self, now: float) -> float:
        return self._grown(self.anchor_log_burden, now - self.anchor_time)

    def _reanchor(self, now: float) -> float:
        # cumulative_hazard(anchor_time, elapsed) and log_burden(now), written out: this runs at every change.
        elapsed = now - self.anchor_time
        x = self.anchor_log_burden
        self._death_at = None
        if elapsed > 0.0:
            spent = self._integral(x, self.scale, elapsed)
            if self.extra_scale:
                extra = self.extra_anchor_log_burden
                spent += self._integral(extra, self.extra_scale, elapsed)
                self.extra_anchor_log_burden = self._grown(extra, elapsed)
            self.exposure -= spent  # inf until the clock starts
            x = self._grown(x, elapsed)
        self.anchor_time = now
        self.anchor_log_burden = x
        return x

    def start_line(
        self, now: float, growth_multiplier: float, line_factor: float = 1.0, reading_error: float = 0.0, reduction: float = 0.0
    ) -> None:
        """A new line of treatment: its effect on growth holds from now, and its nadir starts at today's burden.
        ``line_factor`` is the line's own variation of the patient's growth rate (1: none); ``reading_error``
        shifts the log volume ratio at which the line's progression is read (measurement error, 0: none).
        The line's first new lesion shows after the growth ``new_lesion_growth`` at the line's rate, so a
        drug that slows growth delays it by the same ratio. ``reduction`` lowers the growth rate by the same
        amount in every patient, in multiples of ``median_growth`` (a cytostatic drug under
        tumour.additive_growth_effect): below the median a slow tumour may stop growing or shrink."""
        self._reanchor(now)
        self.untreated_growth = self.base_growth * line_factor
        self.growth = self.untreated_growth * growth_multiplier - reduction * self.median_growth
        self._measure_from_here(now, reading_error)

    def lose_effect(self, now: float) -> None:
        """The line's treatment stops acting (acquired resistance) while the line goes on: the disease grows
        at the line's untreated rate from now, measured against the same nadir (the burden's lowest, now if
        it was shrinking); the growth the first new lesion still needs is kept."""
        old_rate = self._rate_at_reference()
        x = self._reanchor(now)
        if self.growth < 0.0:
            self.nadir_log_burden = min(self.nadir_log_burden, x)
        self.growth = self.untreated_growth
        rate = self._rate_at_reference()
        lesion = self.model.new_lesion_growth
        if lesion > 0.0 and rate > 0.0:
            left = old_rate * (self.lesion_progression_at - now) if old_rate > 0.0 else lesion
            self.lesion_progression_at = now + max(left, 0.0) / rate

    def restage(self, now: float, reading_error: float = 0.0) -> None:
        """A new line with no change of treatment: the growth in force goes on; the nadir, the progression
        reading and the new-lesion clock start again, as for ``start_line``."""
        self._reanchor(now)
        self._measure_from_here(now, reading_error)

    def _measure_from_here(self, now: float, reading_error: float) -> None:
        """Progression of the line that starts now (the tumour just re-anchored at ``now``) is measured from here."""
        model = self.model
        self.nadir_log_burden = self.anchor_log_burden
        self.progression_level = model.log_progression_ratio if reading_error == 0.0 else model.reading_level(reading_error)
        rate = self._rate_at_reference()
        lesion = model.new_lesion_growth
        self.lesion_progression_at = now + lesion / rate if lesion > 0.0 and rate > 0.0 else INF

    def shrink(self, now: float, fraction_remaining: float, systemic: bool = False) -> None:
        """Remove ``1 - fraction_remaining`` of the hepatic burden (resection, embolisation): a new nadir; a
        ``systemic`` treatment's response shrinks extrahepatic disease alike."""
        x = self._reanchor(now) + math.log(fraction_remaining)
        self.anchor_log_burden = x
        self.nadir_log_burden = min(self.nadir_log_burden, x)
        if systemic:
            self.extra_anchor_log_burden += math.log(fraction_remaining)

    def leave_residual(self, now: float, fraction_of_detection: float) -> None:
        """A complete resection or ablation: what remains is microscopic, ``fraction_of_detection`` of the
        smallest burden imaging sees, and nothing visible is left to measure from."""
        self._reanchor(now)
        self.anchor_log_burden = self.model.log_detection_burden + math.log(fraction_of_detection)
        self.nadir_log_burden = self.anchor_log_burden

    # ------------------------------------------------------------------ observed events

    def time_to_reach(self, now: float, log_level: float) -> float:
        """Months from ``now`` until the burden reaches ``log_level`` (inf if it never does)."""
        x = self.log_burden(now)
        if x >= log_level:
            return 0.0
        if self.growth <= 0.0 or log_level > 0.0:
            return INF
        return (log_level - x) / self.growth

    def _rate_at_reference(self) -> float:
        """The line's growth per month on the log-volume scale at the reference burden."""
        return self.growth

    def time_to_progression(self, now: float) -> float:
        """Months until RECIST progression: the burden's growth from the line's nadir or a new lesion,
        whichever is first."""
        return min(self._time_to_volume_progression(now), max(self.lesion_progression_at - now, 0.0))

    def _time_to_volume_progression(self, now: float) -> float:
        """Disease that fills the liver before the RECIST ratio is reached progresses when it fills it."""
        level = self.nadir_log_burden + self.progression_level
        if level > 0.0:
            if self.nadir_log_burden >= FULL:
                return INF  # a line started with the liver already full sees no further hepatic progression
            level = 0.0
        return self.time_to_reach(now, level)

    def time_to_recurrence(self, now: float) -> float:
        """Months until residual disease after a complete resection becomes visible."""
        return self.time_to_reach(now, self.model.log_detection_burden)

    # ------------------------------------------------------------------ disease death

    def death_at(self) -> float:
        """When the exposure runs out if the tumour does not change meanwhile (inf: never)."""
        found = self._death_at
        if found is None:
            # time_to_death(anchor_time, exposure): at the anchor the burden is the anchor's own.
            if self.extra_scale:
                months = self.time_to_death(self.anchor_time, self.exposure)
            else:
                months = self._inverse(self.anchor_log_burden, self.scale, self.exposure)
            found = self._death_at = self.anchor_time + months
        return found

    def hazard(self, now: float) -> float:
        total = self.scale * math.exp(self.beta * self.log_burden(now))
        if self.extra_scale:
            total += self.extra_scale * math.exp(self.beta * self._grown(self.extra_anchor_log_burden, now - self.anchor_time))
        return total

    def months_until_full(self, now: float) -> float:
        """Months until the burden fills the liver (inf if it never does, or already has)."""
        x = self.log_burden(now)
        return -x / self.growth if x < 0.0 and self.growth > 0.0 else INF

    def cumulative_hazard(self, now: float, step: float) -> float:
        """The disease-death hazard accumulated over ``[now, now + step]``."""
        if step <= 0.0:
            return 0.0
        elapsed = now - self.anchor_time
        total = self._integral(self._grown(self.anchor_log_burden, elapsed), self.scale, step)
        if self.extra_scale:
            total += self._integral(self._grown(self.extra_anchor_log_burden, elapsed), self.extra_scale, step)
        return total

    def time_to_death(self, now: float, exposure: float) -> float:
        """Months from ``now`` until the accumulated hazard reaches ``exposure`` (inverse of ``cumulative_hazard``)."""
        elapsed = now - self.anchor_time
        x = self._grown(self.anchor_log_burden, elapsed)
        if not self.extra_scale:
            return self._inverse(x, self.scale, exposure)
        extra = self._grown(self.extra_anchor_log_burden, elapsed)
        found = self._inverse_together(x, extra, exposure)
        if found is not None:
            return found
        # Each burden alone would take at least as long: the sum reaches the exposure no later than either.
        high = min(self._inverse(x, self.scale, exposure), self._inverse(extra, self.extra_scale, exposure))
        if high == INF:
            return INF
        low = 0.0
        t = high
        for _ in range(100):  # Newton from above on a convex, rising cumulative hazard, kept inside the bracket
            gap = self._integral(x, self.scale, t) + self._integral(extra, self.extra_scale, t) - exposure
            if gap > 0.0:
                high = t
            else:
                low = t
            if abs(gap) <= 1e-12 * (1.0 + exposure) or high - low <= 1e-12 * (1.0 + high):
                break
            slope = self.scale * math.exp(self.beta * self._grown(x, t)) + self.extra_scale * math.exp(self.beta * self._grown(extra, t))
            candidate = t - gap / slope if slope > 0.0 else 0.5 * (low + high)
            t = candidate if low < candidate < high else 0.5 * (low + high)
        return t

    def _inverse_together(self, x: float, extra: float, exposure: float) -> float | None:
        """``time_to_death`` in closed form when the exposure runs out before either burden fills its
        compartment (None otherwise): both grow at the same rate, so until then their hazards add up to one
        exponential, whose start is the sum of theirs: ``_inverse`` of the larger burden with that start."""
        top = max(x, extra)
        if top >= 0.0:
            return None
        start = self.scale * math.exp(self.beta * x) + self.extra_scale * math.exp(self.beta * extra)
        if start <= 0.0:  # an extrahepatic hazard ratio below 1 can cancel the liver's: left to the iteration
            return None
        months = self._inverse(top, start * math.exp(-self.beta * top), exposure)
        # Past the time the larger burden fills its compartment the two hazards no longer add up to one curve.
        return months if self.growth <= 0.0 or months <= -top / self.growth else None

    # _integral and _inverse run at every wait of every patient (the engine's hot path under the burden model).
    def _integral(self, x: float, scale: float, step: float) -> float:
        """The hazard ``scale * b ** beta`` of a burden at log ``x`` now, accumulated over the next ``step`` months."""
        if x >= 0.0:
            return scale * step  # the whole liver: the hazard is at its ceiling
        growth = self.growth
        start = scale * math.exp(self.beta * x)
        if growth == 0.0:
            return start * step
        rate = self.beta * growth
        full = -x / growth if growth > 0.0 else INF
        growing = step if step < full else full
        total = start * growing if rate == 0.0 else start * math.expm1(rate * growing) / rate
        if step > full:
            total += scale * (step - full)  # burden at the whole liver: the hazard stays at its ceiling
        return total

    def _inverse(self, x: float, scale: float, exposure: float) -> float:
        """Months until the hazard of a burden at log ``x`` now has accumulated ``exposure`` (inverse of ``_integral``)."""
        if x >= 0.0:
            return exposure / scale if scale > 0.0 else INF
        growth = self.growth
        start = scale * math.exp(self.beta * x)
        if start <= 0.0:
            return INF
        if growth == 0.0:
            return exposure / start
        rate = self.beta * growth
        full = -x / growth if growth > 0.0 else INF
        if rate == 0.0:
            growing_total = start * full
            if exposure <= growing_total:
                return exposure / start
        else:
            growing_total = start * math.expm1(rate * full) / rate if full < INF else (INF if rate > 0 else start / -rate)
            if exposure < growing_total:
                spent = exposure * rate / start
                # Shrinking disease: an exposure a rounding error below the hazard it has left is never reached.
                return math.log1p(spent) / rate if spent > -1.0 else INF
        if full == INF:
            return INF  # shrinking or static disease whose total remaining hazard is below the exposure
        return full + (exposure - growing_total) / scale


EULER_GAMMA = 0.5772156649015329  # the Euler-Mascheroni constant (Ei(u) = gamma + ln|u| + u + ... near 0)


class GompertzTumourState(TumourState):
    """The same tumour with Gompertzian growth: the log burden decays towards the whole liver,
    ``log b(t) = log b(t0) * exp(-a (t - t0))``, so relative growth slows as the liver fills (growth at
    10% burden is the same as the exponential law's). Event times stay closed-form except death,
    which inverts the exponential integral ``Ei`` by a safeguarded Newton iteration."""

    __slots__ = ()

    def __init__(
        self,
        model: TumourModel,
        log_burden: float,
        base_growth: float,
        extrahepatic: bool,
        pancreas: bool = False,
        now: float = 0.0,
        median_growth: float | None = None,
        exposure: float = INF,
        hazard_factor: float = 1.0,
        entry_line_factor: float | None = None,
    ) -> None:
        # The rate constant that gives the exponential law's growth at the reference burden.
        rate = 1.0 / -model.log_reference_burden
        median = None if median_growth is None else median_growth * rate
        super().__init__(
            model, log_burden, base_growth * rate, extrahepatic, pancreas, now, median, exposure, hazard_factor, entry_line_factor
        )
        self.anchor_log_burden = min(self.anchor_log_burden, FULL)
        self.nadir_log_burden = self.anchor_log_burden
        self.extra_anchor_log_burden = self.anchor_log_burden

    def _grown(self, x: float, months: float) -> float:
        return x * math.exp(-self.growth * months)

    def time_to_reach(self, now: float, log_level: float) -> float:
        x = self.log_burden(now)
        if x >= log_level:
            return 0.0
        if self.growth <= 0.0 or log_level >= FULL:
            return INF
        return math.log(x / log_level) / self.growth

    def _rate_at_reference(self) -> float:
        return self.growth * -self.model.log_reference_burden

    def _time_to_volume_progression(self, now: float) -> float:
        """Gompertzian disease never fills the liver: the RECIST ratio or never."""
        return self.time_to_reach(now, self.nadir_log_burden + self.progression_level)

    def _inverse_together(self, x: float, extra: float, exposure: float) -> None:
        return None  # under Gompertz growth the two hazards do not add up to one curve of the same form

    def _integral(self, x: float, scale: float, step: float) -> float:
        rate = self.growth
        if rate == 0.0 or self.beta == 0.0 or x >= FULL:
            return scale * math.exp(self.beta * x) * step
        u0 = self.beta * x
        u1 = u0 * math.exp(-rate * step)
        return scale / rate * (float(expi(u0)) - float(expi(u1)))

    def _inverse(self, x: float, scale: float, exposure: float) -> float:
        rate = self.growth
        if scale <= 0.0:
            return INF
        if rate == 0.0 or self.beta == 0.0 or x >= FULL:  # no growth left to speak of: a constant hazard
            return exposure / (scale * math.exp(self.beta * x))
        u0 = self.beta * x
        target = float(expi(u0)) - rate * exposure / scale
        # Solve Ei(-exp(v)) = target for v = log(-u1) < v0; Ei(-exp(v)) rises with v, with slope exp(-exp(v)).
        v0 = math.log(-u0)
        high = v0
        low = min(v0, target - EULER_GAMMA) - 1.0
        while float(expi(-math.exp(low))) > target:
            low -= 10.0
        v = min(max(target - EULER_GAMMA, low), high)  # the small-|u| approximation as a start
        for _ in range(100):
            gap = float(expi(-math.exp(v))) - target
            if gap > 0.0:
                high = v
            else:
                low = v
            if abs(gap) <= 1e-13 * (1.0 + abs(target)) or high - low <= 1e-15 * (1.0 + abs(v)):
                break
            step = gap / math.exp(-math.exp(v))
            candidate = v - step
            v = candidate if low < candidate < high else 0.5 * (low + high)
        return (v0 - v) / rate
