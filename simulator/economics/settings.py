"""The economic settings of a run: discount rates, willingness to pay, comparator, population."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import EconomicsConfig, Scenario
from ..params.parameter_set import ParameterSet


@dataclass(frozen=True)
class EconomicSettings:
    discount_rate_costs: float
    discount_rate_effects: float
    willingness_to_pay: tuple[float, ...]
    comparator: str | None
    currency: str
    perspective: str
    price_year: int | None
    population: float | None
    wtp_grid_max: float
    wtp_grid_points: int

    @classmethod
    def from_config(cls, config: EconomicsConfig) -> EconomicSettings:
        return cls(
            discount_rate_costs=config.discount_rate_costs,
            discount_rate_effects=config.discount_rate_effects,
            willingness_to_pay=tuple(config.willingness_to_pay),
            comparator=config.comparator,
            currency=config.currency,
            perspective=config.perspective,
            price_year=config.price_year,
            population=config.population,
            wtp_grid_max=config.ceac_wtp_max,
            wtp_grid_points=config.ceac_wtp_points,
        )

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> EconomicSettings:
        return cls.from_config(scenario.economics)

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
