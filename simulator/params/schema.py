"""One parameter-file entry: a value or a distribution, a unit, and a source or a stated assumption."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .distributions import DistributionError, TimeToEvent, build_distribution

# unit -> (lowest allowed, highest allowed); None means unbounded on that side.
UNIT_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "probability": (0.0, 1.0),
    "proportion": (0.0, 1.0),
    "hazard_ratio": (0.0, None),
    "odds_ratio": (0.0, None),
    "months": (0.0, None),
    "days": (0.0, None),
    "years": (0.0, None),
    "minutes": (0.0, None),
    "weeks": (0.0, None),
    "count": (0.0, None),
    "per_month": (0.0, None),
    "per_100000_per_year": (0.0, None),
}
STRICTLY_POSITIVE_UNITS = frozenset({"hazard_ratio", "odds_ratio"})


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

    @model_validator(mode="after")
    def _check(self) -> "ParameterEntry":
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
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"valid {self.distribution} parameters ({exc})") from None
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
    if low is not None and value < low:
        raise ValueError(f"a value >= {low:g} ({unit})")
    if high is not None and value > high:
        raise ValueError(f"a value <= {high:g} ({unit})")
