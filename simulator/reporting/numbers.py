"""The one presentation layer for numbers: every human-facing table (terminal, report.html, the page)
formats its numbers here, and nowhere else (tests/test_number_format.py checks the code for ad hoc format
strings). CSV files keep full precision (``commands/output.py``); this module is for reading.

The rules, by kind of quantity:

==============  ===========================  ==============
kind            rule                         example
==============  ===========================  ==============
``percent``     a share as a percentage,     ``37.8%``
                one decimal
``money``       thousands separators,        ``17,880``
                no decimals
``months``      one decimal                  ``26.1``
``days``        one decimal                  ``162.1``
``ratio``       two decimals                 ``0.72``
``qalys``       two decimals                 ``3.41``
``years``       two decimals                 ``1.25``
``rate``        two decimals (a mean count   ``1.83``
                per patient)
``count``       a whole number, thousands    ``1,500``
                separators
``hours``       one decimal                  ``12.5``
``age``         years, one decimal           ``61.4``
``seconds``     one decimal                  ``3.2``
``value``       four significant digits      ``0.0523``
                (a parameter or a target)
==============  ===========================  ==============

A missing value (None, NaN) is ``n/a``; an infinite one ``inf`` or ``-inf``. Pure Python: the command line
imports it without pandas or numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MISSING = "n/a"
REFERENCE = "reference"  # the comparator's own row of a comparison against it (hazard ratio, life-years gained)


def _real(value: Any) -> float | None:
    """The value as a float, or None when it is missing (None, NaN, pandas' NA)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _fixed(digits: int, separators: bool = False) -> Callable[[Any], str]:
    spec = f"{',' if separators else ''}.{digits}f"

    def show(value: Any) -> str:
        number = _real(value)
        if number is None:
            return MISSING
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        text = format(number, spec)
        return text[1:] if text.startswith("-") and _real(text.replace(",", "")) == 0 else text  # no "-0.0"

    return show


_whole = _fixed(0, separators=True)


def percent(value: Any, digits: int = 1) -> str:
    """A share (0.378) as a percentage: 37.8%."""
    number = _real(value)
    return MISSING if number is None else _fixed(digits)(100.0 * number) + "%"


def count(value: Any) -> str:
    """A count as a whole number with thousands separators (1,500)."""
    return _whole(value)


THOUSAND = 1000.0


def value(number: Any, digits: int = 4) -> str:
    """A parameter value or a published target, as written: up to ``digits`` significant digits; from
    1,000 up a whole number with thousands separators, as money is shown (never 1.788e+04 beside 8,938)."""
    real = _real(number)
    if real is None:
        return MISSING
    if abs(real) >= THOUSAND:
        return format(real, ",.0f")
    return format(real, f".{digits}g")


money = _fixed(0, separators=True)
months = _fixed(1)
days = _fixed(1)
hours = _fixed(1)
age = _fixed(1)
seconds = _fixed(1)
ratio = _fixed(2)
qalys = _fixed(2)
years = _fixed(2)
rate = _fixed(2)

FORMATS: dict[str, Callable[[Any], str]] = {
    "percent": percent,
    "money": money,
    "months": months,
    "days": days,
    "hours": hours,
    "age": age,
    "seconds": seconds,
    "ratio": ratio,
    "qalys": qalys,
    "years": years,
    "rate": rate,
    "count": count,
    "value": value,
}
# The unit of a declared metric (outcomes/metrics.py) -> the kind it is shown as. A metric of unit
# "count" is a mean count per patient (lines, procedures, adverse events), so it is a rate.
METRIC_UNIT_KINDS = {"share": "percent", "months": "months", "days": "days", "ratio": "ratio", "years": "years", "count": "rate"}


def kind_of_unit(unit: str) -> str:
    """The kind a metric of this unit is shown as (four significant digits for an unknown unit)."""
    return METRIC_UNIT_KINDS.get(unit, "value")


def number(value: Any, kind: str) -> str:
    try:
        show = FORMATS[kind]
    except KeyError:
        raise ValueError(f"unknown kind of number {kind!r}; expected one of {', '.join(FORMATS)}") from None
    return show(value)


def signed(value: Any, kind: str) -> str:
    """A difference, with its sign (+1.2, -0.4, +3.1 for percentage points of a share)."""
    real = _real(value)
    if real is None:
        return MISSING
    text = number(real, kind)
    if kind == "percent":
        text = text.removesuffix("%") + " pp"
    return text if text.startswith("-") or text == MISSING else "+" + text


def interval(estimate: Any, lower: Any, upper: Any, kind: str) -> str:
    """``estimate [lower, upper]``; the estimate alone when the interval is missing (one replication)."""
    text = number(estimate, kind)
    if text == MISSING or _real(lower) is None or _real(upper) is None:
        return text
    return f"{text} [{number(lower, kind)}, {number(upper, kind)}]"


def texts(values: Iterable[Any], kind: str) -> list[str]:
    return [number(v, kind) for v in values]


def format_columns(frame: Any, kinds: Mapping[str, str], names: Mapping[str, str] | None = None) -> Any:
    """A copy of a pandas DataFrame with the ``kinds`` columns as text (column -> kind), renamed by
    ``names`` (column -> heading); other columns are left as they are."""
    shown = frame.copy()
    for column, kind in kinds.items():
        if column in shown.columns:
            shown[column] = [number(v, kind) for v in frame[column]]
    return shown.rename(columns=dict(names or {}))


def table_text(frame: Any, kinds: Mapping[str, str], names: Mapping[str, str] | None = None) -> str:
    """A DataFrame as an aligned terminal table, numbers formatted by ``kinds``."""
    return str(format_columns(frame, kinds, names).to_string(index=False))
