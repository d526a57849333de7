"""One-way deterministic sensitivity analysis: each parameter with bounds (``low``/``high``, or the
95% interval of its PSA distribution or posterior: economics.sampling.dsa_bounds) is set to each
bound in turn, everything else at its base value, with the scenario's seed (common random numbers). Parameters that only the valuation reads (``cost.*``, ``utility.*``, ``economics.*``)
re-value the base-case event log; any other parameter re-runs the simulation.

The outcome is the incremental net monetary benefit (INMB) of a target strategy against the
comparator at one willingness to pay, shown as a tornado diagram.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..config import MAX_WILLINGNESS_TO_PAY
from ..economics.cea import default_comparator
from ..economics.sampling import Bound, dsa_bounds, load_posterior, with_bound
from ..economics.settings import EconomicSettings
from ..economics.valuation import is_valuation_only, replication_means, value_patients
from ..errors import ScenarioError, UserInputError
from .execution import SERIAL, Execution, progress_counter
from .runner import PreparedScenario, run_prepared


@dataclass
class DSAResult:
    base: pd.DataFrame  # per-patient valuation of the base case
    results: pd.DataFrame  # parameter, bound, value, strategy, costs, qalys, nmb, inmb
    tornado: pd.DataFrame  # parameter, low, high, inmb_low, inmb_high, range (target strategy)
    comparator: str
    target: str
    wtp: float
    base_inmb: float


def _means(per_patient: pd.DataFrame, strategies: list[str]) -> pd.DataFrame:
    """Mean over replications of the per-replication means (discounted costs and QALYs)."""
    means = replication_means(per_patient, strategies)
    return means.groupby("strategy", sort=False)[["costs", "qalys"]].mean().loc[strategies]


def _bound_task(task: tuple) -> pd.DataFrame:
    """Mean costs and QALYs per strategy with one parameter at one bound (a task for any worker)."""
    prepared, settings = task
    run = run_prepared(prepared)
    return _means(value_patients(run.events, run.patients, prepared.params, settings), [s.name for s in prepared.strategies])


DSA_SCOPES = ("all", "clinical", "economic")


def check_options(
    prepared: PreparedScenario, settings: EconomicSettings, wtp: float | None, target: str | None, scope: str = "all"
) -> None:
    """Refuse, before any simulation, what the analysis would refuse: fewer than two strategies, no
    parameter with bounds, a willingness to pay out of bounds, an unknown target or the comparator as target."""
    strategies = [s.name for s in prepared.strategies]
    if len(strategies) < 2:
        raise ScenarioError(prepared.path, "strategies", "at least two strategies to compare in a sensitivity analysis")
    if scope not in DSA_SCOPES:
        raise UserInputError(f"--parameters: expected one of {', '.join(DSA_SCOPES)}, got {scope}")
    if not dsa_bounds(prepared.params, load_posterior(), scope):
        raise ScenarioError(
            prepared.path, "parameters", "at least one parameter with low/high bounds or a PSA distribution (see `nelm-sim params`)"
        )
    if wtp is not None and not (np.isfinite(wtp) and 0 <= wtp <= MAX_WILLINGNESS_TO_PAY):
        raise UserInputError(f"--wtp: expected a willingness to pay from 0 to {MAX_WILLINGNESS_TO_PAY:g} per QALY, got {wtp}")
    if target is not None and target not in strategies:
        raise ScenarioError(prepared.path, "strategies", f"--strategy one of {', '.join(strategies)}", target)
    if target is not None and target == settings.comparator:
        raise ScenarioError(prepared.path, "economics.comparator", "a target strategy other than the comparator", target)


def run_dsa(
    prepared: PreparedScenario,
    settings: EconomicSettings | None = None,
    wtp: float | None = None,
    target: str | None = None,
    execution: Execution = SERIAL,
    progress=None,
    scope: str = "all",
) -> DSAResult:
    settings = settings or EconomicSettings.from_scenario(prepared.scenario)
    check_options(prepared, settings, wtp, target, scope)
    wtp = settings.willingness_to_pay[0] if wtp is None else float(wtp)
    strategies = [s.name for s in prepared.strategies]
    bounds: list[Bound] = dsa_bounds(prepared.params, load_posterior(), scope)

    base_run = run_prepared(prepared)
    base = value_patients(base_run.events, base_run.patients, prepared.params, settings)
    base_means = _means(base, strategies)
    comparator = settings.comparator or default_comparator(strategies, base_means["costs"], base_means["qalys"])
    base_nmb = base_means["qalys"] * wtp - base_means["costs"]
    if target is None:
        others = base_nmb.drop(index=comparator)
        target = str(others.idxmax())
    if target == comparator:
        raise ScenarioError(prepared.path, "economics.comparator", "a target strategy other than the comparator", target)

    def inmb(means: pd.DataFrame) -> pd.Series:
        nmb = means["qalys"] * wtp - means["costs"]
        return nmb - nmb[comparator]

    # Every bound that changes the simulation is a task for the workers; a bound that changes only
    # the valuation re-values the base run here.
    reruns = [
        (replace(prepared, params=with_bound(prepared.params, bound, value)), settings)
        for bound in bounds
        if not is_valuation_only(bound.name)
        for value in (bound.low, bound.high)
    ]
    rerun_means = iter(execution.map(_bound_task, reruns, progress_counter(progress, len(reruns), "parameter bounds")))
    rows, tornado = [], []
    for item in bounds:
        name = item.label
        found = {}
        for bound, value in (("low", item.low), ("high", item.high)):
            if is_valuation_only(item.name):
                params = with_bound(prepared.params, item, value)
                means = _means(value_patients(base_run.events, base_run.patients, params, settings), strategies)
            else:
                means = next(rerun_means)
            incremental = inmb(means)
            for strategy in strategies:
                rows.append(
                    {
                        "parameter": name,
                        "bound": bound,
                        "value": value,
                        "strategy": strategy,
                        "costs": means.at[strategy, "costs"],
                        "qalys": means.at[strategy, "qalys"],
                        "nmb": means.at[strategy, "qalys"] * wtp - means.at[strategy, "costs"],
                        "inmb": incremental[strategy],
                    }
                )
            found[bound] = (value, incremental[target])
        tornado.append(
            {
                "parameter": name,
                "low": found["low"][0],
                "high": found["high"][0],
                "base_value": item.base,
                "inmb_low": found["low"][1],
                "inmb_high": found["high"][1],
                "range": abs(found["high"][1] - found["low"][1]),
                "kind": "economic" if is_valuation_only(item.name) else "clinical",
                "bounds_from": item.source,
            }
        )
    table = pd.DataFrame(tornado)
    table = table.iloc[np.argsort(-table["range"].to_numpy(), kind="stable")].reset_index(drop=True)
    return DSAResult(base, pd.DataFrame(rows), table, comparator, target, wtp, float(inmb(base_means)[target]))
