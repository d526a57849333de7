"""The capacity search of `nelm-sim capacity`: the smallest capacity of one resource that meets a
90th-percentile wait target.

Each candidate capacity re-runs the scenario's comparison (every strategy, every replication) with the
scenario's seed, so every candidate sees the same arrivals and patients (common random numbers) and
the same command gives the same answer. The p90 wait of a strategy is the 90th percentile of its served
waits for the resource in the statistics window, replications pooled; the target must hold for every
strategy. ``smallest_capacity`` scans upward: ``evaluate(capacity)`` returns (p90 wait, anything else to
report); the scan stops at the first capacity whose p90 wait is within the target (waits do not grow
with capacity when the random numbers are common, so the first hit is the smallest), or at ``maximum``.
Every evaluated point is kept: the trade-off curve of capacity, p90 wait and 5-year overall survival.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import MAX_HORIZON_MONTHS, MAX_RESOURCE_CAPACITY, MAX_SCENARIO_RUNS, RESOURCE_NAMES, Scenario
from ..errors import ScenarioError, UserInputError
from ..pathways.base import DAYS_PER_MONTH
from .compare import run_comparison
from .runner import prepare

DEFAULT_MAX_CAPACITY = 20
# Each capacity tried is a whole strategy comparison, so their number is bounded like a scenario
# analysis's runs (config.MAX_SCENARIO_RUNS): 200 comparisons of a small cohort take minutes, not hours.
MAX_CAPACITY_STEPS = MAX_SCENARIO_RUNS
# No wait can be longer than the longest horizon a scenario may have: a larger target means "any wait".
MAX_TARGET_WAIT_DAYS = MAX_HORIZON_MONTHS * DAYS_PER_MONTH
CURVE_COLUMNS = [
    "capacity",
    "strategy",
    "p90_wait_days",
    "mean_wait_days",
    "waits",
    "left_queue",
    "utilisation",
    "overrun_hours_per_year",
    "os_5y",
    "os_5y_lower_95",
    "os_5y_upper_95",
    "progressed_while_waiting_share",
    "treatment_changed_by_waiting_share",
    "meets_target",
]


@dataclass
class SearchResult:
    answer: int | None  # None: no capacity up to ``maximum`` meets the target
    target: float
    curve: list[tuple[int, float, Any]] = field(default_factory=list)  # (capacity, p90 wait, extra)


def smallest_capacity(
    evaluate: Callable[[int], tuple[float, Any]], target: float, start: int = 1, maximum: int = 50, beyond: int = 1
) -> SearchResult:
    """Scan capacities start, start + 1, ... up to ``maximum``; also evaluate ``beyond`` more points after the
    answer so that the curve shows what one more unit buys."""
    result = SearchResult(None, target)
    extra_left = beyond
    for capacity in range(start, maximum + 1):
        wait, extra = evaluate(capacity)
        result.curve.append((capacity, wait, extra))
        if result.answer is None and not math.isnan(wait) and wait <= target:
            result.answer = capacity
        elif result.answer is not None:
            extra_left -= 1
        if result.answer is not None and extra_left <= 0:
            break
    return result


@dataclass
class CapacityAnswer:
    resource: str
    target_days: float
    search: SearchResult
    curve: pd.DataFrame  # CURVE_COLUMNS

    @property
    def answer(self) -> int | None:
        return self.search.answer


def check_options(scenario: Scenario, path: Path, resource: str, target: float, minimum: int, maximum: int) -> None:
    if resource not in RESOURCE_NAMES:
        raise UserInputError(f"--resource: expected one of {', '.join(RESOURCE_NAMES)}, got {resource!r}")
    configured = scenario.capacity.resources.configured() if scenario.capacity is not None else {}
    if resource not in configured:
        shown = ", ".join(configured) or "none"
        raise ScenarioError(
            path, f"capacity.resources.{resource}", f"a resource configured in this scenario to search its capacity (configured: {shown})"
        )
    if not (math.isfinite(target) and 0 <= target <= MAX_TARGET_WAIT_DAYS):
        raise UserInputError(f"--target-p90-wait: expected a number of days from 0 to {MAX_TARGET_WAIT_DAYS:g}, got {target}")
    if not 1 <= minimum <= maximum <= MAX_RESOURCE_CAPACITY:
        raise UserInputError(
            f"--min-capacity/--max-capacity: expected 1 <= min <= max <= {MAX_RESOURCE_CAPACITY}, got {minimum} and {maximum}"
        )
    if maximum - minimum + 1 > MAX_CAPACITY_STEPS:
        raise UserInputError(
            f"--min-capacity/--max-capacity: expected at most {MAX_CAPACITY_STEPS} capacities to try (each is a whole comparison),"
            f" got {maximum - minimum + 1} ({minimum} to {maximum})"
        )


def with_capacity(scenario: Scenario, resource: str, capacity: int) -> Scenario:
    data = scenario.model_dump()
    data["capacity"]["resources"][resource]["capacity"] = capacity
    data["variants"] = None
    data["sweep"] = None
    return Scenario.model_validate(data)


def evaluate(scenario: Scenario, path: Path, resource: str, capacity: int, target: float, progress=None) -> tuple[float, pd.DataFrame]:
    """(worst p90 wait over strategies, curve rows) of one candidate capacity."""
    comparison = run_comparison(prepare(with_capacity(scenario, resource, capacity), path), progress=progress)
    resources = comparison.capacity.frame("resources")
    summary = comparison.summary.set_index(["strategy", "metric"])
    rows = []
    for strategy in comparison.strategies:
        # The waits of the statistics window, per replication, then their mean over replications: the
        # figures `compare` and `scenarios` show for the same set-up (wait_p90_days_<resource>).
        mine_resource = resources[(resources["strategy"] == strategy) & (resources["resource"] == resource)]
        used, overrun = mine_resource["utilisation"], mine_resource["overrun_hours_per_year"]

        def metric(name: str, column: str = "estimate") -> float:
            return float(summary.loc[(strategy, name), column]) if (strategy, name) in summary.index else math.nan

        p90 = metric(f"wait_p90_days_{resource}")
        p90 = 0.0 if math.isnan(p90) else p90  # no one waited for it: no wait
        mean_wait = metric(f"wait_mean_days_{resource}")
        rows.append(
            {
                "capacity": capacity,
                "strategy": strategy,
                "p90_wait_days": p90,
                "mean_wait_days": 0.0 if math.isnan(mean_wait) else mean_wait,
                "waits": int(mine_resource["waits"].sum()),
                "left_queue": int(mine_resource["left_queue"].sum()),
                "utilisation": float(used.mean()) if len(used) else math.nan,
                "overrun_hours_per_year": float(overrun.mean()) if len(overrun) else math.nan,
                "os_5y": metric("os_5y"),
                "os_5y_lower_95": metric("os_5y", "lower_95"),
                "os_5y_upper_95": metric("os_5y", "upper_95"),
                "progressed_while_waiting_share": metric("progressed_while_waiting_share"),
                "treatment_changed_by_waiting_share": metric("treatment_changed_by_waiting_share"),
                "meets_target": p90 <= target,
            }
        )
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    return float(frame["p90_wait_days"].max()), frame


def search_capacity(
    scenario: Scenario, path: Path, resource: str, target: float, minimum: int = 1, maximum: int = DEFAULT_MAX_CAPACITY, progress=None
) -> CapacityAnswer:
    check_options(scenario, path, resource, target, minimum, maximum)
    frames: list[pd.DataFrame] = []

    def _evaluate(capacity: int):
        if progress is not None:
            progress(capacity - minimum, maximum - minimum + 1, f"{resource} capacity {capacity}")
        worst, frame = evaluate(scenario, path, resource, capacity, target)
        frames.append(frame)
        return worst, frame

    result = smallest_capacity(_evaluate, target, start=minimum, maximum=maximum)
    return CapacityAnswer(resource, target, result, pd.concat(frames, ignore_index=True))
