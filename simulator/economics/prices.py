"""Costs in one currency and one price year: the NHS Cost Inflation Index, and the costs a scenario uses.

Every cost of the parameter library states the price year of its source (``price_year``, the
financial year that starts in it: 2017 = 2017/18). The valuation inflates it to the scenario's
``economics.price_year`` by the ratio of the NHS Cost Inflation Index levels of the two years
(``params/data/nhs_cost_inflation_index.csv``, PSSRU Unit Costs of Health and Social Care 2025
Manual). A value the scenario itself gives (under ``parameters`` or in its own cost table,
``economics.costs``) is taken to be in the scenario's currency and price year already.

A scenario in a currency other than the library's must give every cost it uses in its own table:
costs are never mixed across currencies, and a missing one is refused before any simulation.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..params.parameter_set import ParameterSet

LIBRARY_CURRENCY = "GBP"  # the currency of every cost in params/library/economics.yaml
LIBRARY_COST_FILE = "economics.yaml"
INDEX_FILE = "nhs_cost_inflation_index.csv"


@lru_cache(maxsize=1)
def index_levels() -> dict[int, float]:
    """NHSCII pay-and-prices level per price year, 1 in the first year of the series."""
    path = Path(str(resources.files("simulator.params").joinpath("data", INDEX_FILE)))
    levels: dict[int, float] = {}
    level = 1.0
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        _, year, percent = line.split(",")
        if percent:
            level *= 1.0 + float(percent) / 100.0
        levels[int(year)] = level
    return levels


def latest_price_year() -> int:
    """The default price year: the latest year of the shipped index."""
    return max(index_levels())


def inflation_factor(source_year: int, target_year: int) -> float:
    """What one unit of ``source_year`` prices costs in ``target_year`` prices."""
    levels = index_levels()
    for year in (source_year, target_year):
        if year not in levels:
            raise ValueError(f"price year {year} outside the NHS cost inflation index ({min(levels)}-{max(levels)})")
    return levels[target_year] / levels[source_year]


def is_cost(params: ParameterSet, name: str) -> bool:
    return name.startswith("cost.") and params.entries[name].price_year is not None


def from_library(params: ParameterSet, name: str) -> bool:
    """True when ``name``'s value is the library's (or a PSA/DSA draw around it), not a scenario's own."""
    return params.origins[name] == LIBRARY_COST_FILE


def cost_value(params: ParameterSet, name: str, price_year: int, own_costs: dict[str, float] | None = None) -> float:
    """The cost ``name`` in the scenario's currency and ``price_year``: the scenario's own table first,
    then a value set in the scenario (already in its price year), else the library's, inflated."""
    if own_costs and name in own_costs:
        return float(own_costs[name])
    value = params.value(name)
    if not from_library(params, name):
        return value
    return value * inflation_factor(params.entries[name].price_year, price_year)  # type: ignore[arg-type]


def costs_used(params: ParameterSet, strategies) -> list[str]:
    """The cost parameters a run of ``strategies`` can use: those of every treatment its rules name
    (and of best supportive care, the fallback), follow-up, symptoms, end of life and every adverse event."""
    from ..pathways import FALLBACK_TREATMENT, MODALITIES

    modalities = {MODALITIES[FALLBACK_TREATMENT]} | {step[-1] for strategy in strategies for step in strategy.plan}
    names = {
        "cost.follow_up_progression_free_per_month",
        "cost.follow_up_progressed_per_month",
        "cost.uncontrolled_symptoms_per_month",
        "cost.end_of_life",
    }
    names |= {n for n in params.names() if n.startswith("cost.ae_")}
    if any(strategy.telotristat for strategy in strategies):
        names.add("cost.telotristat_per_28_days")
    for modality in modalities:
        items = modality.costs
        names |= {n for n in (items.per_cycle, items.per_session, items.per_administration) if n is not None}
        if items.bottom_up:
            names |= {"cost.theatre_per_minute", "cost.inpatient_bed_day"}
        if modality.is_ssa:
            names.add("cost.ssa_administration_per_injection")
    return sorted(names)


def check_scenario_costs(params: ParameterSet, strategies, settings, path) -> None:
    """Refuse, in one line naming the field, a cost table with an unknown name, a price year the index
    does not cover, or (in another currency than the library's) a cost the scenario uses left out."""
    from ..errors import ScenarioError

    own = settings.cost_table
    for name in own:
        if name not in params or not is_cost(params, name):
            raise ScenarioError(path, f"economics.costs.{name}", "the name of a cost listed by `nelm-sim params` (cost.*)")
    levels = index_levels()
    if settings.currency == LIBRARY_CURRENCY and settings.price_year not in levels:
        raise ScenarioError(
            path, "economics.price_year", f"a year of the NHS cost inflation index ({min(levels)}-{max(levels)})", settings.price_year
        )
    if settings.currency != LIBRARY_CURRENCY:
        missing = [name for name in costs_used(params, strategies) if name not in own]
        if missing:
            raise ScenarioError(
                path,
                f"economics.costs.{missing[0]}",
                f"a cost in {settings.currency} at {settings.price_year} prices: a scenario in a currency other than"
                f" {LIBRARY_CURRENCY} gives every cost it uses ({len(missing)} missing: {', '.join(missing)})",
            )


def financial_year(year: int) -> str:
    """2017 -> '2017/18'."""
    return f"{year}/{(year + 1) % 100:02d}"


def price_year_label(params: ParameterSet, name: str, settings=None) -> str:
    """How ``nelm-sim params`` shows a cost's prices: 'source year -> price year of the run' for a
    library cost, the run's price year (and currency) for one the scenario gives; '' for anything else."""
    if not is_cost(params, name):
        return ""
    target = settings.price_year if settings is not None else latest_price_year()
    currency = settings.currency if settings is not None else LIBRARY_CURRENCY
    own = settings.cost_table if settings is not None else {}
    if name in own or not from_library(params, name):
        return f"{financial_year(target)} {currency} (scenario)"
    if currency != LIBRARY_CURRENCY:
        return f"{financial_year(params.entries[name].price_year)} {LIBRARY_CURRENCY} (not used: {currency} run)"  # type: ignore[arg-type]
    return f"{financial_year(params.entries[name].price_year)} -> {financial_year(target)}"  # type: ignore[arg-type]
