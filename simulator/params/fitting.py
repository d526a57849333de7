"""Fit a distribution to published summary points (scipy.optimize), without simulating.

Published trials report medians, landmark survival and hazard ratios, not individual data. These
functions turn such points into distribution parameters: least squares on the survival function
at the reported times, optionally for two arms linked by a proportional-hazards ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .distributions import FAMILIES, TimeToEvent, build_distribution

# Parameters fitted on the log scale (they must stay positive); the rest on their natural scale.
POSITIVE = {"rate", "shape", "scale", "sdlog", "sigma", "median"}
FREE_PARAMETERS = {
    "exponential": ("rate",),
    "weibull": ("shape", "scale"),
    "gompertz": ("shape", "rate"),
    "loglogistic": ("shape", "scale"),
    "lognormal": ("meanlog", "sdlog"),
    "gamma": ("shape", "rate"),
    "gengamma": ("mu", "sigma", "Q"),
}


@dataclass(frozen=True)
class SurvivalPoint:
    """S(time) = survival, as read from a paper; a median is SurvivalPoint(median, 0.5)."""

    time: float
    survival: float


@dataclass(frozen=True)
class Fit:
    family: str
    params: dict
    distribution: TimeToEvent
    hazard_ratio: float | None
    residuals: tuple[float, ...]


def weibull_shape_from_ph_medians(median_control: float, median_treatment: float, hazard_ratio: float) -> float:
    """Weibull shape at which a proportional-hazards ratio maps one median onto the other.

    Under PH with Weibull shape k, median_t = median_c * HR^(-1/k), so k = ln(1/HR) / ln(m_t / m_c).
    """
    if not (0 < hazard_ratio < 1 and median_treatment > median_control > 0):
        raise ValueError("expected 0 < hazard ratio < 1 and a treatment median above the control median")
    return math.log(1.0 / hazard_ratio) / math.log(median_treatment / median_control)


def _start(family: str, points: Sequence[SurvivalPoint]) -> dict:
    median_guess = next((p.time for p in points if abs(p.survival - 0.5) < 0.15), points[0].time)
    rate = math.log(2.0) / median_guess
    return {
        "exponential": {"rate": rate},
        "weibull": {"shape": 1.0, "scale": median_guess / math.log(2.0)},
        "gompertz": {"shape": 0.01, "rate": rate},
        "loglogistic": {"shape": 1.5, "scale": median_guess},
        "lognormal": {"meanlog": math.log(median_guess), "sdlog": 1.0},
        "gamma": {"shape": 1.0, "rate": rate},
        "gengamma": {"mu": math.log(median_guess), "sigma": 1.0, "Q": 0.5},
    }[family]


def _pack(family: str, params: dict) -> np.ndarray:
    return np.array([math.log(params[k]) if k in POSITIVE else params[k] for k in FREE_PARAMETERS[family]])


def _unpack(family: str, vector: np.ndarray) -> dict:
    return {k: (math.exp(v) if k in POSITIVE else float(v)) for k, v in zip(FREE_PARAMETERS[family], vector)}


def fit_survival_points(
    family: str,
    control: Sequence[SurvivalPoint],
    treatment: Sequence[SurvivalPoint] = (),
    hazard_ratio: float | None = None,
) -> Fit:
    """Least-squares fit of ``family`` to the control arm's points and, if given, a treatment arm
    whose survival is S_control(t) ** HR. With ``hazard_ratio`` None and treatment points given,
    the HR is fitted too; with a number, it is held fixed."""
    if family not in FREE_PARAMETERS:
        raise ValueError(f"family must be one of {sorted(FREE_PARAMETERS)}")
    if family not in FAMILIES:  # pragma: no cover - the two tables are kept together
        raise ValueError(family)
    fit_hr = bool(treatment) and hazard_ratio is None
    start = _pack(family, _start(family, control))
    if fit_hr:
        start = np.append(start, 0.0)

    def residuals(vector: np.ndarray) -> np.ndarray:
        params = _unpack(family, vector[: len(FREE_PARAMETERS[family])])
        try:
            dist = build_distribution(family, params)
        except ValueError:
            return np.full(len(control) + len(treatment), 10.0)
        hr = math.exp(vector[-1]) if fit_hr else (hazard_ratio or 1.0)
        out = [float(dist.survival(p.time)) - p.survival for p in control]
        out += [float(dist.survival(p.time)) ** hr - p.survival for p in treatment]
        return np.asarray(out)

    solution = optimize.least_squares(residuals, start, method="lm" if len(start) <= len(control) + len(treatment) else "trf")
    params = _unpack(family, solution.x[: len(FREE_PARAMETERS[family])])
    hr = math.exp(solution.x[-1]) if fit_hr else hazard_ratio
    return Fit(family, params, build_distribution(family, params), hr, tuple(float(r) for r in residuals(solution.x)))
