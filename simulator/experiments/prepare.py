"""A scenario validated into what a run needs (``prepare``), and the check of the first PSA draw that
comes before any simulation (``check_first_draw``). Apart from the runner so that `nelm-sim validate`
and `nelm-sim params` load no pandas, lifelines or event-loop code (issue 20 item 4)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import MAX_SIMULATED_LIFETIMES, Scenario
from ..engine.cohort import mix_probabilities
from ..errors import ScenarioError, UserInputError
from ..params.parameter_set import ParameterSet, build_parameter_set
from ..pathways.strategies import Strategy, resolve_strategies

FIRST_DRAW = 1  # draw 0 of a PSA is the base case


@dataclass(frozen=True)
class PreparedScenario:
    """Everything a run needs, validated: nothing below this point reads user files."""

    scenario: Scenario
    path: Path
    params: ParameterSet
    strategies: list[Strategy]


def prepare(scenario: Scenario, path: Path | str, summary: bool = False) -> PreparedScenario:
    """Validate everything a run needs. A run that keeps its event log (all but ``summary`` mode)
    must also fit in memory: at most MAX_SIMULATED_LIFETIMES lifetimes."""
    path = Path(path)
    limit = None if summary else scenario.total_work_error(MAX_SIMULATED_LIFETIMES)
    if limit is not None:
        raise ScenarioError(path, "cohort.size", limit, scenario.cohort.size)
    overrides = dict(scenario.parameters)
    for key, value in scenario.cohort.mix.items():
        name = f"cohort.{key}"
        if name in overrides:
            raise ScenarioError(path, f"cohort.mix.{key}", "a parameter not also set under parameters")
        overrides[name] = value
    try:
        params = build_parameter_set(overrides, path)
    except ScenarioError as exc:
        if exc.field.startswith("parameters.cohort.") and exc.field.removeprefix("parameters.cohort.") in scenario.cohort.mix:
            raise ScenarioError(path, "cohort.mix." + exc.field.removeprefix("parameters.cohort."), exc.expected, exc.got) from None
        raise
    try:
        mix_probabilities(params)
    except ValueError as exc:
        raise ScenarioError(path, "cohort.mix", f"shares that sum to at most 1 ({exc})") from None
    if scenario.capacity is not None:
        from ..capacity.run import check_arrivals

        check_arrivals(scenario, params, path)
    return PreparedScenario(scenario, path, params, resolve_strategies(scenario, path))


def check_first_draw(prepared: PreparedScenario) -> None:
    """Draw the parameters of the first PSA draw, as the run will, so that a psa: specification whose
    draws fall outside the parameter's support is refused before any simulation, naming the file."""
    from ..economics.sampling import draw_parameters

    try:
        draw_parameters(prepared.params, prepared.scenario.seed, FIRST_DRAW)
    except UserInputError as exc:
        name, _, expected = str(exc).partition(": expected ")
        raise ScenarioError(prepared.path, f"parameters.{name}", expected) from None
