"""One parameter-file entry: a value or a distribution, a unit, and a source or a stated assumption."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .distributions import DistributionError, TimeToEvent, build_distribution

# unit -> (lowest allowed, highest allowed); None means unbounded on that side.
UNIT_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "probability": (0.0, 1.0),
    "proportion": (0.0, 1.0),
    "hazard_ratio": (0.0, None),
    "time_ratio": (0.0, None),  # accelerated failure time: every time multiplied by it
    "odds_ratio": (0.0, None),
    "months": (0.0, None),
    "days": (0.0, None),
    "years": (0.0, None),
    "minutes": (0.0, None),
    "weeks": (0.0, None),
    "count": (0.0, None),
    "per_month": (0.0, None),
    "volume_ratio": (0.0, None),
    "exponent": (0.0, None),  # a power (tumour.burden_hazard_exponent)
    "log_volume": (0.0, None),  # a growth on the log-volume scale (tumour.new_lesion_growth)
    "growth_reduction": (0.0, None),  # a reduction of growth in multiples of a median growth rate (tumour.yaml)
    "sd_log": (0.0, None),  # a standard deviation on the log scale
    "correlation": (-1.0, 1.0),
    "switch": (0.0, 1.0),  # 0 or 1: a structural choice (transitional, see disease.burden_model)
    "per_100000_per_year": (0.0, None),
    # health economics (simulator/params/library/economics.yaml)
    "gbp": (0.0, None),
    "gbp_per_28_days": (0.0, None),
    "gbp_per_month": (0.0, None),
    "gbp_per_minute": (0.0, None),
    "gbp_per_day": (0.0, None),
    "utility": (None, 1.0),
    "utility_decrement": (0.0, 1.0),
    "patients_per_year": (0.0, None),
}
COST_UNIT_PREFIX = "gbp"  # units of money: every such entry states the price year of its value
PSA_FAMILIES_FOR_VALUES = ("beta", "gamma", "lognormal", "dirichlet")
PSA_FAMILIES_FOR_DISTRIBUTIONS = ("normal", "mvnormal")
STRICTLY_POSITIVE_UNITS = frozenset({"hazard_ratio", "odds_ratio", "time_ratio"})
RATIO_RANGE = (1e-3, 1e3)  # hazard, odds and time ratios
MAX_COUNT = 100  # sessions, cycles, operations, progressions counted in the hazard


class PSASpec(BaseModel):
    """How a parameter varies in probabilistic sensitivity analysis (``nelm-sim psa``).

    Value entries: ``beta`` (probabilities, proportions, utilities, decrements; mean = value,
    standard error ``se``), ``gamma`` (costs, durations; mean = value, ``se``) or ``lognormal``
    (ratios; median = value, ``se`` = standard error of log(value)). Distribution entries (fitted
    survival curves): ``normal`` on one of the distribution's ``parameters`` or ``mvnormal`` on
    several, on the ``scale`` (``log`` or ``natural``) on which they were fitted, centred on the
    entry's ``params`` with standard error ``se`` (normal) or ``covariance`` (mvnormal).

    Shares of one population that sum to at most 1 (primary sites, grades, burden bands): ``dirichlet``
    with the same ``group`` on every member and the ``count`` of patients the shares were observed in
    (or an assumed count, with its reason); the members and the rest (1 minus their sum) are drawn
    jointly from Dirichlet(count x share), so every draw's shares still sum to at most 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    distribution: Literal["beta", "gamma", "lognormal", "dirichlet", "normal", "mvnormal"]
    se: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    group: str | None = None
    count: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    parameters: list[str] | None = None
    scale: Literal["natural", "log"] = "natural"
    covariance: list[list[Annotated[float, Field(allow_inf_nan=False)]]] | None = None
    source: str | None = None
    assumption: str | None = None

    @property
    def provenance(self) -> str:
        return self.source if self.source else f"assumption: {self.assumption}"

    def describe(self) -> str:
        if self.distribution == "mvnormal":
            return f"mvnormal({self.scale} {', '.join(self.parameters or [])})"
        if self.distribution == "normal":
            return f"normal({self.scale} {(self.parameters or [''])[0]}, se={self.se:g})"
        if self.distribution == "dirichlet":
            return f"dirichlet({self.group}, count={self.count:g})"
        return f"{self.distribution}(se={self.se:g})"


def check_psa(entry: ParameterEntry) -> None:
    """Raise ValueError naming what is wrong with ``entry.psa``."""
    spec = entry.psa
    if spec is None:
        return
    if not (spec.source or spec.assumption):
        raise ValueError("psa: a 'source' or an 'assumption' for the uncertainty distribution")
    low, high = UNIT_BOUNDS[entry.unit]
    if entry.value is not None:
        if spec.distribution not in PSA_FAMILIES_FOR_VALUES:
            raise ValueError(
                f"psa.distribution one of {', '.join(PSA_FAMILIES_FOR_VALUES)} for a value (normal and mvnormal are for fitted survival distributions)"
            )
        if spec.distribution == "dirichlet":
            if spec.group is None or spec.count is None or spec.se is not None or spec.parameters or spec.covariance:
                raise ValueError("psa: 'group' and 'count' only (no 'se', 'parameters' or 'covariance') for a dirichlet distribution")
            if entry.unit not in ("proportion", "probability"):
                raise ValueError(f"psa.distribution dirichlet only for shares (proportion, probability), not {entry.unit}")
            return
        if spec.se is None or spec.parameters is not None or spec.covariance is not None or spec.group or spec.count:
            raise ValueError("psa: 'se' only (no 'parameters', 'covariance', 'group' or 'count') for a value")
        # A value on the boundary (0 for gamma and lognormal, 0 or 1 for beta, e.g. a scenario's
        # override) is a degenerate distribution: every draw keeps the value.
        mean = entry.value
        if spec.distribution == "beta":
            if high is None or high > 1:
                raise ValueError(f"psa.distribution beta only for units bounded above by 1, not {entry.unit}")
            if not 0 <= mean <= 1:
                raise ValueError("psa: a value between 0 and 1 for a beta distribution")
            if 0 < mean < 1 and spec.se**2 >= mean * (1 - mean):
                raise ValueError(
                    f"psa.se ({spec.se:g}) below sqrt(value x (1 - value)) = {math.sqrt(mean * (1 - mean)):.4g} for a beta distribution"
                )
        elif high is not None or (low is not None and low < 0):
            raise ValueError(f"psa.distribution {spec.distribution} only for non-negative unbounded units, not {entry.unit}")
        return
    if spec.distribution not in PSA_FAMILIES_FOR_DISTRIBUTIONS:
        raise ValueError("psa.distribution normal or mvnormal (on the scale of the fitted parameters) for a distribution entry")
    names = spec.parameters or []
    params = entry.params or {}
    for name in names:
        if name not in params or not isinstance(params[name], (int, float)) or isinstance(params[name], bool):
            raise ValueError(
                f"psa.parameters: names of numeric params of this {entry.distribution} distribution ({', '.join(sorted(params))})"
            )
        if spec.scale == "log" and params[name] <= 0:
            raise ValueError(f"psa.scale natural (params.{name} is not > 0, so it has no log)")
    if len(set(names)) != len(names):
        raise ValueError("psa.parameters: each parameter once")
    if spec.group is not None or spec.count is not None:
        raise ValueError("psa: no 'group' or 'count' (those are for dirichlet shares) on a distribution entry")
    if spec.distribution == "normal":
        if len(names) != 1 or spec.se is None or spec.covariance is not None:
            raise ValueError("psa: one name in 'parameters' and an 'se' for a normal distribution")
        return
    if len(names) < 2 or spec.se is not None or spec.covariance is None:
        raise ValueError("psa: two or more 'parameters' and a 'covariance' (no 'se') for a mvnormal distribution")
    matrix = np.asarray(spec.covariance, dtype=float)
    k = len(names)
    if matrix.shape != (k, k):
        raise ValueError(f"psa.covariance a {k} x {k} matrix (one row and column per parameter)")
    if not np.allclose(matrix, matrix.T, rtol=0, atol=1e-12 * max(1.0, float(np.abs(matrix).max()))):
        raise ValueError("psa.covariance a symmetric matrix")
    if float(np.linalg.eigvalsh(matrix).min()) < -1e-12 * max(1.0, float(np.abs(matrix).max())):
        raise ValueError("psa.covariance a positive semi-definite matrix")


def _states_a_source(text: str | None) -> bool:
    """A range's provenance: a source, or "assumption: ..." with its reason (not the bare word)."""
    return text is not None and text.strip().rstrip(":").lower() not in ("", "assumption", "assumed")


class ParameterEntry(BaseModel):
    """A number the model uses, with where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Annotated[float, Field(allow_inf_nan=False)] | None = None
    distribution: str | None = None
    params: dict[str, Any] | None = None
    unit: str
    source: str | None = None
    assumption: str | None = None
    description: str = ""
    # Uncertainty for probabilistic sensitivity analysis (nelm-sim psa), see PSASpec.
    psa: PSASpec | None = None
    # Why a parameter is not drawn in the PSA (a setting of the scenario, a definition, a structural
    # choice...): every parameter has a ``psa`` or a reason (simulator/economics/sampling.py psa_status).
    psa_fixed: str | None = None
    # Bounds for one-way deterministic sensitivity analysis (nelm-sim dsa), with their provenance.
    low: Annotated[float, Field(allow_inf_nan=False)] | None = None
    high: Annotated[float, Field(allow_inf_nan=False)] | None = None
    range_source: str | None = None
    # The plausible range within which the burden model's fit (scripts/burden_fit.py) moves a calibrated
    # entry, with its provenance: an entry that has one is a calibrated parameter of that fit.
    calibration_range: tuple[Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]] | None = None
    calibration_range_source: str | None = None
    # Costs: the price year of ``value`` (the financial year that starts in it, 2017 = 2017/18 prices),
    # from which the valuation inflates it (simulator/economics/prices.py). Required on every cost.
    price_year: Annotated[int, Field(ge=1990, le=2100, strict=True)] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParameterEntry:
        if (self.value is None) == (self.distribution is None):
            raise ValueError("exactly one of 'value' or 'distribution'")
        if self.distribution is not None and self.params is None:
            raise ValueError("'params' for the distribution")
        if not (self.source or self.assumption):
            raise ValueError("a 'source' (authors, journal, year, table/figure) or an 'assumption' with a reason")
        if self.unit not in UNIT_BOUNDS:
            raise ValueError(f"'unit' one of {sorted(UNIT_BOUNDS)}")
        if self.value is not None:
            check_value(self.unit, self.value)
        else:
            try:
                build_distribution(self.distribution, self.params)  # type: ignore[arg-type]
            except DistributionError as exc:
                raise ValueError(str(exc)) from None
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise ValueError(f"valid {self.distribution} parameters ({exc})") from None
        check_psa(self)
        if self.psa is not None and self.psa_fixed:
            raise ValueError("'psa' or 'psa_fixed' (a reason for not drawing it), not both")
        if self.unit.startswith(COST_UNIT_PREFIX) and self.price_year is None:
            raise ValueError("a 'price_year' (the year of the source's prices) on a cost")
        if self.price_year is not None and not self.unit.startswith(COST_UNIT_PREFIX):
            raise ValueError("'price_year' only on a cost (a unit starting with gbp)")
        if (self.low is None) != (self.high is None):
            raise ValueError("both 'low' and 'high' (sensitivity-analysis bounds), or neither")
        if self.low is not None:
            if self.value is None:
                raise ValueError("'low'/'high' only on a value entry (not on a distribution)")
            if not _states_a_source(self.range_source):
                raise ValueError("a 'range_source' (source or 'assumption: ...' with a reason) for 'low' and 'high'")
            for bound in (self.low, self.high):
                check_value(self.unit, bound)  # type: ignore[arg-type]
            if self.low > self.high:  # type: ignore[operator]
                raise ValueError("'low' <= 'high'")
        if (self.calibration_range is None) != (self.calibration_range_source is None):
            raise ValueError("both 'calibration_range' and 'calibration_range_source', or neither")
        if self.calibration_range is not None:
            if self.value is None:
                raise ValueError("'calibration_range' only on a value entry (not on a distribution)")
            if not _states_a_source(self.calibration_range_source):
                raise ValueError("a 'calibration_range_source' (source or 'assumption: ...' with a reason)")
            lower, upper = self.calibration_range
            for bound in (lower, upper):
                check_value(self.unit, bound)
            if not lower < upper:
                raise ValueError("'calibration_range' [lower, upper] with lower < upper")
        return self

    @property
    def provenance(self) -> str:
        return self.source if self.source else f"assumption: {self.assumption}"

    def build(self) -> float | TimeToEvent:
        if self.value is not None:
            return float(self.value)
        return build_distribution(self.distribution, self.params)  # type: ignore[arg-type]


def check_value(unit: str, value: float) -> None:
    """Raise ValueError naming the allowed range when ``value`` is outside what ``unit`` allows."""
    low, high = UNIT_BOUNDS[unit]
    if not math.isfinite(value):
        raise ValueError("a finite number")
    if unit in STRICTLY_POSITIVE_UNITS and value <= 0:
        raise ValueError(f"a {unit.replace('_', ' ')} > 0")
    # Ratios multiply into hazards and are raised to the power of a count: these ranges keep every
    # product and power a finite, non-zero float (README "Errors and limits").
    if unit in STRICTLY_POSITIVE_UNITS and not RATIO_RANGE[0] <= value <= RATIO_RANGE[1]:
        raise ValueError(f"a {unit.replace('_', ' ')} from {RATIO_RANGE[0]:g} to {RATIO_RANGE[1]:g}")
    if unit == "switch" and value not in (0.0, 1.0):
        raise ValueError("0 or 1 (switch)")
    if unit == "count" and (value != math.floor(value) or value > MAX_COUNT):
        raise ValueError(f"a whole number from 0 to {MAX_COUNT} (count)")
    if low is not None and value < low:
        raise ValueError(f"a value >= {low:g} ({unit})")
    if high is not None and value > high:
        raise ValueError(f"a value <= {high:g} ({unit})")
