"""Baseline traits of simulated patients, drawn from each patient's own streams.

Patient k of replication r has the same traits in every strategy (common random numbers). The mix
comes from the ``cohort.*`` parameters; correlations the clinic sees are explicit here: the
hormonal syndrome follows the primary site, and resectability falls with hepatic burden and
extrahepatic disease.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ..core.rng import RandomStreams
from ..params.parameter_set import ParameterSet

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


def build_cohort(params: ParameterSet, streams: RandomStreams, size: int, fixed_age: float | None = None, first: int = 0) -> list[Patient]:
    """Patients ``first .. first + size - 1``; identical for every strategy of the same replication.

    A patient's traits depend only on its index, so a cohort built in pieces is the same cohort."""
    ids = np.arange(first, first + size, dtype=np.int64)
    u = lambda name: streams.first_uniforms(f"cohort.{name}", ids)  # noqa: E731
    p = params.value
    mixes = mix_probabilities(params)

    if fixed_age is None:
        z = special.ndtri(np.clip(u("age"), 1e-12, 1 - 1e-12))
        age = np.clip(p("cohort.age_mean") + p("cohort.age_sd") * z, p("cohort.age_min"), p("cohort.age_max"))
    else:
        age = np.full(size, float(fixed_age))
    sex = np.where(u("sex") < p("cohort.male"), "male", "female")
    site = _categorical(u("primary_site"), *mixes["primary_site"])
    grade = _categorical(u("grade"), *mixes["grade"])
    burden = _categorical(u("burden"), *mixes["burden"])
    functional = u("functional") < p("cohort.functional")
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
    resectable = u("resectable") < resectable_probability
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
        )
        for i in range(size)
    ]
