"""Parametric time-to-event distributions with a small, uniform interface.

Each family gives ``survival``, ``hazard``, ``cumulative_hazard``, ``median``, ``mean``,
``sample(rng, size)`` and, for the event loop, ``time_from_uniform(u, hazard_ratio)``: a pure-Python
inverse-survival transform. The uniform is read as a survival probability, so the same uniform
maps monotonically to a time under any parameter set (common random numbers), and a proportional-
hazards ratio enters as ``S_hr(t) = S(t) ** hr``, i.e. ``t = S^-1(u ** (1 / hr))``.

Families follow the parameterisations of flexsurv (R), which published NET models report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import ClassVar

import numpy as np
from scipy import special

_STANDARD_NORMAL = NormalDist()
LN2 = math.log(2.0)
MAX_CUTS = 1_000  # piecewise_exponential: inversion walks the cuts, so their number bounds the work per draw
# Survival probabilities at which a built distribution must give a defined time, non-decreasing as
# the probability falls (1 - 2**-53 .. 2**-53 is the range of a numpy uniform; 1e-300 covers hazard ratios).
_PROBE_SURVIVAL = (1.0, 1.0 - 2.0**-53, 0.999, 0.9, 0.5, 0.1, 0.001, 1e-9, 2.0**-53, 1e-300)


class DistributionError(ValueError):
    """Parameters that make a distribution undefined; the message names the parameter."""


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise DistributionError(f"{name} must be a finite number > 0")
    return value


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise DistributionError(f"{name} must be a finite number")
    return value


@dataclass(frozen=True)
class TimeToEvent:
    """Base class: subclasses implement ``isf`` (inverse survival) and ``survival``; the rest follows."""

    family: ClassVar[str] = ""

    def survival(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def isf(self, p: float) -> float:  # pragma: no cover - abstract
        """Time t with S(t) = p, for 0 < p <= 1."""
        raise NotImplementedError

    def cumulative_hazard(self, t):
        with np.errstate(divide="ignore"):
            return -np.log(self.survival(t))

    def hazard(self, t, dt: float = 1e-6):
        t = np.asarray(t, dtype=float)
        upper = self.cumulative_hazard(t + dt)
        lower = self.cumulative_hazard(np.maximum(t - dt, 0.0))
        return (upper - lower) / (t + dt - np.maximum(t - dt, 0.0))

    def time_from_uniform(self, u: float, hazard_ratio: float = 1.0, time_ratio: float = 1.0) -> float:
        """Proportional hazards (``hazard_ratio``) and accelerated failure time (``time_ratio``:
        every time multiplied by it, so 2 doubles the median).

        Extreme ratios never raise: a survival probability that underflows to 0, or a time too large
        for a float, is an event that never comes (inf); an undefined time (NaN) raises DistributionError."""
        if u <= 0.0 or hazard_ratio <= 0.0:
            return math.inf
        if hazard_ratio != 1.0:
            u = u ** (1.0 / hazard_ratio)
            if u <= 0.0:
                return math.inf
        try:
            t = self.isf(u) * time_ratio
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            t = math.nan
        if not t >= 0.0:
            raise DistributionError(f"{self.family} parameters that give a time >= 0 at survival probability {u!r}")
        return t

    @property
    def median(self) -> float:
        return self.isf(0.5)

    @property
    def mean(self) -> float:
        from scipy import integrate  # here: `validate` and `params` start quickly without it

        value, _ = integrate.quad(lambda t: float(self.survival(t)), 0.0, np.inf, limit=200)
        return value

    def restricted_mean(self, horizon: float) -> float:
        from scipy import integrate

        value, _ = integrate.quad(lambda t: float(self.survival(t)), 0.0, horizon, limit=200)
        return value

    def sample(self, rng: np.random.Generator, size: int, hazard_ratio: float = 1.0) -> np.ndarray:
        uniforms = rng.random(size)
        return np.array([self.time_from_uniform(float(u), hazard_ratio) for u in uniforms])


@dataclass(frozen=True)
class Exponential(TimeToEvent):
    rate: float
    family: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        _positive("rate", self.rate)

    @classmethod
    def from_median(cls, median: float) -> Exponential:
        return cls(LN2 / _positive("median", median))

    def survival(self, t):
        return np.exp(-self.rate * np.asarray(t, dtype=float))

    def isf(self, p: float) -> float:
        return -math.log(p) / self.rate

    def hazard(self, t, dt: float = 0.0):
        return np.full_like(np.asarray(t, dtype=float), self.rate)

    @property
    def mean(self) -> float:
        return 1.0 / self.rate

    def sample(self, rng, size, hazard_ratio: float = 1.0):
        return rng.exponential(1.0 / (self.rate * hazard_ratio), size)


@dataclass(frozen=True)
class Weibull(TimeToEvent):
    shape: float
    scale: float
    family: ClassVar[str] = "weibull"

    def __post_init__(self) -> None:
        _positive("shape", self.shape)
        _positive("scale", self.scale)

    @classmethod
    def from_median(cls, shape: float, median: float) -> Weibull:
        shape = _positive("shape", shape)
        return cls(shape, _positive("median", median) / LN2 ** (1.0 / shape))

    def survival(self, t):
        return np.exp(-((np.asarray(t, dtype=float) / self.scale) ** self.shape))

    def hazard(self, t, dt: float = 0.0):
        t = np.asarray(t, dtype=float)
        with np.errstate(divide="ignore"):
            return self.shape / self.scale * (t / self.scale) ** (self.shape - 1.0)

    def isf(self, p: float) -> float:
        return self.scale * (-math.log(p)) ** (1.0 / self.shape)

    @property
    def mean(self) -> float:
        return self.scale * math.gamma(1.0 + 1.0 / self.shape)


@dataclass(frozen=True)
class Gompertz(TimeToEvent):
    """h(t) = rate * exp(shape * t); shape < 0 gives a cured fraction (isf returns inf beyond it)."""

    shape: float
    rate: float
    family: ClassVar[str] = "gompertz"

    def __post_init__(self) -> None:
        _finite("shape", self.shape)
        _positive("rate", self.rate)

    def cumulative_hazard(self, t):
        t = np.asarray(t, dtype=float)
        if self.shape == 0.0:
            return self.rate * t
        with np.errstate(over="ignore"):
            return self.rate / self.shape * np.expm1(self.shape * t)

    def survival(self, t):
        return np.exp(-self.cumulative_hazard(t))

    def hazard(self, t, dt: float = 0.0):
        return self.rate * np.exp(self.shape * np.asarray(t, dtype=float))

    def isf(self, p: float) -> float:
        target = -math.log(p)
        if self.shape == 0.0:
            return target / self.rate
        inner = 1.0 + self.shape * target / self.rate
        if inner <= 0.0:
            return math.inf
        if math.isinf(inner):  # shape / rate beyond float range: log(1 + x) = log(x) there
            return (math.log(self.shape) - math.log(self.rate) + math.log(target)) / self.shape
        return math.log(inner) / self.shape

    @property
    def mean(self) -> float:
        if self.shape < 0:
            return math.inf
        return super().mean


@dataclass(frozen=True)
class LogLogistic(TimeToEvent):
    shape: float
    scale: float
    family: ClassVar[str] = "loglogistic"

    def __post_init__(self) -> None:
        _positive("shape", self.shape)
        _positive("scale", self.scale)

    def survival(self, t):
        return 1.0 / (1.0 + (np.asarray(t, dtype=float) / self.scale) ** self.shape)

    def isf(self, p: float) -> float:
        return self.scale * ((1.0 - p) / p) ** (1.0 / self.shape)

    @property
    def mean(self) -> float:
        if self.shape <= 1.0:
            return math.inf
        b = math.pi / self.shape
        return self.scale * b / math.sin(b)


@dataclass(frozen=True)
class LogNormal(TimeToEvent):
    meanlog: float
    sdlog: float
    family: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        _finite("meanlog", self.meanlog)
        _positive("sdlog", self.sdlog)

    @classmethod
    def from_median(cls, median: float, sdlog: float) -> LogNormal:
        return cls(math.log(_positive("median", median)), sdlog)

    def survival(self, t):
        t = np.asarray(t, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(t) - self.meanlog) / self.sdlog
        return special.ndtr(-z)

    def isf(self, p: float) -> float:
        if p >= 1.0:
            return 0.0
        # 1 - p rounds to 1 below ~1e-16 (reachable through hazard ratios): use the symmetry there.
        z = _STANDARD_NORMAL.inv_cdf(1.0 - p) if p > 1e-12 else -_STANDARD_NORMAL.inv_cdf(p)
        return math.exp(self.meanlog + self.sdlog * z)

    @property
    def mean(self) -> float:
        return math.exp(self.meanlog + self.sdlog**2 / 2.0)


@dataclass(frozen=True)
class Gamma(TimeToEvent):
    shape: float
    rate: float
    family: ClassVar[str] = "gamma"

    def __post_init__(self) -> None:
        _positive("shape", self.shape)
        _positive("rate", self.rate)

    def survival(self, t):
        return special.gammaincc(self.shape, self.rate * np.asarray(t, dtype=float))

    def isf(self, p: float) -> float:
        return float(special.gammainccinv(self.shape, p)) / self.rate

    @property
    def mean(self) -> float:
        return self.shape / self.rate


@dataclass(frozen=True)
class GeneralizedGamma(TimeToEvent):
    """Prentice (1974) generalised gamma, as flexsurv's ``gengamma``: mu, sigma, Q (Q = 0 is log-normal)."""

    mu: float
    sigma: float
    Q: float
    family: ClassVar[str] = "gengamma"

    def __post_init__(self) -> None:
        _finite("mu", self.mu)
        _positive("sigma", self.sigma)
        _finite("Q", self.Q)

    def survival(self, t):
        t = np.asarray(t, dtype=float)
        if self.Q == 0.0:
            return LogNormal(self.mu, self.sigma).survival(t)
        with np.errstate(divide="ignore"):
            w = (np.log(t) - self.mu) / self.sigma
        a = self.Q**-2
        x = a * np.exp(self.Q * w)
        return special.gammaincc(a, x) if self.Q > 0 else special.gammainc(a, x)

    def isf(self, p: float) -> float:
        if self.Q == 0.0:
            return LogNormal(self.mu, self.sigma).isf(p)
        a = self.Q**-2
        x = float(special.gammainccinv(a, p)) if self.Q > 0 else float(special.gammaincinv(a, p))
        if x <= 0.0:
            return 0.0
        w = math.log(x / a) / self.Q
        return math.exp(self.mu + self.sigma * w)


@dataclass(frozen=True)
class PiecewiseExponential(TimeToEvent):
    """Constant hazard ``rates[i]`` from ``cuts[i]`` (cuts[0] == 0) to the next cut; the last rate runs on."""

    cuts: tuple[float, ...]
    rates: tuple[float, ...]
    family: ClassVar[str] = "piecewise_exponential"
    _cumulative: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.cuts) != len(self.rates) or not self.cuts:
            raise DistributionError("cuts and rates must have the same, non-zero length")
        if float(self.cuts[0]) != 0.0:
            raise DistributionError("cuts must start at 0")
        if len(self.cuts) > MAX_CUTS or not all(math.isfinite(float(c)) for c in self.cuts):
            raise DistributionError(f"cuts must be at most {MAX_CUTS} finite numbers")
        if any(b <= a for a, b in zip(self.cuts, self.cuts[1:])):
            raise DistributionError("cuts must be strictly increasing")
        for index, rate in enumerate(self.rates):
            value = float(rate)
            if not math.isfinite(value) or value < 0:
                raise DistributionError(f"rates[{index}] must be a finite number >= 0")
        if float(self.rates[-1]) <= 0:
            raise DistributionError("the last rate must be > 0 so that every time is finite")
        cumulative = [0.0]
        for i in range(1, len(self.cuts)):
            cumulative.append(cumulative[-1] + self.rates[i - 1] * (self.cuts[i] - self.cuts[i - 1]))
        object.__setattr__(self, "_cumulative", tuple(cumulative))

    def cumulative_hazard(self, t):
        t = np.asarray(t, dtype=float)
        cuts = np.asarray(self.cuts)
        index = np.clip(np.searchsorted(cuts, t, side="right") - 1, 0, None)
        return np.asarray(self._cumulative)[index] + np.asarray(self.rates)[index] * (t - cuts[index])

    def survival(self, t):
        return np.exp(-self.cumulative_hazard(t))

    def hazard(self, t, dt: float = 0.0):
        t = np.asarray(t, dtype=float)
        index = np.clip(np.searchsorted(np.asarray(self.cuts), t, side="right") - 1, 0, None)
        return np.asarray(self.rates)[index]

    def isf(self, p: float) -> float:
        target = -math.log(p)
        cumulative = self._cumulative
        i = len(cumulative) - 1
        while cumulative[i] > target:
            i -= 1
        rate = self.rates[i]
        if rate == 0.0:  # only reachable when target sits exactly at a boundary
            return self.cuts[i]
        return self.cuts[i] + (target - cumulative[i]) / rate


def _build_weibull(spec: dict) -> Weibull:
    if "median" in spec:
        return Weibull.from_median(spec["shape"], spec["median"])
    return Weibull(spec["shape"], spec["scale"])


def _build_exponential(spec: dict) -> Exponential:
    if "median" in spec:
        return Exponential.from_median(spec["median"])
    return Exponential(spec["rate"])


def _build_lognormal(spec: dict) -> LogNormal:
    if "median" in spec:
        return LogNormal.from_median(spec["median"], spec["sdlog"])
    return LogNormal(spec["meanlog"], spec["sdlog"])


# name -> (builder, accepted parameter sets); each accepted set is one way papers report the family.
FAMILIES: dict[str, tuple[Callable[[dict], TimeToEvent], tuple[frozenset[str], ...]]] = {
    "exponential": (_build_exponential, (frozenset({"rate"}), frozenset({"median"}))),
    "weibull": (_build_weibull, (frozenset({"shape", "scale"}), frozenset({"shape", "median"}))),
    "gompertz": (lambda s: Gompertz(s["shape"], s["rate"]), (frozenset({"shape", "rate"}),)),
    "loglogistic": (lambda s: LogLogistic(s["shape"], s["scale"]), (frozenset({"shape", "scale"}),)),
    "lognormal": (_build_lognormal, (frozenset({"meanlog", "sdlog"}), frozenset({"median", "sdlog"}))),
    "gamma": (lambda s: Gamma(s["shape"], s["rate"]), (frozenset({"shape", "rate"}),)),
    "gengamma": (lambda s: GeneralizedGamma(s["mu"], s["sigma"], s["Q"]), (frozenset({"mu", "sigma", "Q"}),)),
    "piecewise_exponential": (
        lambda s: PiecewiseExponential(tuple(map(float, s["cuts"])), tuple(map(float, s["rates"]))),
        (frozenset({"cuts", "rates"}),),
    ),
}


def build_distribution(family: str, spec: dict) -> TimeToEvent:
    """Build a distribution from a parameter-file spec; errors name the offending parameter."""
    if family not in FAMILIES:
        raise DistributionError(f"distribution must be one of {sorted(FAMILIES)}")
    builder, accepted = FAMILIES[family]
    keys = frozenset(spec)
    if keys not in accepted:
        options = " or ".join("{" + ", ".join(sorted(a)) + "}" for a in accepted)
        raise DistributionError(f"{family} takes parameters {options}")
    for key, value in spec.items():
        if key in ("cuts", "rates"):
            if not isinstance(value, (list, tuple)) or not all(_is_number(v) for v in value):
                raise DistributionError(f"{key} must be a list of numbers")
        elif not _is_number(value):
            raise DistributionError(f"{key} must be a number")
    return check_defined(builder(dict(spec)))


def check_defined(distribution: TimeToEvent) -> TimeToEvent:
    """Refuse parameters for which inversion gives no defined, ordered time (NaN, negative, or
    decreasing as survival falls, or inf where survival is still 0.999 or more); overflow to inf
    further out is allowed (an event that never comes)."""
    previous = 0.0
    for p in _PROBE_SURVIVAL:
        t = distribution.time_from_uniform(p)
        if t < previous - 1e-9 * max(1.0, previous):
            raise DistributionError(f"{distribution.family} parameters that give times growing as survival falls (S={p:g})")
        if p >= 0.999 and math.isinf(t):
            raise DistributionError(f"{distribution.family} parameters that give a finite time at survival probability {p!r}")
        previous = t
    return distribution


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
