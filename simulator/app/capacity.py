"""The planner's view of a run with hospital resources (README "Capacity planning"): the resources table,
utilisation, waits and queues year by year, the patients whose course changed because of waiting, the
queue and wait figures of report.html, and a warning for a queue still growing at the end of the window.
Also the theatre-capacity control of a scenario that configures a theatre.

The tables and figures are those of `nelm-sim compare` (reporting/capacity_report.py); nothing here
computes a statistic of its own beyond means over replications of the per-replication tables.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..capacity.run import growing_queues
from ..config import Scenario
from ..reporting import numbers
from ..reporting.capacity_report import PATIENT_FLAGS, SUMMARY_HEADINGS, SUMMARY_KINDS, capacity_figures, resource_table, used_resources

CAPACITY_FIELD = "capacity"  # the scenario's capacity section (README "Capacity planning")
THEATRE_CAPACITY_FIELD = (CAPACITY_FIELD, "resources", "theatre", "capacity")
THEATRE_CAPACITY_RANGE = (1.0, 50.0, 1.0)  # UI choice: minimum, maximum, step (theatres in parallel; the schema needs >= 1)
THEATRE_CAPACITY_LABEL = "Theatre capacity"
THEATRE_CAPACITY_UNIT = "operating theatres available in parallel"
# The year-by-year table: the columns of the resources table that change over the years, averaged over
# replications (the planner's summary shows the whole window).
YEAR_COLUMNS = ("utilisation", "overrun_hours_per_year", "mean_queue", "wait_mean_days", "wait_p90_days", "procedures_per_year")
YEAR_HEADINGS = {"year": "year of the window", "from_month": "from month", "to_month": "to month"}


@dataclass
class CapacityView:
    summary: pd.DataFrame  # the planner's resources table, formatted as in report.html
    years: pd.DataFrame  # per strategy, resource and year of the statistics window, formatted
    waiting: pd.DataFrame  # per strategy: patients whose course changed because of waiting, formatted
    figures: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, PNG): queues over time, waits
    warnings: list[str] = field(default_factory=list)  # queues still growing at the end of the window
    unused: list[str] = field(default_factory=list)  # resources no strategy used (left out of the figures)


def theatre_capacity_default(scenario: Scenario) -> float | None:
    """The scenario's theatre capacity, or None when the scenario does not model it."""
    node: Any = scenario
    for part in THEATRE_CAPACITY_FIELD:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return None
    return float(node)


def apply_theatre_capacity(data: dict, value: float) -> None:
    """Write the control's value into the scenario mapping (validated with the rest of it)."""
    node = data
    for part in THEATRE_CAPACITY_FIELD[:-1]:
        node = node.setdefault(part, {})
    node[THEATRE_CAPACITY_FIELD[-1]] = int(round(value))  # a whole number of theatres (the slider gives floats)


def yearly_table(years: pd.DataFrame, used: list[str]) -> pd.DataFrame:
    """Means over replications per strategy, resource and year of the window, used resources only."""
    part = years[years["resource"].isin(used)]
    keys = ["strategy", "resource", "year", "from_month", "to_month"]
    means = part.groupby(keys, sort=False)[list(YEAR_COLUMNS)].mean().reset_index()
    kinds = {**{c: SUMMARY_KINDS[c] for c in YEAR_COLUMNS}, "year": "count", "from_month": "months", "to_month": "months"}
    return numbers.format_columns(means, kinds, {**SUMMARY_HEADINGS, **YEAR_HEADINGS})


def waiting_table(patients: pd.DataFrame, strategies: list[str]) -> pd.DataFrame:
    """Per strategy, the patients whose course changed because of waiting (as report.html counts them)."""
    rows = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy]
        row: dict[str, object] = {"strategy": strategy, "patients": numbers.count(len(group))}
        for flag in PATIENT_FLAGS:
            if flag in group:
                share = float(group[flag].mean()) if len(group) else float("nan")
                row[flag.replace("_", " ")] = f"{numbers.count(int(group[flag].sum()))} ({numbers.percent(share)})"
        rows.append(row)
    return pd.DataFrame(rows)


def capacity_view(comparison: Any) -> CapacityView | None:
    """The planner's view of a comparison with resources, else None. Draws figures: the caller holds the
    figure lock (pyplot's global state)."""
    tables = getattr(comparison, "capacity", None)
    if tables is None:
        return None
    resources = tables.frame("resources")
    if resources.empty:
        return None
    strategies = list(comparison.strategies)
    used = used_resources(resources)
    figures = []
    with tempfile.TemporaryDirectory(prefix="nelm-sim-capacity-") as temporary:
        for path, caption in capacity_figures(tables, strategies, Path(temporary)):
            figures.append((caption, Path(path).read_bytes()))
    years = tables.frame("years")
    return CapacityView(
        summary=resource_table(resources),
        years=yearly_table(years, used) if not years.empty else pd.DataFrame(),
        waiting=waiting_table(comparison.patients, strategies),
        figures=figures,
        warnings=growing_queues(tables.frame("queues")),
        unused=sorted(set(resources["resource"]) - set(used)),
    )
