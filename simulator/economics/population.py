"""The UK general population's health: age adjustment of utilities and expected remaining QALYs.

Both read ``params/data/population_utility_norms.csv`` (EQ-5D-3L by age band and sex, McNamara et
al. 2023, the reference case of the QALY Shortfall Calculator of NICE DSU TSD 23) and, for
survival, ``params/data/life_table.csv`` (ONS UK 2017-2019).

* Age adjustment (NICE DSU TSD 12, multiplicative): a health state's utility, measured in a
  population of mean age ``utility.reference_age``, is multiplied at age a by
  norm(a, sex) / norm(reference age, sex). The norms are constant within each band, so the
  adjusted length of an interval is the sum, over the bands it crosses, of the band's ratio times
  the (discounted) length of the part of the interval in that band: exact, not a quadrature.
* General-population QALYs (PMG36 sections 6.2.12-6.2.15): for a person of the patient's age and
  sex, the sum over single years of age x of norm(x) x S(x) x integral of e^-(h_x + rho) t over the
  part of the year within the horizon, with h_x = -ln(1 - q_x) (a constant hazard within each year
  of age, as the engine's other-cause death clock) and S the survival to the start of that part.

Everything stops at age 100, the last age of the life table: the model's lifetime horizon.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..params.parameter_set import life_table_hazard
from .discounting import MONTHS_PER_YEAR, continuous_rate, discounted_years

LIFETIME_AGE = 100.0  # the life table's last age: valuation and general-population QALYs stop there
SEXES = ("male", "female")


@lru_cache(maxsize=1)
def norm_bands() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(first age of each band, utility per band by sex); the bands are the same for both sexes."""
    path = Path(str(resources.files("simulator.params").joinpath("data", "population_utility_norms.csv")))
    rows: dict[str, list[tuple[float, float]]] = {sex: [] for sex in SEXES}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        age, sex, utility = line.split(",")
        rows[sex].append((float(age), float(utility)))
    edges = np.array([a for a, _ in sorted(rows[SEXES[0]])])
    if any(not np.array_equal(edges, [a for a, _ in sorted(rows[s])]) for s in SEXES):
        raise ValueError("population_utility_norms.csv: the same age bands for both sexes")
    return edges, {sex: np.array([u for _, u in sorted(rows[sex])]) for sex in SEXES}


def norm_at(age, sex) -> np.ndarray:
    """General-population utility at ``age`` (ages below the first band take its value)."""
    edges, values = norm_bands()
    age, sex = np.broadcast_arrays(np.asarray(age, dtype=float), np.asarray(sex, dtype=object))
    band = np.clip(np.searchsorted(edges, age, side="right") - 1, 0, len(edges) - 1)
    return np.where(sex == "male", values["male"][band], values["female"][band])


def _male(sex) -> np.ndarray:
    flags = np.asarray(sex, dtype=object)
    unknown = ~np.isin(flags, SEXES)
    if unknown.any():
        raise ValueError(f"sex 'male' or 'female', not {flags[unknown][0]!r}")
    return flags == "male"


def age_weighted_years(entry_age, sex, start_months, end_months, rate: float, reference_age: float) -> tuple[np.ndarray, np.ndarray]:
    """Undiscounted and discounted years of [start, end) months (from entry), each instant weighted
    by norm(age then, sex) / norm(reference_age, sex)."""
    edges, values = norm_bands()
    age = np.asarray(entry_age, dtype=float)
    start, end = np.asarray(start_months, dtype=float), np.asarray(end_months, dtype=float)
    male = _male(sex)
    reference = np.where(male, norm_at(reference_age, "male"), norm_at(reference_age, "female"))
    ratio = np.where(male[:, None], values["male"][None, :], values["female"][None, :]) / reference[:, None]
    last = len(edges) - 1
    first_band = np.clip(np.searchsorted(edges, age + start / MONTHS_PER_YEAR, side="right") - 1, 0, last)
    last_band = np.clip(np.searchsorted(edges, age + end / MONTHS_PER_YEAR, side="right") - 1, 0, last)
    rows = np.arange(len(age))
    plain = ratio[rows, first_band] * (end - start) / MONTHS_PER_YEAR
    discounted = ratio[rows, first_band] * discounted_years(start, end, rate)
    crossing = np.flatnonzero(last_band > first_band)
    if crossing.size:
        plain[crossing] = 0.0
        discounted[crossing] = 0.0
        a, s, e = age[crossing], start[crossing], end[crossing]
        for band in range(int(first_band[crossing].min()), int(last_band[crossing].max()) + 1):
            lower = np.maximum(s, (edges[band] - a) * MONTHS_PER_YEAR) if band > 0 else s
            upper = np.minimum(e, (edges[band + 1] - a) * MONTHS_PER_YEAR) if band < last else e
            inside = upper > lower
            weight = np.where(inside, ratio[crossing, band], 0.0)
            upper = np.where(inside, upper, lower)
            plain[crossing] += weight * (upper - lower) / MONTHS_PER_YEAR
            discounted[crossing] += weight * discounted_years(lower, upper, rate)
    return plain, discounted


def months_to_lifetime_age(entry_age) -> np.ndarray:
    """Months from entry to age 100 (0 for anyone older at entry)."""
    return np.maximum(LIFETIME_AGE - np.asarray(entry_age, dtype=float), 0.0) * MONTHS_PER_YEAR


@lru_cache(maxsize=1)
def _yearly_tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per sex, for each single year of age 0..99: (constant death hazard, population utility)."""
    hazard = life_table_hazard()
    years = np.arange(int(LIFETIME_AGE), dtype=float)
    index = np.minimum(np.arange(int(LIFETIME_AGE)), len(hazard["male"]) - 1)
    return {sex: (hazard[sex][index], norm_at(years, sex)) for sex in SEXES}


def general_population_qalys(entry_age, sex, horizon_months: float, rate: float) -> np.ndarray:
    """Expected (discounted at ``rate``) QALYs of people of each age and sex over the horizon, up to age 100."""
    age = np.asarray(entry_age, dtype=float)
    male = _male(sex)
    yearly = _yearly_tables()
    rho = continuous_rate(rate)
    end = np.minimum(float(horizon_months), months_to_lifetime_age(age)) / MONTHS_PER_YEAR  # years from entry
    survival = np.ones(len(age))
    total = np.zeros(len(age))
    if not len(age):
        return total
    for year in range(int(np.floor(age.min())), int(LIFETIME_AGE)):
        lower = np.clip(year - age, 0.0, None)  # years from entry at which this year of age begins
        upper = np.minimum(year + 1 - age, end)
        length = np.where(upper > lower, upper - lower, 0.0)
        h = np.where(male, yearly["male"][0][year], yearly["female"][0][year])
        u = np.where(male, yearly["male"][1][year], yearly["female"][1][year])
        rate_total = h + rho
        integral = np.where(rate_total > 0, -np.expm1(-rate_total * length) / np.where(rate_total > 0, rate_total, 1.0), length)
        total += u * survival * np.exp(-rho * lower) * integral
        survival *= np.exp(-h * length)
    return total
