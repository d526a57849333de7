"""`nelm-sim validate`: check a scenario file as every command would, without running it."""

from __future__ import annotations

from pathlib import Path

from ..config import load_scenario
from ..economics.settings import EconomicSettings
from ..experiments.prepare import check_first_draw, prepare
from ..reporting import numbers

# Capacity and variants are imported only for a scenario that has them: `validate` of a plain scenario
# loads no pandas, lifelines, Matplotlib or event loop (tests/test_startup.py).


def validate_file(path: Path) -> str:
    """What the valid file holds, in one line; bad input raises a one-line ScenarioError."""
    scenario = load_scenario(path)
    prepared = prepare(scenario, path)
    # What psa builds before it simulates: the economic settings and the first draw of every parameter
    # with a psa: field (its re-draw limit included). The PSA design's limits are the scenario model's.
    EconomicSettings.from_scenario(scenario)
    check_first_draw(prepared)
    extra = ""
    if scenario.variants or scenario.sweep:
        from ..experiments.variants import expand

        runs = expand(scenario, path)
        extra = f", {sum(r.kind == 'variant' for r in runs)} variants, {sum(r.kind == 'sweep' for r in runs)} sweep points"
    patients = f"{scenario.cohort.size} patients"
    if scenario.capacity is not None and scenario.capacity.arrivals is not None:
        from ..capacity.arrivals import expected_arrivals
        from ..capacity.run import arrival_months

        expected = expected_arrivals(prepared.params, scenario.capacity.arrivals.catchment_population, arrival_months(scenario))
        patients = f"about {numbers.count(expected)} arriving patients"
    return f"{path}: valid ({len(prepared.strategies)} strategies, {patients}, {scenario.replications} replications{extra})"
