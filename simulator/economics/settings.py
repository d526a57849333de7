"""The economic settings of a run: discount rates, willingness to pay, comparator, population."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import LIFETIME_HORIZON_MONTHS, EconomicsConfig, Scenario
from ..params.parameter_set import ParameterSet


@dataclass(frozen=True)
class EconomicSettings:
    discount_rate_costs: float
    discount_rate_effects: float
    willingness_to_pay: tuple[float, ...]
    comparator: str | None
    currency: str
    perspective: str
    price_year: int  # every cost in this year's prices (the scenario's, else the index's latest year)
    population: float | None
    wtp_grid_max: float
    wtp_grid_points: int
    own_costs: tuple[tuple[str, float], ...] = ()  # the scenario's cost table (economics.costs)
    age_adjusted_utilities: bool = True
    subgroups: tuple[str, ...] = ()
    horizon_months: float = LIFETIME_HORIZON_MONTHS  # of the general population's QALYs (severity)

    @property
    def cost_table(self) -> dict[str, float]:
        return dict(self.own_costs)

    @classmethod
    def from_config(cls, config: EconomicsConfig, horizon_months: float = LIFETIME_HORIZON_MONTHS) -> EconomicSettings:
        from .prices import latest_price_year

        return cls(
            discount_rate_costs=config.discount_rate_costs,
            discount_rate_effects=config.discount_rate_effects,
            willingness_to_pay=tuple(config.willingness_to_pay),
            comparator=config.comparator,
            currency=config.currency,
            perspective=config.perspective,
            price_year=config.price_year if config.price_year is not None else latest_price_year(),
            population=config.population,
            wtp_grid_max=config.ceac_wtp_max,
            wtp_grid_points=config.ceac_wtp_points,
            own_costs=tuple(sorted(config.cost_values().items())),
            age_adjusted_utilities=config.age_adjusted_utilities,
            subgroups=tuple(config.subgroups),
            horizon_months=horizon_months,
        )

    @classmethod
    def from_scenario(cls, scenario: Scenario, subgroups: list[str] | None = None) -> EconomicSettings:
        """The scenario's settings; ``subgroups`` (the command line's --by) adds to the scenario's own."""
        settings = cls.from_config(scenario.economics, scenario.horizon_months)
        if subgroups:
            from dataclasses import replace

            settings = replace(settings, subgroups=tuple(dict.fromkeys([*settings.subgroups, *subgroups])))
        return settings

    def wtp_grid(self) -> list[float]:
        """The willingness-to-pay values of the CEAC, CEAF and EVPI curves, with the scenario's own."""
        grid = np.linspace(0.0, self.wtp_grid_max, self.wtp_grid_points).tolist()
        return sorted(set(grid) | set(self.willingness_to_pay))

    def decision_population(self, params: ParameterSet) -> float:
        """Patients affected by the decision, for population EVPI.

        The scenario's ``economics.population`` if set; otherwise a constant stream of
        ``economics.annual_incident_patients`` a year over ``economics.decision_horizon_years``,
        discounted continuously at the cost discount rate: I x (1 - exp(-rho T)) / rho.
        """
        if self.population is not None:
            return float(self.population)
        incidence = params.value("economics.annual_incident_patients")
        years = params.value("economics.decision_horizon_years")
        rho = math.log1p(self.discount_rate_costs)
        if rho == 0:
            return incidence * years
        return incidence * -math.expm1(-rho * years) / rho
