"""Capacity runs inside the ordinary runner: the open-population cohort, the statistics window, the
hospital's tables and the capacity metrics of `compare` (README "Capacity planning")."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import MAX_PATIENTS, MAX_SIMULATED_LIFETIMES, Scenario
from ..errors import ScenarioError
from ..params.parameter_set import ParameterSet
from .arrivals import arrival_times, expected_arrivals
from .schedule import MONTHS_PER_YEAR

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# pandas is imported where a table is built, not above: `validate` of a capacity scenario imports this
# module for its arrival checks and should start as fast as of any other scenario (tests/test_startup.py).

# Arrivals are Poisson: the count can exceed its mean; the limits are checked at the mean plus this many
# standard deviations, so a run that passes the check cannot exceed them by chance in practice.
ARRIVAL_LIMIT_SDS = 6.0
# Every statistic of a capacity run is taken over the patients who arrive in the statistics window; with
# fewer than this many expected there, a replication may have none (Poisson: P(0) = exp(-10) < 1e-4).
MIN_WINDOW_ARRIVALS = 10.0


def arrival_months(scenario: Scenario) -> float:
    arrivals = scenario.capacity.arrivals  # type: ignore[union-attr]
    return (arrivals.warmup_years + arrivals.years) * MONTHS_PER_YEAR


def check_arrivals(scenario: Scenario, params: ParameterSet, path: Path) -> None:
    """Refuse, before running, an arrival rate whose cohort would pass the patient or lifetime limits."""
    if scenario.capacity is None or scenario.capacity.arrivals is None:
        return
    mean = expected_arrivals(params, scenario.capacity.arrivals.catchment_population, arrival_months(scenario))
    high = mean + ARRIVAL_LIMIT_SDS * math.sqrt(mean)
    field_path = "capacity.arrivals.catchment_population"
    if high > MAX_PATIENTS:
        raise ScenarioError(
            path,
            field_path,
            f"a catchment whose arrivals stay below {MAX_PATIENTS} patients (expected {mean:,.0f} over warmup_years + years)",
        )
    warmup = scenario.capacity.arrivals.warmup_years * MONTHS_PER_YEAR
    in_window = mean - expected_arrivals(params, scenario.capacity.arrivals.catchment_population, warmup)
    if in_window < MIN_WINDOW_ARRIVALS:
        raise ScenarioError(
            path,
            field_path,
            f"a catchment and years that bring at least {MIN_WINDOW_ARRIVALS:g} expected patients into the statistics window "
            f"(after warmup_years; expected {in_window:.2f})",
        )
    for replication in range(scenario.replications):
        times, (start, end), _ = open_cohort(scenario, params, replication, 0)
        if not ((times >= start) & (times < end)).any():  # type: ignore[operator]
            raise ScenarioError(
                path, field_path, f"arrivals in the statistics window in every replication (replication {replication} has none)"
            )
    lifetimes = high * scenario.replications * len(scenario.strategies)
    if lifetimes > MAX_SIMULATED_LIFETIMES:
        raise ScenarioError(
            path,
            field_path,
            f"at most {MAX_SIMULATED_LIFETIMES} simulated lifetimes in all (expected arrivals {mean:,.0f} x replications x strategies)",
        )


def open_cohort(
    scenario: Scenario, params: ParameterSet, replication: int, draw: int
) -> tuple[np.ndarray | None, tuple[float, float], int]:
    """(arrival months or None, statistics window, cohort size) of one replication."""
    capacity = scenario.capacity
    if capacity is None or capacity.arrivals is None:
        return None, (0.0, scenario.horizon_months), scenario.cohort.size
    arrivals = capacity.arrivals
    times = arrival_times(params, arrivals.catchment_population, arrival_months(scenario), scenario.seed, replication, draw)
    window = (arrivals.warmup_years * MONTHS_PER_YEAR, arrival_months(scenario))
    return times, window, len(times)


@dataclass
class CapacityTables:
    """What the hospital recorded, replications and strategies stacked."""

    resources: list[pd.DataFrame] = field(default_factory=list)
    waits: list[pd.DataFrame] = field(default_factory=list)
    queues: list[pd.DataFrame] = field(default_factory=list)
    metrics: list[pd.DataFrame] = field(default_factory=list)
    years: list[pd.DataFrame] = field(default_factory=list)  # the resources table of each year of the window (the page)

    def frame(self, name: str) -> pd.DataFrame:
        import pandas as pd

        parts = getattr(self, name)
        if not parts:
            return pd.DataFrame()
        # A replication that recorded nothing (a horizon too short for any use) adds an empty table: left
        # out, as pandas will stop leaving it out of the columns' types; with nothing recorded, one keeps the columns.
        return pd.concat([part for part in parts if len(part)] or parts[:1], ignore_index=True)

    def extend(self, other: CapacityTables) -> None:
        for name in ("resources", "waits", "queues", "metrics", "years"):
            getattr(self, name).extend(getattr(other, name))


def finish(
    model, events: pd.DataFrame, table: pd.DataFrame, replication: int, out: CapacityTables | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the waiting columns to the patient table, leave out warm-up arrivals, and record the hospital's tables."""
    hospital = model.hospital
    strategy = model.strategy.name
    start, _ = hospital.window
    waits = hospital.wait_table()
    arrival = np.array([c.arrival for c in model.courses], dtype=float)
    by_patient = waits.groupby("patient_id")
    ids = table["patient_id"].to_numpy()
    table["arrival_month"] = arrival
    table["waits"] = by_patient.size().reindex(ids, fill_value=0).to_numpy()
    table["wait_days_total"] = by_patient["wait_days"].sum().reindex(ids, fill_value=0.0).to_numpy()
    table["progressed_while_waiting"] = (by_patient["progressions_while_waiting"].sum().reindex(ids, fill_value=0).to_numpy() > 0).astype(
        int
    )
    changed = waits[waits["outcome"] == "ineligible"]["patient_id"].unique()
    table["treatment_changed_by_waiting"] = np.isin(ids, changed).astype(int)
    died = waits[waits["outcome"].str.startswith("died")]["patient_id"].unique()
    table["died_while_waiting"] = np.isin(ids, died).astype(int)
    # A patient who dies (or reaches the horizon) while waiting for a first treatment never starts a line:
    # first-line PFS then runs from entry to that death or censoring, as PFS from entry would.
    untreated = (table["lines"] == 0).to_numpy()
    if untreated.any():
        table.loc[untreated, "pfs1_months"] = table.loc[untreated, "os_months"]
        table.loc[untreated, "pfs1_event"] = table.loc[untreated, "death"].astype(float)
    kept_ids = ids[arrival >= start]
    if len(kept_ids) < len(ids):
        table = table[table["patient_id"].isin(kept_ids)].reset_index(drop=True)
        events = events[events["patient_id"].isin(kept_ids)].reset_index(drop=True)
    if out is not None:
        waits = waits.assign(arrival_month=arrival[waits["patient_id"].to_numpy()]) if len(waits) else waits.assign(arrival_month=[])
        in_window = waits[(waits["requested_month"] >= start) & (waits["requested_month"] <= hospital.window[1])]
        resources = hospital.resource_table(in_window)
        tag = {"replication": replication, "strategy": strategy}
        out.resources.append(resources.assign(**tag)[["replication", "strategy", *resources.columns]])
        out.waits.append(waits.assign(**tag)[["replication", "strategy", *waits.columns]])
        queues = hospital.queue_table()
        out.queues.append(queues.assign(**tag)[["replication", "strategy", *queues.columns]])
        out.metrics.append(capacity_metrics(resources, table, replication, strategy))
        out.years.append(yearly_resources(hospital, waits, tag))
    hospital.model = None  # break the model <-> hospital cycle: the run is over
    model.close()
    return events, table


def yearly_resources(hospital, waits: pd.DataFrame, tag: dict) -> pd.DataFrame:
    """The resources table (utilisation, waits, queues, procedures) of each year of the statistics window,
    counted from its start (a last part-year is its own row): how the load changes while the population
    and its queues grow."""
    import pandas as pd

    start, end = hospital.window
    parts = []
    for year, first in enumerate(np.arange(start, end, MONTHS_PER_YEAR), start=1):
        last = min(first + MONTHS_PER_YEAR, end)
        requested = waits[(waits["requested_month"] >= first) & (waits["requested_month"] < last)] if len(waits) else waits
        table = hospital.resource_table(requested, (float(first), float(last)))
        parts.append(table.assign(year=year, from_month=float(first), to_month=float(last), **tag))
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, ignore_index=True)
    return frame[
        [
            "replication",
            "strategy",
            "year",
            "from_month",
            "to_month",
            *[c for c in frame.columns if c not in (*tag, "year", "from_month", "to_month")],
        ]
    ]


def capacity_metrics(resources: pd.DataFrame, table: pd.DataFrame, replication: int, strategy: str) -> pd.DataFrame:
    """Per-replication metrics of `compare` (comparison.csv): waiting and its consequences, per resource
    the mean and 90th-percentile wait and the utilisation."""
    import pandas as pd

    values: dict[str, float] = {}
    n = len(table)
    for column in ("progressed_while_waiting", "treatment_changed_by_waiting", "died_while_waiting"):
        values[f"{column}_share"] = float(table[column].mean()) if n else math.nan
    for row in resources.itertuples():
        values[f"wait_mean_days_{row.resource}"] = row.wait_mean_days
        values[f"wait_p90_days_{row.resource}"] = row.wait_p90_days
        values[f"utilisation_{row.resource}"] = row.utilisation
    return pd.DataFrame([{"replication": replication, "strategy": strategy, "metric": k, "value": v} for k, v in values.items()])


# A queue counts as still growing when, over the second half of the statistics window, the monthly mean
# queue has a clearly positive trend (the 95% confidence interval of the least-squares slope above 0)
# that adds at least this share of the half's mean queue, and at least one patient: arrivals outpace
# service, so waits keep lengthening and depend on how long the window is.
GROWTH_SHARE = 0.5
GROWTH_MIN_PATIENTS = 1.0


def growing_queues(queues: pd.DataFrame) -> list[str]:
    """One sentence per (strategy, resource) whose queue is still growing at the end of the window."""
    from scipy import stats

    found = []
    window = queues[queues["in_window"]]
    for (strategy, resource), part in window.groupby(["strategy", "resource"], sort=True):
        by_month = part.groupby("month")["queue"].mean().sort_index()
        half = by_month.iloc[len(by_month) // 2 :]
        if len(half) < 4 or half.nunique() < 2:
            continue
        fit = stats.linregress(half.index.to_numpy(dtype=float), half.to_numpy(dtype=float))
        lower = fit.slope - stats.t.ppf(0.975, len(half) - 2) * fit.stderr
        added = fit.slope * (half.index[-1] - half.index[0])
        if lower > 0 and added >= max(GROWTH_MIN_PATIENTS, GROWTH_SHARE * float(half.mean())):
            found.append(
                f"capacity: the {resource} queue of {strategy} is still growing at the end of the statistics window "
                f"(about {fit.slope * MONTHS_PER_YEAR:.1f} more patients waiting each year over its second half, mean "
                f"{float(half.mean()):.1f}): the system is not stable, so its waits depend on the window's length; "
                "add capacity or sessions"
            )
    return found
